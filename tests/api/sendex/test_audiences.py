from __future__ import annotations

from tests.conftest import Tenant


def test_create_get_list_and_delete_an_audience(tenant: Tenant) -> None:
    created = tenant.post("/api/v1/audiences", json={"name": "  Newsletter ", "domain": "Example.COM"})
    assert created.status_code == 201
    body = created.json()
    assert body["id"].startswith("list_")
    assert len(body["id"]) == len("list_") + 22
    assert body["name"] == "Newsletter"
    assert body["domain"] == "example.com"
    assert body["contact_count"] == 0
    assert body["created_at"].endswith("Z")
    assert set(body) == {
        "id",
        "name",
        "domain",
        "contact_count",
        "created_at",
        "double_opt_in",
        "pending_count",
    }

    assert tenant.get(f"/api/v1/audiences/{body['id']}").json() == body
    listed = tenant.get("/api/v1/audiences", params={"domain": "example.com"}).json()
    assert listed == {"data": [body], "total": 1}

    deleted = tenant.delete(f"/api/v1/audiences/{body['id']}")
    assert deleted.status_code == 200
    assert deleted.json() == {"id": body["id"]}
    assert tenant.get(f"/api/v1/audiences/{body['id']}").status_code == 404
    assert tenant.get("/api/v1/audiences", params={"domain": "example.com"}).json() == {
        "data": [],
        "total": 0,
    }


def test_list_is_per_domain_and_requires_the_domain(tenant: Tenant) -> None:
    tenant.post("/api/v1/domains", json={"name": "other.org"})
    tenant.audience("A")
    tenant.audience("B")
    missing = tenant.get("/api/v1/audiences")
    assert missing.status_code == 422
    assert missing.json()["name"] == "validation_error"
    assert "domain" in missing.json()["message"]
    names = [a["name"] for a in tenant.get("/api/v1/audiences?domain=example.com").json()["data"]]
    assert names == ["A", "B"]
    assert tenant.get("/api/v1/audiences?domain=other.org").json() == {"data": [], "total": 0}
    unknown = tenant.get("/api/v1/audiences?domain=nowhere.net")
    assert unknown.status_code == 404
    assert "nowhere.net" in unknown.json()["message"]


def test_contact_count_is_exact(tenant: Tenant) -> None:
    audience = tenant.audience()
    for i in range(7):
        tenant.contact(audience["id"], f"person{i}@example.net")
    tenant.contact(audience["id"], "PERSON0@example.net")  # an update, not a new contact
    assert tenant.get(f"/api/v1/audiences/{audience['id']}").json()["contact_count"] == 7
    listed = tenant.get("/api/v1/audiences?domain=example.com").json()["data"]
    assert listed[0]["contact_count"] == 7


def test_create_requires_a_verified_domain_of_this_team(tenant: Tenant, other: Tenant) -> None:
    tenant.post("/api/v1/domains", json={"name": "pending.io"})
    pending = tenant.post("/api/v1/audiences", json={"name": "N", "domain": "pending.io"})
    assert pending.status_code == 422
    assert "not verified" in pending.json()["message"]
    other.post("/api/v1/domains", json={"name": "theirs.io"})
    foreign = tenant.post("/api/v1/audiences", json={"name": "N", "domain": "theirs.io"})
    assert foreign.status_code == 422
    assert "theirs.io" in foreign.json()["message"]
    assert "domain" in foreign.json()["message"]


def test_create_rejects_bad_bodies(tenant: Tenant) -> None:
    cases = [
        ({"domain": "example.com"}, "name"),
        ({"name": "N"}, "domain"),
        ({"name": "", "domain": "example.com"}, "name"),
        ({"name": 5, "domain": "example.com"}, "name"),
        ({"name": "x" * 256, "domain": "example.com"}, "name"),
        ({"name": "N", "domain": "example.com", "colour": "red"}, "colour"),
        ({"name": "N", "domain": "not a domain"}, "domain"),
    ]
    for body, field in cases:
        response = tenant.post("/api/v1/audiences", json=body)
        assert response.status_code == 422, body
        error = response.json()
        assert error["statusCode"] == 422
        assert error["name"] == "validation_error"
        assert field in error["message"], (body, error)
    malformed = tenant.post(
        "/api/v1/audiences", content=b'{"name": "N",', headers={"Content-Type": "application/json"}
    )
    assert malformed.status_code == 400
    assert malformed.json()["name"] == "invalid_json"
    assert tenant.get("/api/v1/audiences?domain=example.com").json()["total"] == 0


def test_delete_cascades_to_topics_memberships_and_unused_contacts(tenant: Tenant) -> None:
    kept, doomed = tenant.audience("Kept"), tenant.audience("Doomed")
    shared = tenant.contact(doomed["id"], "shared@example.net")
    tenant.contact(kept["id"], "shared@example.net")
    alone = tenant.contact(doomed["id"], "alone@example.net")
    topic = tenant.post(f"/api/v1/audiences/{doomed['id']}/topics", json={"name": "Weekly"}).json()

    assert tenant.delete(f"/api/v1/audiences/{doomed['id']}").status_code == 200

    assert tenant.get(f"/api/v1/audiences/{doomed['id']}/topics/{topic['id']}").status_code == 404
    assert tenant.get(f"/api/v1/audiences/{doomed['id']}/contacts/{alone['id']}").status_code == 404
    survivor = tenant.get(f"/api/v1/audiences/{kept['id']}/contacts/{shared['id']}")
    assert survivor.status_code == 200
    assert tenant.get(f"/api/v1/audiences/{kept['id']}").json()["contact_count"] == 1
    # The contact left in no audience is gone: adding the email again makes a new contact.
    again = tenant.contact(kept["id"], "alone@example.net")
    assert again["id"] != alone["id"]


def test_unknown_audience_is_404(tenant: Tenant) -> None:
    for path in ["/api/v1/audiences/list_0000000000000000000000", "/api/v1/audiences/garbage"]:
        response = tenant.get(path)
        assert response.status_code == 404
        assert response.json()["name"] == "not_found"
        assert tenant.delete(path).status_code == 404
