"""The Audiences v1 dialect: every endpoint, its limits, bad input and isolation."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Tenant

AUDIENCE_FIELDS = {  # the vendor's fields, and two extensions for double opt-in
    "id", "name", "description", "organizationId", "contactCount", "createdAt", "updatedAt",
    "doubleOptIn", "pendingCount",
}  # fmt: skip


def make_contacts(tenant: Tenant, count: int, prefix: str = "v") -> list[dict[str, Any]]:
    made = []
    for i in range(count):
        response = tenant.v1(
            "POST", "/contacts", json={"email": f"{prefix}{i}@example.com", "firstName": f"F{i}"}
        )
        assert response.status_code == 201, response.text
        made.append(response.json())
    return made


def test_audience_crud(tenant: Tenant) -> None:
    created = tenant.v1(
        "POST", "/audiences", json={"name": "Mumbai Premium", "description": "Premium customers"}
    )
    assert created.status_code == 201
    audience = created.json()
    assert set(audience) == AUDIENCE_FIELDS
    assert audience["organizationId"] == tenant.id
    assert audience["contactCount"] == 0
    assert audience["description"] == "Premium customers"
    assert tenant.v1("GET", f"/audiences/{audience['id']}").json() == audience

    renamed = tenant.v1(
        "PATCH", f"/audiences/{audience['id']}", json={"name": "Mumbai Premium - March"}
    ).json()
    assert renamed["name"] == "Mumbai Premium - March"
    assert renamed["description"] == "Premium customers"
    assert renamed["updatedAt"] >= audience["updatedAt"]
    cleared = tenant.v1("PATCH", f"/audiences/{audience['id']}", json={"description": None}).json()
    assert cleared["description"] is None

    assert tenant.v1("DELETE", f"/audiences/{audience['id']}").json() == {"success": True}
    assert tenant.v1("GET", f"/audiences/{audience['id']}").status_code == 404


def test_audience_pages(tenant: Tenant) -> None:
    for i in range(25):
        tenant.v1("POST", "/audiences", json={"name": f"A{i:02d}"})
    first = tenant.v1("GET", "/audiences").json()
    assert (first["total"], first["page"], first["limit"], first["totalPages"]) == (25, 1, 20, 2)
    assert [a["name"] for a in first["data"]] == [f"A{i:02d}" for i in range(20)]
    second = tenant.v1("GET", "/audiences", params={"page": 2}).json()
    assert [a["name"] for a in second["data"]] == [f"A{i:02d}" for i in range(20, 25)]
    assert tenant.v1("GET", "/audiences", params={"page": 3, "limit": 10}).json()["data"][0]["name"] == "A20"
    assert tenant.v1("GET", "/audiences", params={"page": 9}).json()["data"] == []
    for params in [{"page": 0}, {"page": -1}, {"limit": 0}, {"limit": 101}, {"limit": 1000}, {"page": "x"}]:
        response = tenant.v1("GET", "/audiences", params=params)
        assert response.status_code == 400, params
        body = response.json()
        assert body["statusCode"] == 400
        assert body["error"] == "Bad Request"
        assert next(iter(params)) in body["message"]


def test_membership_by_ids(tenant: Tenant) -> None:
    audience = tenant.v1("POST", "/audiences", json={"name": "Members"}).json()
    people = make_contacts(tenant, 5)
    ids = [p["id"] for p in people]
    path = f"/audiences/{audience['id']}/contacts"

    added = tenant.v1("POST", path, json={"contactIds": ids[:3]})
    assert added.status_code == 200
    assert added.json() == {"id": audience["id"], "contactCount": 3}
    again = tenant.v1("POST", path, json={"contactIds": ids[:4]})  # idempotent for the first three
    assert again.json()["contactCount"] == 4
    inside = tenant.v1("GET", path).json()
    assert [c["id"] for c in inside["data"]] == ids[:4]
    assert inside["total"] == 4
    assert tenant.v1("GET", path, params={"search": "v3@"}).json()["data"][0]["id"] == ids[3]
    available = tenant.v1("GET", f"/audiences/{audience['id']}/available-contacts").json()
    assert [c["id"] for c in available["data"]] == [ids[4]]
    assert available["total"] == 1

    removed = tenant.v1("DELETE", path, json={"contactIds": [ids[0]]})
    assert removed.json()["contactCount"] == 3
    removed = tenant.v1("POST", f"{path}/remove", json={"contactIds": [ids[1]]})
    assert removed.json()["contactCount"] == 2
    assert tenant.v1("GET", f"/contacts/{ids[0]}").status_code == 200  # removing keeps the contact
    assert tenant.v1("GET", f"/audiences/{audience['id']}").json()["contactCount"] == 2
    assert tenant.v1("GET", f"/audiences/{audience['id']}/available-contacts").json()["total"] == 3


def test_membership_refuses_bad_ids_as_a_whole(tenant: Tenant, other: Tenant) -> None:
    audience = tenant.v1("POST", "/audiences", json={"name": "Strict"}).json()
    mine = make_contacts(tenant, 2)
    theirs = make_contacts(other, 1, prefix="o")
    path = f"/audiences/{audience['id']}/contacts"
    for body, needle in [
        ({"contactIds": [mine[0]["id"], "contact_0000000000000000000000"]}, "contact_0000000000000000000000"),
        ({"contactIds": [mine[1]["id"], theirs[0]["id"]]}, theirs[0]["id"]),
        ({"contactIds": "not-a-list"}, "contactIds"),
        ({"contactIds": []}, "contact"),
        ({"contactIds": [f"contact_{i:022d}" for i in range(1001)]}, "1000"),
        ({}, "contactIds"),
    ]:
        response = tenant.v1("POST", path, json=body)
        assert response.status_code == 400, body
        assert needle in response.json()["message"]
    malformed = tenant.v1("POST", path, content=b"{", headers={"Content-Type": "application/json"})
    assert malformed.status_code == 400
    assert malformed.json()["error"] == "Bad Request"
    assert tenant.v1("GET", f"/audiences/{audience['id']}").json()["contactCount"] == 0


def test_contacts_extension(tenant: Tenant) -> None:
    made = tenant.v1(
        "POST",
        "/contacts",
        json={"email": "ravi@example.com", "firstName": "Ravi", "phone": "+91 98765 43210"},
    )
    assert made.status_code == 201
    ravi = made.json()
    assert set(ravi) == {
        "id",
        "email",
        "firstName",
        "lastName",
        "phone",
        "organizationId",
        "createdAt",
        "updatedAt",
    }
    assert ravi["phone"] == "+919876543210"
    assert tenant.v1("POST", "/contacts", json={"email": "RAVI@example.com"}).status_code == 409
    assert (
        tenant.v1("POST", "/contacts", json={"email": "x@example.com", "phone": "call me"}).status_code == 400
    )
    patched = tenant.v1("PATCH", f"/contacts/{ravi['id']}", json={"lastName": "Kumar"}).json()
    assert (patched["firstName"], patched["lastName"]) == ("Ravi", "Kumar")
    listed = tenant.v1("GET", "/contacts", params={"search": "kumar"}).json()
    assert [c["id"] for c in listed["data"]] == [ravi["id"]]
    assert listed["total"] == 1
    assert tenant.v1("DELETE", f"/contacts/{ravi['id']}").json() == {"success": True}
    assert tenant.v1("GET", f"/contacts/{ravi['id']}").status_code == 404


ROUTES = [
    ("GET", "/audiences/{audience}", None),
    ("PATCH", "/audiences/{audience}", {"name": "Hijack"}),
    ("DELETE", "/audiences/{audience}", None),
    ("GET", "/audiences/{audience}/contacts", None),
    ("GET", "/audiences/{audience}/available-contacts", None),
    ("POST", "/audiences/{audience}/contacts", {"contactIds": ["{contact}"]}),
    ("DELETE", "/audiences/{audience}/contacts", {"contactIds": ["{contact}"]}),
    ("POST", "/audiences/{audience}/contacts/remove", {"contactIds": ["{contact}"]}),
    ("GET", "/contacts/{contact}", None),
    ("PATCH", "/contacts/{contact}", {"firstName": "Hijack"}),
    ("DELETE", "/contacts/{contact}", None),
]


@pytest.mark.parametrize(("method", "route", "payload"), ROUTES)
def test_other_organizations_are_invisible(
    tenant: Tenant, other: Tenant, method: str, route: str, payload: dict[str, Any] | None
) -> None:
    audience = other.v1("POST", "/audiences", json={"name": "Theirs"}).json()
    contact = make_contacts(other, 1, prefix="their")[0]
    other.v1("POST", f"/audiences/{audience['id']}/contacts", json={"contactIds": [contact["id"]]})
    names = {"audience": audience["id"], "contact": contact["id"]}
    body = (
        None
        if payload is None
        else {k: [x.format(**names) for x in v] if isinstance(v, list) else v for k, v in payload.items()}
    )
    response = tenant.v1(method, route.format(**names), **({"json": body} if body is not None else {}))
    assert response.status_code == 404, response.text
    assert response.json()["error"] == "Not Found"
    assert other.v1("GET", f"/audiences/{audience['id']}").json()["contactCount"] == 1
    assert other.v1("GET", f"/contacts/{contact['id']}").json()["firstName"] == "F0"
    missing = tenant.client.get(f"/v1{route.format(**names)}")
    assert missing.status_code in (401, 405)
