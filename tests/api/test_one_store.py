"""One store seen through three dialects: the same objects, IDs, memberships and consent."""

from __future__ import annotations

from typing import Any

from tests.conftest import Tenant


def views(tenant: Tenant, audience_id: str, contact_id: str) -> dict[str, Any]:
    return {
        "sendex": tenant.get(f"/api/v1/audiences/{audience_id}/contacts/{contact_id}"),
        "sendx": tenant.sendx("GET", f"/contact/{contact_id}"),
        "v1": tenant.v1("GET", f"/contacts/{contact_id}"),
    }


def same_person(tenant: Tenant, audience_id: str, contact_id: str, email: str, first: str) -> None:
    seen = {name: response.json() for name, response in views(tenant, audience_id, contact_id).items()}
    assert {view["id"] for view in seen.values()} == {contact_id}
    assert {view["email"] for view in seen.values()} == {email}
    assert seen["sendex"]["first_name"] == seen["sendx"]["firstName"] == seen["v1"]["firstName"] == first
    assert seen["sendx"]["lists"] == [audience_id]


def test_a_contact_made_in_each_dialect_is_the_same_everywhere(tenant: Tenant) -> None:
    audience = tenant.audience("Everyone")
    via_sendex = tenant.contact(audience["id"], "one@example.com", first_name="One")
    same_person(tenant, audience["id"], via_sendex["id"], "one@example.com", "One")

    via_sendx = tenant.sendx(
        "POST", "/contact", json={"email": "two@example.com", "firstName": "Two", "lists": [audience["id"]]}
    ).json()
    same_person(tenant, audience["id"], via_sendx["id"], "two@example.com", "Two")

    via_v1 = tenant.v1("POST", "/contacts", json={"email": "three@example.com", "firstName": "Three"}).json()
    tenant.v1("POST", f"/audiences/{audience['id']}/contacts", json={"contactIds": [via_v1["id"]]})
    same_person(tenant, audience["id"], via_v1["id"], "three@example.com", "Three")

    counts = {
        tenant.get(f"/api/v1/audiences/{audience['id']}").json()["contact_count"],
        tenant.v1("GET", f"/audiences/{audience['id']}").json()["contactCount"],
        len(tenant.v1("GET", f"/audiences/{audience['id']}/contacts").json()["data"]),
    }
    assert counts == {3}
    assert tenant.sendx("GET", f"/list/{audience['id']}").json()["name"] == "Everyone"


def test_unsubscribing_on_the_page_shows_everywhere(tenant: Tenant) -> None:
    audience = tenant.audience("Weekly")
    person = tenant.contact(audience["id"], "leaver@example.com")
    tenant.client.post(
        person["unsubscribe_url"].removeprefix("http://roster.test"), data={"action": "everything"}
    )
    assert (
        tenant.get(f"/api/v1/audiences/{audience['id']}/contacts/{person['id']}").json()["subscribed"]
        is False
    )
    assert tenant.sendx("GET", f"/contact/{person['id']}").json()["unsubscribed"] is True


def test_deleting_through_any_dialect_deletes_everywhere(tenant: Tenant) -> None:
    audience = tenant.audience("Short-lived")
    for deleter in ("sendex", "sendx", "v1"):
        person = tenant.contact(audience["id"], f"gone-{deleter}@example.com")
        if deleter == "sendex":
            tenant.delete(f"/api/v1/audiences/{audience['id']}/contacts/{person['id']}")
        elif deleter == "sendx":
            tenant.sendx("DELETE", f"/contact/{person['id']}")
        else:
            tenant.v1("DELETE", f"/contacts/{person['id']}")
        statuses = {
            name: response.status_code
            for name, response in views(tenant, audience["id"], person["id"]).items()
        }
        assert statuses == {"sendex": 404, "sendx": 404, "v1": 404}, deleter
    assert tenant.v1("GET", f"/audiences/{audience['id']}").json()["contactCount"] == 0


def test_an_audience_is_a_list_is_a_v1_audience(tenant: Tenant) -> None:
    via_v1 = tenant.v1("POST", "/audiences", json={"name": "From v1", "description": "notes"}).json()
    assert tenant.sendx("GET", f"/list/{via_v1['id']}").json()["name"] == "From v1"
    assert tenant.get(f"/api/v1/audiences/{via_v1['id']}").json()["name"] == "From v1"
    tenant.sendx("PUT", f"/list/{via_v1['id']}", json={"name": "Renamed in SendX"})
    assert tenant.v1("GET", f"/audiences/{via_v1['id']}").json()["name"] == "Renamed in SendX"
    assert tenant.delete(f"/api/v1/audiences/{via_v1['id']}").status_code == 200
    assert tenant.v1("GET", f"/audiences/{via_v1['id']}").status_code == 404
    assert tenant.sendx("GET", f"/list/{via_v1['id']}").status_code == 404
