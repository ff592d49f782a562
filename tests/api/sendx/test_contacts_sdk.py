"""Contacts, identify, track and events through the published SendX SDK, unchanged."""

from __future__ import annotations

import re

import pytest
import sendx_python_sdk as sdk
from sendx_python_sdk.exceptions import ApiException

from tests.conftest import Tenant


@pytest.fixture
def setup(api: sdk.ApiClient) -> dict[str, str]:
    lists, tags, fields = sdk.ListApi(api), sdk.TagApi(api), sdk.CustomFieldApi(api)
    return {
        "customers": lists.create_list(sdk.RestEList(name="Customers")).id,
        "trial": lists.create_list(sdk.RestEList(name="Trial")).id,
        "vip": tags.create_tag(sdk.RestETag(name="vip")).id,
        "dept": fields.create_custom_field(sdk.RestECustomField(name="Department", type=0)).id,
        "seats": fields.create_custom_field(sdk.RestECustomField(name="Seats", type=1)).id,
        "renewal": fields.create_custom_field(sdk.RestECustomField(name="Renewal", type=2)).id,
    }


def field_key(custom_field_id: str) -> str:
    return custom_field_id.removeprefix("custom_")


def test_contact_round_trip(api: sdk.ApiClient, setup: dict[str, str]) -> None:
    contacts = sdk.ContactApi(api)
    created = contacts.create_contact(
        sdk.RestEContact(
            email="Jane@Example.com",
            first_name="Jane",
            last_name="Smith",
            company="Example Corp",
            lists=[setup["customers"], "trial"],
            tags=[setup["vip"], "new_user"],
            custom_fields={field_key(setup["dept"]): "Sales", field_key(setup["seats"]): "12"},
            last_tracked_ip="203.0.113.42",
        )
    )
    assert re.fullmatch(r"contact_[0-9A-Za-z]{22}", created.id or "")
    assert created.email == "Jane@Example.com"
    assert (created.first_name, created.last_name, created.company) == ("Jane", "Smith", "Example Corp")
    assert sorted(created.lists or []) == sorted([setup["customers"], setup["trial"]])
    assert setup["vip"] in (created.tags or [])
    assert len(created.tags or []) == 2  # "new_user" was created
    assert created.custom_fields == {field_key(setup["dept"]): "Sales", field_key(setup["seats"]): "12"}
    assert created.unsubscribed is False
    assert created.contact_source == 1
    assert created.ltv == 0
    assert created.last_tracked_ip == "203.0.113.42"

    assert contacts.get_contact(created.id).email == "Jane@Example.com"
    assert contacts.get_contact("jane@example.com").id == created.id

    updated = contacts.update_contact(
        created.id, sdk.RestEContact(email="jane@example.com", company="New Corp", lists=["Customers"])
    )
    assert updated.company == "New Corp"
    assert updated.first_name == "Jane"  # not sent, kept
    assert updated.lists == [setup["customers"]]

    contacts.create_contact(
        sdk.RestEContact(email="john.doe@example.com", first_name="John", last_name="Doe")
    )
    assert [c.email for c in contacts.get_all_contacts()] == ["jane@example.com", "john.doe@example.com"]
    assert [c.email for c in contacts.get_all_contacts(search="DOE")] == ["john.doe@example.com"]
    assert [c.email for c in contacts.get_all_contacts(search="smi")] == ["jane@example.com"]
    assert [c.email for c in contacts.get_all_contacts(offset=1, limit=1)] == ["john.doe@example.com"]

    with pytest.raises(ApiException) as duplicate:
        contacts.create_contact(sdk.RestEContact(email="JANE@example.com"))
    assert duplicate.value.status == 409

    assert contacts.unsubscribe_contact(created.id).status == "success"
    assert contacts.get_contact(created.id).unsubscribed is True
    assert contacts.delete_contact(created.id).status == "success"
    with pytest.raises(ApiException) as gone:
        contacts.get_contact(created.id)
    assert gone.value.status == 404


def test_identify_is_additive_and_track_changes_tags(api: sdk.ApiClient, setup: dict[str, str]) -> None:
    tracking = sdk.TrackingApi(api)
    first = tracking.identify_contact(
        sdk.IdentifyRequest(
            email="sam@example.com",
            first_name="Sam",
            tags=["lead"],
            custom_fields={field_key(setup["renewal"]): "2027-01-31"},
        )
    )
    assert first.status == "success"
    tracking.identify_contact(sdk.IdentifyRequest(email="SAM@example.com", last_name="Stone", tags=["vip"]))
    sam = sdk.ContactApi(api).get_contact("sam@example.com")
    assert (sam.first_name, sam.last_name) == ("Sam", "Stone")  # the first call's name is kept
    assert len(sam.tags or []) == 2
    assert sam.custom_fields == {field_key(setup["renewal"]): "2027-01-31"}

    tracking.identify_contact(sdk.IdentifyRequest(email="sam@example.com", new_email="samuel@example.com"))
    assert sdk.ContactApi(api).get_contact("samuel@example.com").id == sam.id

    assert tracking.track_contact(
        sdk.TrackRequest(email="samuel@example.com", add_tags=["paid"], remove_tags=["lead"])
    )
    names = {
        sdk.TagApi(api).get_tag(tag_id).name for tag_id in sdk.ContactApi(api).get_contact(sam.id).tags or []
    }
    assert names == {"vip", "paid"}


def test_events_and_revenue(api: sdk.ApiClient) -> None:
    contact = sdk.ContactApi(api).create_contact(sdk.RestEContact(email="buyer@example.com"))
    events = sdk.EventsApi(api)
    custom = events.track_custom_event(
        sdk.CustomEventRequest(identifier=contact.id, name="signed_up", data={"plan": "pro"}, time=1767225600)
    )
    assert custom.status == "success"
    events.track_revenue_event(
        sdk.RevenueEventRequest(identifier="buyer@example.com", amount=75.5, source="stripe")
    )
    events.track_revenue_event(sdk.RevenueEventRequest(identifier="buyer@example.com", amount=20))
    assert sdk.ContactApi(api).get_contact(contact.id).ltv == 9550
    with pytest.raises(ApiException) as unknown:
        events.track_revenue_event(sdk.RevenueEventRequest(identifier="nobody@example.com", amount=1))
    assert unknown.value.status == 404


def test_a_sendx_contact_is_the_same_contact_in_sendex(api: sdk.ApiClient, tenant: Tenant) -> None:
    made = sdk.ContactApi(api).create_contact(
        sdk.RestEContact(email="shared@example.com", first_name="Shared")
    )
    audience = tenant.audience("Sendex side")
    seen = tenant.contact(audience["id"], "SHARED@example.com")
    assert seen["id"] == made.id
    assert seen["first_name"] == "Shared"
    assert sdk.ContactApi(api).get_contact(made.id).lists == [audience["id"]]
