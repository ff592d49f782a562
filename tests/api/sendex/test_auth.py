from __future__ import annotations

import pytest

from tests.conftest import Tenant

ROUTES = [
    ("GET", "/api/v1/audiences?domain=example.com"),
    ("POST", "/api/v1/audiences"),
    ("GET", "/api/v1/audiences/{audience}"),
    ("DELETE", "/api/v1/audiences/{audience}"),
    ("GET", "/api/v1/audiences/{audience}/contacts"),
    ("POST", "/api/v1/audiences/{audience}/contacts"),
    ("GET", "/api/v1/audiences/{audience}/contacts/{contact}"),
    ("PATCH", "/api/v1/audiences/{audience}/contacts/{contact}"),
    ("DELETE", "/api/v1/audiences/{audience}/contacts/{contact}"),
    ("GET", "/api/v1/audiences/{audience}/contacts/{contact}/topics"),
    ("PATCH", "/api/v1/audiences/{audience}/contacts/{contact}/topics"),
    ("GET", "/api/v1/audiences/{audience}/topics"),
    ("POST", "/api/v1/audiences/{audience}/topics"),
    ("GET", "/api/v1/audiences/{audience}/topics/{topic}"),
    ("PATCH", "/api/v1/audiences/{audience}/topics/{topic}"),
    ("DELETE", "/api/v1/audiences/{audience}/topics/{topic}"),
    ("GET", "/api/v1/domains"),
    ("POST", "/api/v1/domains"),
    ("GET", "/api/v1/domains/{domain}"),
    ("DELETE", "/api/v1/domains/{domain}"),
    ("POST", "/api/v1/domains/{domain}/verify"),
    ("GET", "/api/v1/api-keys"),
    ("POST", "/api/v1/api-keys"),
    ("DELETE", "/api/v1/api-keys/{key}"),
]


def seed_objects(tenant: Tenant, email: str) -> dict[str, str]:
    """One object of every kind the routes name, in the tenant's team; their IDs by kind."""
    audience = tenant.audience()
    contact = tenant.contact(audience["id"], email)
    topic = tenant.post(f"/api/v1/audiences/{audience['id']}/topics", json={"name": "T"}).json()
    key = tenant.post("/api/v1/api-keys", json={"name": "spare"}).json()
    return {
        "audience": audience["id"],
        "contact": contact["id"],
        "topic": topic["id"],
        "domain": tenant.domain_id,
        "key": key["id"],
    }


@pytest.fixture
def ids(tenant: Tenant) -> dict[str, str]:
    return seed_objects(tenant, "auth@example.net")


@pytest.mark.parametrize(("method", "route"), ROUTES)
def test_every_route_needs_a_valid_full_access_key(
    tenant: Tenant, ids: dict[str, str], method: str, route: str
) -> None:
    path = route.format(**ids)
    body = {"json": {}} if method in ("POST", "PATCH") else {}

    missing = tenant.client.request(method, path, **body)
    assert missing.status_code == 401
    assert missing.json() == {"statusCode": 401, "name": "missing_api_key", "message": "missing API key"}

    wrong_scheme = tenant.client.request(
        method, path, headers={"Authorization": f"Basic {tenant.token}"}, **body
    )
    assert wrong_scheme.status_code == 401

    unknown = tenant.request(method, path, token="sk_" + "x" * 40, **body)
    assert unknown.status_code == 401
    assert unknown.json()["name"] == "invalid_api_key"

    sending = tenant.request(method, path, token=tenant.key("sending_access"), **body)
    assert sending.status_code == 403
    assert sending.json()["name"] == "restricted_api_key"
    assert sending.json()["statusCode"] == 403

    # Nothing was changed by the refused calls.
    assert tenant.get(f"/api/v1/audiences/{ids['audience']}/contacts/{ids['contact']}").status_code == 200


def test_a_revoked_key_is_refused(tenant: Tenant) -> None:
    key = tenant.post("/api/v1/api-keys", json={"name": "short-lived"}).json()
    assert tenant.get("/api/v1/domains", token=key["token"]).status_code == 200
    tenant.delete(f"/api/v1/api-keys/{key['id']}")
    response = tenant.get("/api/v1/domains", token=key["token"])
    assert response.status_code == 401
    assert response.json()["name"] == "invalid_api_key"
