"""Bodies that are not valid UTF-8 JSON, or nest absurdly deep, are refused in each dialect's
shape, never a 5xx."""

from __future__ import annotations

import pytest

from tests.conftest import Tenant

BAD_UTF8 = b'{"name": "caf\\xc3", "email": "a\\xff@example.com"}'.replace(b"\\xc3", b"\xc3").replace(
    b"\\xff", b"\xff"
)
DEEP = b'{"name": "x", "rules": ' + b"[" * 10_000 + b"]" * 10_000 + b"}"


def _calls(tenant: Tenant) -> list[tuple[str, str, str, dict[str, str]]]:
    audience = tenant.audience()["id"]
    return [
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


@pytest.mark.parametrize("body", [BAD_UTF8, DEEP], ids=["invalid UTF-8", "10,000 deep"])
def test_broken_bodies_are_refused_in_every_dialect(tenant: Tenant, body: bytes) -> None:
    json_type = {"Content-Type": "application/json"}
    for dialect, method, path, headers in _calls(tenant):
        response = tenant.client.request(method, path, content=body, headers={**headers, **json_type})
        assert 400 <= response.status_code < 500, (path, response.status_code, response.text)
        shape = response.json()
        if dialect == "sendx":
            assert shape["status"] == "error", path
        else:
            assert shape["statusCode"] == response.status_code, path


def test_control_characters_in_text_are_refused_and_nothing_is_written(tenant: Tenant) -> None:
    nul = "\u0000"
    sendx = tenant.sendx("POST", "/contact", json={"email": "nul@example.net", "firstName": f"A{nul}B"})
    assert sendx.status_code == 400, sendx.text
    assert "firstName" in sendx.json()["message"]
    assert "control characters" in sendx.json()["message"]
    sendex = tenant.post("/api/v1/audiences", json={"name": f"News{nul}", "domain": "example.com"})
    assert (sendex.status_code, sendex.json()["name"]) == (422, "validation_error")
    v1 = tenant.v1("POST", "/contacts", json={"email": "nul@example.net", "lastName": f"x{chr(7)}"})
    assert v1.status_code == 400
    assert "lastName" in v1.json()["message"]
    nested = tenant.sendx(
        "POST", "/contact", json={"email": "nul@example.net", "customFields": {"field_x": f"a{nul}"}}
    )
    assert nested.status_code == 400
    assert "customFields.field_x" in nested.json()["message"]
    assert tenant.sendx("GET", "/contact/nul@example.net").status_code == 404
    # Tabs and line breaks are text, not control characters to refuse.
    fine = tenant.sendx("POST", "/contact", json={"email": "tab@example.net", "firstName": "A\tB"})
    assert fine.status_code in (200, 201), fine.text


@pytest.mark.parametrize("amount", ["1e308", "1e400", "-1e308", "10000000000000"])
def test_revenue_beyond_any_sum_is_refused_and_counts_nothing(tenant: Tenant, amount: str) -> None:
    contact = tenant.sendx("POST", "/contact", json={"email": "rich@example.net"}).json()
    body = f'{{"identifier": "rich@example.net", "amount": {amount}}}'.encode()
    response = tenant.sendx(
        "POST", "/events/revenue", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400, response.text
    assert "amount" in response.json()["message"]
    assert tenant.sendx("GET", f"/contact/{contact['id']}").json()["ltv"] == 0


@pytest.mark.parametrize(
    "media",
    ["text/plain", "application/x-www-form-urlencoded", "application/xml", "multipart/form-data; boundary=x"],
)
def test_a_body_that_is_not_json_by_its_content_type_is_a_415_in_every_dialect(
    tenant: Tenant, media: str
) -> None:
    body = b'{"name": "Typed", "email": "typed@example.com", "domain": "example.com"}'
    for dialect, method, path, headers in _calls(tenant):
        response = tenant.client.request(
            method, path, content=body, headers={**headers, "Content-Type": media}
        )
        assert response.status_code == 415, (path, response.status_code, response.text)
        shape = response.json()
        assert "application/json" in shape["message"], path
        if dialect == "sendx":
            assert shape["status"] == "error", path
        else:
            assert shape["statusCode"] == 415, path
    assert [made["name"] for made in tenant.sendx("GET", "/list").json()] == ["Newsletter"]  # _calls made it
    assert tenant.v1("GET", "/contacts").json()["total"] == 0


def test_json_by_any_of_its_names_or_by_none_is_read(tenant: Tenant) -> None:
    headers = {"X-Team-ApiKey": tenant.token}
    for number, media in enumerate(["application/json; charset=utf-8", "application/vnd.api+json", None]):
        typed = {**headers, "Content-Type": media} if media else headers
        body = f'{{"email": "json{number}@example.com"}}'.encode()
        response = tenant.client.post("/api/v1/rest/contact", content=body, headers=typed)
        assert response.status_code == 201, (media, response.text)
