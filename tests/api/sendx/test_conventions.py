"""SendX's conventions on raw HTTP: auth header, error body and codes, paging, isolation."""

from __future__ import annotations

import pytest

from tests.conftest import Tenant

ROUTES = [
    ("GET", "/list"),
    ("POST", "/list"),
    ("GET", "/list/{list}"),
    ("PUT", "/list/{list}"),
    ("DELETE", "/list/{list}"),
    ("GET", "/tag"),
    ("POST", "/tag"),
    ("GET", "/tag/{tag}"),
    ("PUT", "/tag/{tag}"),
    ("DELETE", "/tag/{tag}"),
    ("GET", "/customfield"),
    ("POST", "/customfield"),
    ("GET", "/customfield/{field}"),
    ("PUT", "/customfield/{field}"),
    ("DELETE", "/customfield/{field}"),
]
BODIES = {"/list": {"name": "L"}, "/tag": {"name": "T"}, "/customfield": {"name": "F", "type": 0}}


def seed(tenant: Tenant) -> dict[str, str]:
    return {
        "list": tenant.sendx("POST", "/list", json={"name": "Mine"}).json()["id"],
        "tag": tenant.sendx("POST", "/tag", json={"name": "mine"}).json()["id"],
        "field": tenant.sendx("POST", "/customfield", json={"name": "Mine", "type": 0}).json()["id"],
    }


def body_for(route: str) -> dict[str, object]:
    return BODIES["/" + route.split("/")[1]]


@pytest.mark.parametrize(("method", "route"), ROUTES)
def test_every_route_needs_a_full_access_team_key(tenant: Tenant, method: str, route: str) -> None:
    path = route.format(**seed(tenant))
    kwargs = {"json": body_for(route)} if method in ("POST", "PUT") else {}
    missing = tenant.client.request(method, f"/api/v1/rest{path}", **kwargs)
    assert missing.status_code == 401
    assert missing.json() == {"status": "error", "message": "missing API key"}
    assert tenant.sendx(method, path, token="sk_nope", **kwargs).status_code == 401
    bearer_only = tenant.client.request(
        method, f"/api/v1/rest{path}", headers={"Authorization": f"Bearer {tenant.token}"}, **kwargs
    )
    assert bearer_only.status_code == 401
    sending = tenant.sendx(method, path, token=tenant.key("sending_access"), **kwargs)
    assert sending.status_code == 403
    assert sending.json()["status"] == "error"


@pytest.mark.parametrize(("method", "route"), [r for r in ROUTES if "{" in r[1]])
def test_other_teams_ids_are_404(tenant: Tenant, other: Tenant, method: str, route: str) -> None:
    theirs = seed(other)
    kwargs = {"json": body_for(route)} if method == "PUT" else {}
    response = tenant.sendx(method, route.format(**theirs), **kwargs)
    assert response.status_code == 404
    assert response.json()["status"] == "error"
    assert other.sendx("GET", route.format(**theirs)).json()["name"] in ("Mine", "mine")


def test_bad_input_is_400_and_bad_json_is_422(tenant: Tenant) -> None:
    for path, bad in [
        ("/list", {"name": 5}),
        ("/list", {"name": "L", "type": 2}),
        ("/list", {"name": "   "}),
        ("/list", {"type": 0}),
        ("/tag", {}),
        ("/tag", {"name": "x" * 256}),
        ("/customfield", {"name": "F"}),
        ("/customfield", {"name": "F", "type": 9}),
        ("/customfield", {"name": "F", "type": "text"}),
        ("/customfield", {"name": "F", "type": 0, "colour": "red"}),
    ]:
        response = tenant.sendx("POST", path, json=bad)
        assert response.status_code == 400, (path, bad, response.text)
        assert response.json()["status"] == "error"
        assert response.json()["message"]
    malformed = tenant.sendx(
        "POST", "/tag", content=b'{"name": ', headers={"Content-Type": "application/json"}
    )
    assert malformed.status_code == 422
    assert malformed.json()["status"] == "error"
    assert tenant.sendx("GET", "/tag").json() == []


def test_duplicates_are_409(tenant: Tenant) -> None:
    tenant.sendx("POST", "/tag", json={"name": "Hot"})
    clash = tenant.sendx("POST", "/tag", json={"name": " hot "})
    assert clash.status_code == 409
    assert clash.json() == {"status": "error", "message": "a tag named `hot` already exists"}
    other = tenant.sendx("POST", "/tag", json={"name": "cold"}).json()
    assert tenant.sendx("PUT", f"/tag/{other['id']}", json={"name": "HOT"}).status_code == 409


def test_paging_limits(tenant: Tenant) -> None:
    for i in range(12):
        tenant.sendx("POST", "/tag", json={"name": f"t{i:02d}"})
    assert len(tenant.sendx("GET", "/tag").json()) == 10
    assert len(tenant.sendx("GET", "/tag", params={"limit": 100}).json()) == 12
    assert [t["name"] for t in tenant.sendx("GET", "/tag", params={"offset": 11}).json()] == ["t11"]
    assert [
        t["name"] for t in tenant.sendx("GET", "/tag", params={"search": "t_"}).json()
    ] == []  # `_` is literal
    for params in [{"limit": 0}, {"limit": 101}, {"offset": -1}, {"limit": "x"}, {"search": "t"}]:
        response = tenant.sendx("GET", "/tag", params=params)
        assert response.status_code == 400, params
        assert response.json()["status"] == "error"


def test_unknown_routes_answer_in_sendx_shape(tenant: Tenant) -> None:
    response = tenant.sendx("GET", "/nothing")
    assert response.status_code == 404
    assert response.json() == {"status": "error", "message": "no route for GET /api/v1/rest/nothing"}
    assert tenant.sendx("PATCH", "/tag").status_code == 405
