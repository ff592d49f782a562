from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.conftest import Tenant

# The vendor's fields, and ``pending`` (extension: double opt-in).
CONTACT_FIELDS = {
    "id",
    "email",
    "first_name",
    "last_name",
    "subscribed",
    "created_at",
    "unsubscribe_url",
    "pending",
}


def contacts_path(audience_id: str) -> str:
    return f"/api/v1/audiences/{audience_id}/contacts"


def test_add_creates_then_updates_by_email(tenant: Tenant) -> None:
    audience = tenant.audience()
    first = tenant.post(
        contacts_path(audience["id"]),
        json={"email": "alice@example.net", "first_name": "Alice", "last_name": "Smith"},
    )
    assert first.status_code == 201
    alice = first.json()
    assert set(alice) == CONTACT_FIELDS
    assert alice["id"].startswith("contact_")
    assert alice["email"] == "alice@example.net"
    assert alice["subscribed"] is True
    assert alice["unsubscribe_url"].startswith("http://roster.test/unsubscribe/")
    assert "alice" not in alice["unsubscribe_url"]

    again = tenant.post(
        contacts_path(audience["id"]), json={"email": "  ALICE@Example.NET ", "last_name": "Jones"}
    )
    assert again.status_code == 200
    updated = again.json()
    assert updated["id"] == alice["id"]
    assert updated["first_name"] == "Alice"  # not sent, so kept
    assert updated["last_name"] == "Jones"
    assert updated["created_at"] == alice["created_at"]
    assert tenant.get(f"/api/v1/audiences/{audience['id']}").json()["contact_count"] == 1


def test_subscribed_defaults_true_and_is_kept_on_update(tenant: Tenant) -> None:
    audience = tenant.audience()
    bob = tenant.contact(audience["id"], "bob@example.net", subscribed=False)
    assert bob["subscribed"] is False
    readded = tenant.contact(audience["id"], "bob@example.net", first_name="Bob")
    assert readded["subscribed"] is False  # re-adding without `subscribed` does not resubscribe
    resubscribed = tenant.contact(audience["id"], "bob@example.net", subscribed=True)
    assert resubscribed["subscribed"] is True


def test_same_contact_in_two_audiences_has_one_id(tenant: Tenant) -> None:
    one, two = tenant.audience("One"), tenant.audience("Two")
    a = tenant.contact(one["id"], "carol@example.net")
    response = tenant.post(contacts_path(two["id"]), json={"email": "carol@example.net"})
    assert response.status_code == 201  # new to this audience
    b = response.json()
    assert b["id"] == a["id"]
    assert b["unsubscribe_url"] != a["unsubscribe_url"]


def test_get_patch_and_delete(tenant: Tenant) -> None:
    audience = tenant.audience()
    dave = tenant.contact(audience["id"], "dave@example.net", first_name="Dave", last_name="Doe")
    path = f"{contacts_path(audience['id'])}/{dave['id']}"
    assert tenant.get(path).json() == dave

    patched = tenant.patch(path, json={"subscribed": False})
    assert patched.status_code == 200
    assert patched.json() == {**dave, "subscribed": False}
    renamed = tenant.patch(path, json={"first_name": "David", "last_name": None}).json()
    assert renamed["first_name"] == "David"
    assert renamed["last_name"] is None
    assert renamed["subscribed"] is False

    deleted = tenant.delete(path)
    assert deleted.status_code == 200
    assert deleted.json() == {"id": dave["id"]}
    assert tenant.get(path).status_code == 404
    assert tenant.get(f"/api/v1/audiences/{audience['id']}").json()["contact_count"] == 0


def test_delete_keeps_a_contact_used_by_another_audience(tenant: Tenant) -> None:
    one, two = tenant.audience("One"), tenant.audience("Two")
    erin = tenant.contact(one["id"], "erin@example.net", first_name="Erin")
    tenant.contact(two["id"], "erin@example.net")
    assert tenant.delete(f"{contacts_path(one['id'])}/{erin['id']}").status_code == 200
    assert tenant.get(f"{contacts_path(one['id'])}/{erin['id']}").status_code == 404
    kept = tenant.get(f"{contacts_path(two['id'])}/{erin['id']}").json()
    assert kept["first_name"] == "Erin"


def test_patch_rejects_bad_fields(tenant: Tenant) -> None:
    audience = tenant.audience()
    frank = tenant.contact(audience["id"], "frank@example.net")
    path = f"{contacts_path(audience['id'])}/{frank['id']}"
    for body, field in [
        ({"subscribed": "yes"}, "subscribed"),
        ({"subscribed": None}, "subscribed"),
        ({"first_name": 3}, "first_name"),
        ({"email": "new@example.net"}, "email"),
        ({"first_name": "x" * 256}, "first_name"),
    ]:
        response = tenant.patch(path, json=body)
        assert response.status_code == 422, body
        assert response.json()["name"] == "validation_error"
        assert field in response.json()["message"]
    assert tenant.get(path).json() == frank


