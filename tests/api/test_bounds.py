"""Paging numbers past any team's size are refused in each dialect's shape, never a 5xx."""

from __future__ import annotations

import pytest

from tests.conftest import Tenant

HUGE = (2**63, 2**63 - 1, 10**30, 1_000_000_001)


@pytest.mark.parametrize("value", HUGE)
def test_offsets_and_pages_beyond_any_team_are_a_clear_400(tenant: Tenant, value: int) -> None:
    audience = tenant.audience()["id"]
    sendx = [f"/api/v1/rest/{path}?offset={value}" for path in ("contact", "list", "tag", "campaign")]
    for path in sendx:
        response = tenant.client.get(path, headers={"X-Team-ApiKey": tenant.token})
        assert response.status_code == 400, (path, response.text)
        assert response.json()["status"] == "error"
        assert "offset" in response.json()["message"]
    sendex = tenant.get(f"/api/v1/audiences/{audience}/contacts?offset={value}")
    assert sendex.status_code == 422, sendex.text
    assert sendex.json()["name"] == "validation_error"
    for path in ("/v1/audiences", f"/v1/audiences/{audience}/contacts", "/v1/contacts"):
        response = tenant.get(f"{path}?page={value}")
        assert response.status_code == 400, (path, response.text)
        assert response.json()["statusCode"] == 400


def test_the_largest_offset_and_page_allowed_answer_an_empty_page(tenant: Tenant) -> None:
    assert tenant.sendx("GET", "/contact?offset=1000000000").json() == []
    assert tenant.v1("GET", "/contacts?page=10000000&limit=100").json()["data"] == []
