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


def test_a_failed_verification_says_why(tenant: Tenant, settings: Settings, db: Database) -> None:
    domain = tenant.post("/api/v1/domains", json={"name": "why.test"}).json()
    record = domain["records"][0]
    records: dict[str, list[str]] = {}
    with txt_server(records, {record["name"]: ["192.0.2.1"]}) as nameserver:
        app = create_app(replace(settings, dns_nameserver=nameserver), db)
        with TestClient(app, base_url="http://roster.test") as client:

            def verify() -> dict[str, str]:
                response = client.post(
                    f"/api/v1/domains/{domain['id']}/verify",
                    headers={"Authorization": f"Bearer {tenant.token}"},
                )
                assert response.status_code == 200
                return response.json()

            no_txt = verify()
            records[record["name"]] = ["v=something-else"]
            wrong = verify()
            del records[record["name"]]
            with txt_server({}) as empty:  # a server that knows no name at all
                app2 = create_app(replace(settings, dns_nameserver=empty), db)
                with TestClient(app2, base_url="http://roster.test") as other:
                    missing = other.post(
                        f"/api/v1/domains/{domain['id']}/verify",
                        headers={"Authorization": f"Bearer {tenant.token}"},
                    ).json()
    silent = create_app(replace(settings, dns_nameserver="127.0.0.1:9"), db)  # nothing listens there
    with TestClient(silent, base_url="http://roster.test") as client:
        unanswered = client.post(
            f"/api/v1/domains/{domain['id']}/verify", headers={"Authorization": f"Bearer {tenant.token}"}
        ).json()

    assert no_txt["status"] == "pending"
    assert no_txt["status_reason"] == f"{record['name']} exists but has no TXT record"
    assert wrong["status_reason"] == f"the TXT records at {record['name']} do not include {record['value']}"
    assert "NXDOMAIN" in missing["status_reason"]
    assert "did not answer" in unanswered["status_reason"] or "no DNS server" in unanswered["status_reason"]
    # A plain read says nothing of the last attempt; a verified domain has no reason.
    assert "status_reason" not in tenant.get(f"/api/v1/domains/{domain['id']}").json()