@pytest.mark.parametrize(
    "email",
    [
        "",
        "   ",
        "plainaddress",
        "@example.net",
        "a@",
        "a b@example.net",
        "a@example..net",
        ("x" * 64) + "@" + ("d" * 60 + ".") * 4 + "com",  # longer than 254
    ],
)
def test_add_rejects_invalid_emails(tenant: Tenant, email: str) -> None:
    audience = tenant.audience()
    response = tenant.post(contacts_path(audience["id"]), json={"email": email})
    assert response.status_code == 422
    body = response.json()
    assert body == {"statusCode": 422, "name": "validation_error", "message": body["message"]}
    assert "email" in body["message"]
    assert tenant.get(f"/api/v1/audiences/{audience['id']}").json()["contact_count"] == 0


def test_add_rejects_bad_bodies(tenant: Tenant) -> None:
    audience = tenant.audience()
    path = contacts_path(audience["id"])
    for body, field in [
        ({}, "email"),
        ({"email": 42}, "email"),
        ({"email": "g@example.net", "subscribed": "true"}, "subscribed"),
        ({"email": "g@example.net", "first_name": ["G"]}, "first_name"),
    ]:
        response = tenant.post(path, json=body)
        assert response.status_code == 422, body
        assert field in response.json()["message"]
    for raw in [b"{not json", b"", b"[1, 2]", b'"text"']:
        response = tenant.post(path, content=raw, headers={"Content-Type": "application/json"})
        assert response.status_code in (400, 422), raw
        assert response.json()["statusCode"] == response.status_code
    assert (
        tenant.post(path, content=b"{oops", headers={"Content-Type": "application/json"}).status_code == 400
    )
    assert tenant.get(f"/api/v1/audiences/{audience['id']}").json()["contact_count"] == 0


def test_list_pages_oldest_first_with_defaults_and_limits(tenant: Tenant) -> None:
    audience = tenant.audience()
    emails = [f"p{i:02d}@example.net" for i in range(55)]
    ids = [tenant.contact(audience["id"], email)["id"] for email in emails]
    path = contacts_path(audience["id"])

    first = tenant.get(path).json()
    assert (first["total"], first["limit"], first["offset"]) == (55, 50, 0)
    assert [c["id"] for c in first["data"]] == ids[:50]
    assert set(first["data"][0]) == CONTACT_FIELDS
    second = tenant.get(path, params={"limit": 50, "offset": 50}).json()
    assert [c["email"] for c in second["data"]] == emails[50:]
    assert tenant.get(path, params={"limit": 1, "offset": 54}).json()["data"][0]["id"] == ids[54]
    assert tenant.get(path, params={"limit": 200, "offset": 1000}).json()["data"] == []

    for params in [
        {"limit": 0},
        {"limit": 201},
        {"limit": -1},
        {"offset": -1},
        {"limit": "ten"},
        {"offset": "x"},
    ]:
        response = tenant.get(path, params=params)
        assert response.status_code == 422, params
        assert response.json()["name"] == "validation_error"
        assert next(iter(params)) in response.json()["message"]


def test_list_shows_only_this_audience(tenant: Tenant) -> None:
    one, two = tenant.audience("One"), tenant.audience("Two")
    tenant.contact(one["id"], "only-one@example.net")
    tenant.contact(two["id"], "only-two@example.net")
    listed = tenant.get(contacts_path(one["id"])).json()
    assert [c["email"] for c in listed["data"]] == ["only-one@example.net"]
    assert listed["total"] == 1


def test_unknown_contact_and_audience_are_404(tenant: Tenant) -> None:
    audience = tenant.audience()
    for path in [
        f"{contacts_path(audience['id'])}/contact_0000000000000000000000",
        f"{contacts_path('list_0000000000000000000000')}/contact_0000000000000000000000",
    ]:
        for method in ("GET", "PATCH", "DELETE"):
            kwargs = {"json": {"subscribed": True}} if method == "PATCH" else {}
            response = tenant.request(method, path, **kwargs)
            assert response.status_code == 404, (method, path)
            assert response.json()["name"] == "not_found"
    response = tenant.post(contacts_path("list_0000000000000000000000"), json={"email": "h@example.net"})
    assert response.status_code == 404


def test_concurrent_upserts_of_one_email_make_one_contact(live_server: str, tenant: Tenant) -> None:
    audience = tenant.audience()
    url = f"{live_server}{contacts_path(audience['id'])}"
    headers = {"Authorization": f"Bearer {tenant.token}"}

    def add(i: int) -> httpx.Response:
        return httpx.post(
            url, json={"email": "Race@Example.net", "first_name": f"R{i}"}, headers=headers, timeout=30
        )

    with ThreadPoolExecutor(max_workers=20) as pool:
        responses = list(pool.map(add, range(20)))
    assert sorted(r.status_code for r in responses) == [200] * 19 + [201]
    assert len({r.json()["id"] for r in responses}) == 1
    listed = tenant.get(contacts_path(audience["id"])).json()
    assert listed["total"] == 1
