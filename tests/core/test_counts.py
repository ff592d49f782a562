"""Kept audience counters equal a fresh count after every kind of membership change."""

from __future__ import annotations

from roster.storage.db import Database
from tests.conftest import Tenant, counts_drift


def test_counters_follow_every_membership_change(tenant: Tenant, db: Database) -> None:
    one, two = tenant.audience("One"), tenant.audience("Two")
    people = [tenant.contact(one["id"], f"c{i}@example.net") for i in range(6)]
    tenant.contact(two["id"], "c0@example.net")
    tenant.contact(two["id"], "c1@example.net", subscribed=False)
    base = f"/api/v1/audiences/{one['id']}/contacts"
    tenant.patch(f"{base}/{people[1]['id']}", json={"subscribed": False})
    tenant.patch(f"{base}/{people[1]['id']}", json={"subscribed": False})  # no change
    tenant.contact(one["id"], "c2@example.net", subscribed=False)
    tenant.contact(one["id"], "c2@example.net", subscribed=True)
    tenant.delete(f"{base}/{people[3]['id']}")
    tenant.delete(f"{base}/{people[0]['id']}")  # still in `two`
    page = people[4]["unsubscribe_url"].removeprefix("http://roster.test")
    tenant.client.post(page, data={"action": "everything"})
    tenant.client.post(
        people[5]["unsubscribe_url"].removeprefix("http://roster.test"),
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert counts_drift(db) == []
    assert tenant.get(f"/api/v1/audiences/{one['id']}").json()["contact_count"] == 4
    assert tenant.get(base).json()["total"] == 4
    topic = tenant.post(f"/api/v1/audiences/{one['id']}/topics", json={"name": "All"}).json()
    assert topic["subscriber_count"] == 1  # only c2: c1 left, c4 left everything, c5 one-clicked
    tenant.delete(f"/api/v1/audiences/{one['id']}")
    assert counts_drift(db) == []
    assert tenant.get(f"/api/v1/audiences/{two['id']}").json()["contact_count"] == 2
