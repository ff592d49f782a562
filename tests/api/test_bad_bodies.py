"""Bodies that are not valid UTF-8 JSON, or nest absurdly deep, are refused in each dialect's
shape, never a 5xx."""

from __future__ import annotations

import pytest

from tests.conftest import Tenant

BAD_UTF8 = b'{"name": "caf\\xc3", "email": "a\\xff@example.com"}'.replace(b"\\xc3", b"\xc3").replace(
    b"\\xff", b"\xff"
)
DEEP = b'{"name": "x", "rules": ' + b"[" * 10_000 + b"]" * 10_000 + b"}"


@pytest.mark.parametrize("body", [BAD_UTF8, DEEP], ids=["invalid UTF-8", "10,000 deep"])
def test_broken_bodies_are_refused_in_every_dialect(tenant: Tenant, body: bytes) -> None:
    json_type = {"Content-Type": "application/json"}
    audience = tenant.audience()["id"]
    calls = [
        ("sendx", "POST", "/api/v1/rest/list", {"X-Team-ApiKey": tenant.token}),
        ("sendx", "POST", "/api/v1/rest/contact", {"X-Team-ApiKey": tenant.token}),
        ("sendx", "POST", "/api/v1/rest/contact/identify/bulk", {"X-Team-ApiKey": tenant.token}),
        ("sendx", "POST", "/api/v1/rest/segment", {"X-Team-ApiKey": tenant.token}),
        ("sendex", "POST", "/api/v1/audiences", {"Authorization": f"Bearer {tenant.token}"}),
        (
            "sendex",
            "POST",
            f"/api/v1/audiences/{audience}/contacts",
            {"Authorization": f"Bearer {tenant.token}"},
        ),
        ("v1", "POST", "/v1/contacts", {"Authorization": f"Bearer {tenant.token}"}),
        ("v1", "POST", "/v1/audiences", {"Authorization": f"Bearer {tenant.token}"}),
    ]
    for dialect, method, path, headers in calls:
        response = tenant.client.request(method, path, content=body, headers={**headers, **json_type})
        assert 400 <= response.status_code < 500, (path, response.status_code, response.text)
        shape = response.json()
        if dialect == "sendx":
            assert shape["status"] == "error", path
        else:
            assert shape["statusCode"] == response.status_code, path
