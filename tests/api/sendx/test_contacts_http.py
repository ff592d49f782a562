"""SendX contacts on raw HTTP: validation, codes, atomicity and isolation."""

from __future__ import annotations

import pytest

from tests.conftest import Tenant


@pytest.fixture
def fields(tenant: Tenant) -> dict[str, str]:
    made = {}
    for name, kind in [("Text", 0), ("Number", 1), ("Date", 2), ("Bool", 3), ("Phone", 4)]:
        made[name] = tenant.sendx("POST", "/customfield", json={"name": name, "type": kind}).json()["id"]
    return {name: value.removeprefix("custom_") for name, value in made.items()}


def test_custom_values_are_checked_by_type(tenant: Tenant, fields: dict[str, str]) -> None:
    good = {
        fields["Text"]: "hello",
        fields["Number"]: "42.50",
        fields["Date"]: "2026-02-28",
        fields["Bool"]: "TRUE",
        fields["Phone"]: "+44 20 7946 0958",
    }
    made = tenant.sendx("POST", "/contact", json={"email": "typed@example.com", "customFields": good})
    assert made.status_code == 201, made.text
    assert made.json()["customFields"] == {
        fields["Text"]: "hello",
        fields["Number"]: "42.50",
        fields["Date"]: "2026-02-28",
        fields["Bool"]: "true",
        fields["Phone"]: "+442079460958",
    }
    for name, bad in [
        ("Text", "x" * 256),
        ("Number", "forty"),
        ("Date", "2026-02-30"),
        ("Date", "28/02/2026"),
        ("Bool", "yes"),
        ("Phone", "call me"),
    ]:
        response = tenant.sendx(
            "POST", "/contact", json={"email": f"bad-{name}@example.com", "customFields": {fields[name]: bad}}
        )
        assert response.status_code == 400, (name, bad)
        assert fields[name] in response.json()["message"]
    unknown = tenant.sendx(
        "POST",
        "/contact",
        json={"email": "u@example.com", "customFields": {"field_0000000000000000000000": "x"}},
    )
    assert unknown.status_code == 400
    assert len(tenant.sendx("GET", "/contact").json()) == 1  # nothing half written


def test_lists_must_exist_and_tags_are_created(tenant: Tenant) -> None:
    missing = tenant.sendx("POST", "/contact", json={"email": "a@example.com", "lists": ["Nope"]})
    assert missing.status_code == 400
    assert "Nope" in missing.json()["message"]
    bad_tag_id = tenant.sendx(
        "POST", "/contact", json={"email": "a@example.com", "tags": ["tag_0000000000000000000000"]}
    )
    assert bad_tag_id.status_code == 400
    assert tenant.sendx("GET", "/tag").json() == []
    made = tenant.sendx(
        "POST", "/contact", json={"email": "a@example.com", "tags": ["Fresh", "fresh"]}
    ).json()
    assert [t["name"] for t in tenant.sendx("GET", "/tag").json()] == ["Fresh"]
    assert len(made["tags"]) == 1


def test_contact_errors(tenant: Tenant) -> None:
    assert tenant.sendx("POST", "/contact", json={"firstName": "No email"}).status_code == 400
    assert tenant.sendx("POST", "/contact", json={"email": "not-an-email"}).status_code == 400
    assert (
        tenant.sendx("POST", "/contact", json={"email": "a@example.com", "firstName": 7}).status_code == 400
    )
    assert (
        tenant.sendx("POST", "/contact", json={"email": "a@example.com", "nickname": "x"}).status_code == 400
    )
    bad_json = tenant.sendx("POST", "/contact", content=b"{", headers={"Content-Type": "application/json"})
    assert bad_json.status_code == 422
    tenant.sendx("POST", "/contact", json={"email": "a@example.com"})
    clash = tenant.sendx("POST", "/contact", json={"email": " A@EXAMPLE.COM "})
    assert clash.status_code == 409
    assert clash.json()["status"] == "error"
    other = tenant.sendx("POST", "/contact", json={"email": "b@example.com"}).json()
    assert tenant.sendx("PUT", f"/contact/{other['id']}", json={"email": "a@example.com"}).status_code == 409
    assert tenant.sendx("GET", "/contact/nobody@example.com").status_code == 404
    assert tenant.sendx("GET", "/contact", params={"search": "a"}).status_code == 400
    assert tenant.sendx("GET", "/contact", params={"limit": 101}).status_code == 400


