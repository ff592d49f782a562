"""Another team's IDs behave exactly like IDs that do not exist."""

from __future__ import annotations

import pytest

from tests.api.sendex.test_auth import ROUTES, seed_objects
from tests.conftest import Tenant


@pytest.fixture
def theirs(other: Tenant) -> dict[str, str]:
    return seed_objects(other, "private@example.net")


BODIES = {
    "/api/v1/audiences/{audience}/contacts": {"email": "intruder@example.net"},
    "/api/v1/audiences/{audience}/contacts/{contact}": {"first_name": "Mallory"},
    "/api/v1/audiences/{audience}/contacts/{contact}/topics": {"topic_id": "{topic}", "subscribed": False},
    "/api/v1/audiences/{audience}/topics": {"name": "Hijack"},
    "/api/v1/audiences/{audience}/topics/{topic}": {"name": "Hijack"},
}


@pytest.mark.parametrize(("method", "route"), [r for r in ROUTES if "{" in r[1]])
def test_other_teams_ids_are_404(
    tenant: Tenant, other: Tenant, theirs: dict[str, str], method: str, route: str
) -> None:
    path = route.format(**theirs)
    body = {k: (v.format(**theirs) if isinstance(v, str) else v) for k, v in BODIES.get(route, {}).items()}
    response = (
        tenant.request(method, path, json=body)
        if method in ("POST", "PATCH")
        else tenant.request(method, path)
    )
    assert response.status_code == 404, response.text
    assert response.json()["name"] == "not_found"

    # The other team still sees its objects unchanged.
    contact = other.get(f"/api/v1/audiences/{theirs['audience']}/contacts/{theirs['contact']}").json()
    assert contact["first_name"] is None
    assert contact["email"] == "private@example.net"
    assert other.get(f"/api/v1/audiences/{theirs['audience']}/topics").json()["data"][0]["name"] == "T"
    assert other.get(f"/api/v1/domains/{theirs['domain']}").status_code == 200
    keys = other.get("/api/v1/api-keys").json()["data"]
    assert not any(k["revoked"] for k in keys)


def test_lists_show_only_own_objects(tenant: Tenant, other: Tenant, theirs: dict[str, str]) -> None:
    assert tenant.get("/api/v1/audiences?domain=example.com").json()["total"] == 0
    assert [d["id"] for d in tenant.get("/api/v1/domains").json()["data"]] == [tenant.domain_id]
    assert len(tenant.get("/api/v1/api-keys").json()["data"]) == 1
    # The same email in two teams is two contacts.
    mine = tenant.contact(tenant.audience()["id"], "private@example.net")
    assert mine["id"] != theirs["contact"]
