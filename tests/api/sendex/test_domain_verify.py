from __future__ import annotations

from dataclasses import replace

from litestar.testing import TestClient

from roster.api.app import create_app
from roster.config import Settings
from roster.storage.db import Database
from tests.conftest import Tenant
from tests.dns_server import txt_server


def test_verify_over_http_finds_the_published_record(
    tenant: Tenant, settings: Settings, db: Database
) -> None:
    domain = tenant.post("/api/v1/domains", json={"name": "published.test"}).json()
    record = domain["records"][0]
    pending = tenant.post("/api/v1/audiences", json={"name": "Early", "domain": "published.test"})
    assert pending.status_code == 422

    with txt_server({record["name"]: [record["value"]]}) as nameserver:
        app = create_app(replace(settings, dns_nameserver=nameserver), db)
        with TestClient(app, base_url="http://roster.test") as client:
            response = client.post(
                f"/api/v1/domains/{domain['id']}/verify", headers={"Authorization": f"Bearer {tenant.token}"}
            )
    assert response.status_code == 200
    assert response.json()["status"] == "verified"
    assert (
        tenant.post("/api/v1/audiences", json={"name": "Now", "domain": "published.test"}).status_code == 201
    )
