"""Lists, tags and custom fields through the published SendX SDK, unchanged."""

from __future__ import annotations

import re

import pytest
import sendx_python_sdk as sdk
from sendx_python_sdk.exceptions import ApiException

from tests.conftest import Tenant


def test_lists_round_trip(api: sdk.ApiClient) -> None:
    lists = sdk.ListApi(api)
    created = lists.create_list(sdk.RestEList(name="Customers"))
    assert re.fullmatch(r"list_[0-9A-Za-z]{22}", created.id or "")
    assert created.name == "Customers"
    assert created.type == 0
    assert created.created is not None
    assert lists.get_list(created.id).name == "Customers"
    renamed = lists.update_list(created.id, sdk.RestEList(name="Paying customers"))
    assert renamed.name == "Paying customers"
    assert renamed.updated >= created.updated
    lists.create_list(sdk.RestEList(name="Prospects"))
    assert [item.name for item in lists.get_all_lists()] == ["Paying customers", "Prospects"]
    assert [item.name for item in lists.get_all_lists(search="PROS")] == ["Prospects"]
    assert [item.name for item in lists.get_all_lists(offset=1, limit=1)] == ["Prospects"]
    deleted = lists.delete_list(created.id)
    assert deleted.status == "success"
    with pytest.raises(ApiException) as missing:
        lists.get_list(created.id)
    assert missing.value.status == 404


def test_tags_round_trip(api: sdk.ApiClient) -> None:
    tags = sdk.TagApi(api)
    vip = tags.create_tag(sdk.RestETag(name="vip"))
    assert re.fullmatch(r"tag_[0-9A-Za-z]{22}", vip.id or "")
    assert tags.get_tag(vip.id).name == "vip"
    with pytest.raises(ApiException) as duplicate:
        tags.create_tag(sdk.RestETag(name="VIP"))
    assert duplicate.value.status == 409
    assert tags.update_tag(vip.id, sdk.RestETag(name="very-important")).name == "very-important"
    tags.create_tag(sdk.RestETag(name="vip"))  # the old name is free again
    assert [t.name for t in tags.get_all_tags()] == ["very-important", "vip"]
    assert tags.delete_tag(vip.id).status == "success"
    assert [t.name for t in tags.get_all_tags()] == ["vip"]


def test_custom_fields_round_trip(api: sdk.ApiClient) -> None:
    fields = sdk.CustomFieldApi(api)
    made = {
        kind: fields.create_custom_field(sdk.RestECustomField(name=name, type=kind, description=f"a {name}"))
        for kind, name in enumerate(["Department", "Seats", "Renewal", "Trial", "Mobile"])
    }
    for kind, field in made.items():
        assert re.fullmatch(r"custom_field_[0-9A-Za-z]{22}", field.id or "")
        assert field.type == kind
    seats = made[1]
    assert fields.get_custom_field(seats.id).name == "Seats"
    # The documented `field_` form names the same field.
    assert fields.get_custom_field(seats.id.removeprefix("custom_")).id == seats.id
    updated = fields.update_custom_field(seats.id, sdk.RestECustomField(name="Licensed seats", type=1))
    assert (updated.name, updated.type, updated.description) == ("Licensed seats", 1, "a Seats")
    assert len(fields.get_all_custom_fields()) == 5
    assert [f.name for f in fields.get_all_custom_fields(search="seat")] == ["Licensed seats"]
    with pytest.raises(ApiException) as duplicate:
        fields.create_custom_field(sdk.RestECustomField(name="department", type=0))
    assert duplicate.value.status == 409
    assert fields.delete_custom_field(seats.id).status == "success"
    assert len(fields.get_all_custom_fields()) == 4


def test_a_list_is_an_audience_in_sendex_and_back(api: sdk.ApiClient, tenant: Tenant) -> None:
    made_in_sendx = sdk.ListApi(api).create_list(sdk.RestEList(name="From SendX"))
    seen = tenant.get(f"/api/v1/audiences/{made_in_sendx.id}").json()
    assert seen["name"] == "From SendX"
    assert seen["domain"] is None
    assert seen["contact_count"] == 0
    made_in_sendex = tenant.audience("From Sendex")
    assert sdk.ListApi(api).get_list(made_in_sendex["id"]).name == "From Sendex"
    tenant.contact(made_in_sendx.id, "both@example.net")
    assert tenant.get(f"/api/v1/audiences/{made_in_sendx.id}").json()["contact_count"] == 1
