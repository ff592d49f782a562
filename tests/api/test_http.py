from __future__ import annotations

from litestar import Litestar
from litestar.testing import TestClient

from roster import __version__
from tests.conftest import Tenant


def test_health_and_readiness(client: TestClient[Litestar]) -> None:
    assert client.get("/healthz").json() == {"status": "ok", "version": __version__}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok", "database": "ok"}


def test_unknown_routes_and_wrong_methods_answer_json(client: TestClient[Litestar], tenant: Tenant) -> None:
    sendex = tenant.get("/api/v1/nothing-here")
    assert sendex.status_code == 404
    assert sendex.headers["content-type"].startswith("application/json")
    assert sendex.json() == {
        "statusCode": 404,
        "name": "not_found",
        "message": "no route for GET /api/v1/nothing-here",
    }

    wrong = tenant.request("PUT", "/api/v1/domains")
    assert wrong.status_code == 405
    assert wrong.json()["name"] == "method_not_allowed"

    elsewhere = client.get("/no/such/page")
    assert elsewhere.status_code == 404
    assert elsewhere.headers["content-type"].startswith("application/json")
    assert elsewhere.json()["statusCode"] == 404


def test_openapi_describes_the_sendex_dialect(client: TestClient[Litestar]) -> None:
    schema = client.get("/docs/openapi.json").json()
    paths = schema["paths"]
    for path in [
        "/api/v1/audiences",
        "/api/v1/audiences/{audience_id}",
        "/api/v1/audiences/{audience_id}/contacts",
        "/api/v1/audiences/{audience_id}/contacts/{contact_id}",
        "/api/v1/audiences/{audience_id}/contacts/{contact_id}/topics",
        "/api/v1/audiences/{audience_id}/topics",
        "/api/v1/audiences/{audience_id}/topics/{topic_id}",
        "/api/v1/domains",
        "/api/v1/domains/{domain_id}/verify",
        "/api/v1/api-keys",
        "/api/v1/api-keys/{key_id}",
    ]:
        assert path in paths, path
    assert not any(path.startswith("/unsubscribe") for path in paths)
    page = client.get("/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