def test_identify_bulk_is_all_or_nothing(tenant: Tenant) -> None:
    items = [{"email": f"bulk{i}@example.com", "firstName": f"B{i}"} for i in range(3)]
    bad = [
        *items,
        {"email": "broken"},
        {"email": "bulk9@example.com", "customFields": {"field_0000000000000000000000": "x"}},
    ]
    refused = tenant.sendx("POST", "/contact/identify/bulk", json=bad)
    assert refused.status_code == 400
    message = refused.json()["message"]
    assert "item 3" in message
    assert "item 4" in message
    assert tenant.sendx("GET", "/contact").json() == []
    assert tenant.sendx("GET", "/tag").json() == []

    done = tenant.sendx("POST", "/contact/identify/bulk", json=items)
    assert done.status_code == 200
    results = done.json()
    assert [r["created"] for r in results] == [True, True, True]
    assert len(tenant.sendx("GET", "/contact").json()) == 3
    again = tenant.sendx("POST", "/contact/identify/bulk", json=items[:1]).json()
    assert again[0]["created"] is False
    assert again[0]["contactId"] == results[0]["contactId"]
    too_many = [{"email": f"m{i}@example.com"} for i in range(26)]
    assert tenant.sendx("POST", "/contact/identify/bulk", json=too_many).status_code == 400


CONTACT_ROUTES = [
    ("GET", "/contact/{contact}", None),
    ("PUT", "/contact/{contact}", {"company": "Hijack"}),
    ("DELETE", "/contact/{contact}", None),
    ("POST", "/contact/unsubscribe/{contact}", None),
    ("POST", "/contact/track", {"email": "{email}", "addTags": ["x"]}),
    ("POST", "/events/custom", {"identifier": "{contact}", "name": "x"}),
    ("POST", "/events/revenue", {"identifier": "{email}", "amount": 5}),
]


@pytest.mark.parametrize(("method", "route", "payload"), CONTACT_ROUTES)
def test_other_teams_contacts_are_404(
    tenant: Tenant, other: Tenant, method: str, route: str, payload: dict[str, object] | None
) -> None:
    theirs = other.sendx("POST", "/contact", json={"email": "theirs@example.com", "company": "Theirs"}).json()
    names = {"contact": theirs["id"], "email": "theirs@example.com"}
    body = {k: v.format(**names) if isinstance(v, str) else v for k, v in (payload or {}).items()}
    response = tenant.sendx(method, route.format(**names), **({"json": body} if payload else {}))
    assert response.status_code == 404, response.text
    kept = other.sendx("GET", f"/contact/{theirs['id']}").json()
    assert (kept["company"], kept["unsubscribed"], kept["tags"], kept["ltv"]) == ("Theirs", False, [], 0)


def test_other_teams_lists_tags_and_fields_cannot_be_referenced(tenant: Tenant, other: Tenant) -> None:
    their_list = other.sendx("POST", "/list", json={"name": "Theirs"}).json()["id"]
    their_tag = other.sendx("POST", "/tag", json={"name": "theirs"}).json()["id"]
    their_field = other.sendx("POST", "/customfield", json={"name": "Theirs", "type": 0}).json()["id"]
    for body in [
        {"email": "x@example.com", "lists": [their_list]},
        {"email": "x@example.com", "lists": ["Theirs"]},
        {"email": "x@example.com", "tags": [their_tag]},
        {"email": "x@example.com", "customFields": {their_field: "v"}},
    ]:
        response = tenant.sendx("POST", "/contact", json=body)
        assert response.status_code == 400, body
    assert tenant.sendx("GET", "/contact").json() == []
