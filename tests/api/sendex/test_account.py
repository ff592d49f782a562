from __future__ import annotations

from tests.conftest import Tenant


def test_domains_lifecycle(tenant: Tenant) -> None:
    created = tenant.post("/api/v1/domains", json={"name": "News.Example.ORG."})
    assert created.status_code == 201
    domain = created.json()
    assert domain["id"].startswith("domain_")
    assert domain["name"] == "news.example.org"
    assert domain["status"] == "pending"
    record, dkim = domain["records"]
    assert record["type"] == "TXT"
    assert record["name"] == "_roster.news.example.org"
    assert record["value"].startswith("roster-verification=")
    assert len(record["value"]) > len("roster-verification=") + 20
    # The DKIM key's public half, to publish; the private half is never shown.
    assert dkim["type"] == "TXT"
    assert dkim["name"].endswith("._domainkey.news.example.org")
    assert dkim["value"].startswith("v=DKIM1; k=rsa; p=MIIB")
    assert "PRIVATE" not in created.text

    names = [d["name"] for d in tenant.get("/api/v1/domains").json()["data"]]
    assert names == ["example.com", "news.example.org"]
    assert tenant.get(f"/api/v1/domains/{domain['id']}").json() == domain
    duplicate = tenant.post("/api/v1/domains", json={"name": "news.example.org"})
    assert duplicate.status_code == 409
    assert duplicate.json()["name"] == "conflict"
    for bad in ["", "not a domain", "-bad.com", "a..b", "x" * 300 + ".com", "localhost", "1.2.3.4"]:
        response = tenant.post("/api/v1/domains", json={"name": bad})
        assert response.status_code == 422, bad
        assert "name" in response.json()["message"]

    assert tenant.delete(f"/api/v1/domains/{domain['id']}").json() == {"id": domain["id"]}
    assert tenant.get(f"/api/v1/domains/{domain['id']}").status_code == 404


def test_a_domain_with_audiences_cannot_be_deleted(tenant: Tenant) -> None:
    audience = tenant.audience()
    refused = tenant.delete(f"/api/v1/domains/{tenant.domain_id}")
    assert refused.status_code == 409
    assert "audiences" in refused.json()["message"]
    tenant.delete(f"/api/v1/audiences/{audience['id']}")
    assert tenant.delete(f"/api/v1/domains/{tenant.domain_id}").status_code == 200


def test_verify_without_the_record_stays_pending(tenant: Tenant) -> None:
    domain = tenant.post("/api/v1/domains", json={"name": "unpublished.invalid"}).json()
    response = tenant.post(f"/api/v1/domains/{domain['id']}/verify")
    assert response.status_code == 200
    assert response.json()["status"] == "pending"


def test_api_keys_are_shown_once_and_can_be_revoked(tenant: Tenant) -> None:
    created = tenant.post("/api/v1/api-keys", json={"name": "CI", "permission": "sending_access"})
    assert created.status_code == 201
    key = created.json()
    assert key["id"].startswith("key_")
    assert key["token"].startswith("sk_")
    assert key["permission"] == "sending_access"
    listed = tenant.get("/api/v1/api-keys").json()["data"]
    assert [k["name"] for k in listed] == ["test", "CI"]
    assert all("token" not in k for k in listed)
    assert listed[1]["token_hint"] == key["token"][-4:]
    assert key["token"] not in tenant.get("/api/v1/api-keys").text

    default = tenant.post("/api/v1/api-keys", json={}).json()
    assert default["permission"] == "full_access"
    assert tenant.get("/api/v1/domains", token=default["token"]).status_code == 200
    assert tenant.delete(f"/api/v1/api-keys/{default['id']}").json() == {"id": default["id"]}
    revoked = tenant.get("/api/v1/domains", token=default["token"])
    assert revoked.status_code == 401
    assert [k["revoked"] for k in tenant.get("/api/v1/api-keys").json()["data"]] == [False, False, True]

    bad = tenant.post("/api/v1/api-keys", json={"permission": "root"})
    assert bad.status_code == 422
    assert "permission" in bad.json()["message"]
