"""Segment rules, each operator against a seeded set of contacts, evaluated live."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import update

from roster.storage.db import Database
from roster.storage.tables import contacts
from tests.conftest import Tenant


@pytest.fixture
def seeded(tenant: Tenant, db: Database) -> dict[str, Any]:
    """Four contacts with names, companies, typed custom values, tags, lists, topics and ltv."""

    def made(path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = tenant.sendx("POST", path, json=body)
        assert response.status_code == 201, response.text
        return dict(response.json())

    fields = {
        name: made("/customfield", {"name": name, "type": kind})["id"].removeprefix("custom_")
        for name, kind in (("plan", 0), ("seats", 1), ("renewal", 2), ("trial", 3))
    }
    audience = tenant.audience()
    topic = tenant.post(
        f"/api/v1/audiences/{audience['id']}/topics",
        json={"name": "Product news", "default_subscribed": "auto"},
    ).json()
    people = {
        "ada": {
            "email": "ada@analytical.org",
            "firstName": "Ada",
            "lastName": "Lovelace",
            "company": "Engines Ltd",
            "tags": ["vip"],
            "customFields": {
                fields["plan"]: "Gold",
                fields["seats"]: 12,
                fields["renewal"]: "2026-03-01",
                fields["trial"]: False,
            },
        },
        "alan": {
            "email": "alan@bletchley.uk",
            "firstName": "Alan",
            "lastName": "Turing",
            "company": "Bletchley",
            "customFields": {
                fields["plan"]: "Silver",
                fields["seats"]: 3,
                fields["renewal"]: "2025-12-31",
                fields["trial"]: True,
            },
        },
        "grace": {
            "email": "grace@navy.mil",
            "firstName": "Grace",
            "lastName": "Hopper",
            "company": "US Navy",
            "tags": ["vip"],
        },
        "odd": {
            "email": "odd%_@example.com",
            "firstName": "O'Brien; DROP TABLE contacts;--",
            "lastName": "x",
        },
    }
    ids = {name: made("/contact", body)["id"] for name, body in people.items()}
    tenant.contact(audience["id"], "ada@analytical.org")
    tenant.contact(audience["id"], "grace@navy.mil")
    choice = f"/api/v1/audiences/{audience['id']}/contacts/{ids['grace']}/topics"
    assert tenant.patch(choice, json={"topic_id": topic["id"], "subscribed": False}).status_code == 200
    db.run_write(
        lambda conn: conn.execute(
            update(contacts).where(contacts.c.id == ids["alan"]).values(ltv=5000, bounced=True)
        )
    )
    tags = {t["name"]: t["id"] for t in tenant.sendx("GET", "/tag").json()}
    return {"ids": ids, "fields": fields, "audience": audience["id"], "topic": topic["id"], "tags": tags}


def matches(tenant: Tenant, seeded: dict[str, Any], rules: dict[str, Any]) -> set[str]:
    created = tenant.sendx(
        "POST", "/segment", json={"name": f"s{id(rules)}-{len(str(rules))}", "rules": rules}
    )
    assert created.status_code == 201, (rules, created.text)
    segment = created.json()["id"]
    found = {
        c["id"] for c in tenant.sendx("GET", f"/segment/{segment}/contacts", params={"limit": 100}).json()
    }
    assert tenant.sendx("GET", f"/segment/{segment}/count").json()["count"] == len(found)
    assert tenant.sendx("DELETE", f"/segment/{segment}").status_code == 200
    names = {contact_id: name for name, contact_id in seeded["ids"].items()}
    return {names[contact_id] for contact_id in found}


def test_each_operator(tenant: Tenant, seeded: dict[str, Any]) -> None:
    f = seeded["fields"]
    cases: list[tuple[dict[str, Any], set[str]]] = [
        ({"field": "email", "op": "endsWith", "value": ".UK"}, {"alan"}),
        ({"field": "firstName", "op": "equals", "value": "grace"}, {"grace"}),
        ({"field": "lastName", "op": "startsWith", "value": "lo"}, {"ada"}),
        ({"field": "company", "op": "contains", "value": "navy"}, {"grace"}),
        ({"field": "ltv", "op": "gte", "value": 5000}, {"alan"}),
        ({"field": "ltv", "op": "lt", "value": 1}, {"ada", "grace", "odd"}),
        ({"field": "bounced", "op": "is", "value": True}, {"alan"}),
        ({"field": "created", "op": "gt", "value": "2000-01-01"}, {"ada", "alan", "grace", "odd"}),
        ({"field": "created", "op": "lt", "value": "2000-01-01T00:00:00Z"}, set()),
        ({"customField": f["plan"], "op": "equals", "value": "gold"}, {"ada"}),
        ({"customField": f["plan"], "op": "endsWith", "value": "ver"}, {"alan"}),
        ({"customField": f["seats"], "op": "gt", "value": 10}, {"ada"}),
        ({"customField": f["seats"], "op": "lte", "value": 3}, {"alan"}),
        ({"customField": f["seats"], "op": "neq", "value": 3}, {"ada"}),
        ({"customField": f["renewal"], "op": "lt", "value": "2026-01-01"}, {"alan"}),
        ({"customField": f["renewal"], "op": "eq", "value": "2026-03-01"}, {"ada"}),
        ({"customField": f["trial"], "op": "is", "value": True}, {"alan"}),
        ({"customField": f["plan"], "op": "exists"}, {"ada", "alan"}),
        ({"tag": seeded["tags"]["vip"]}, {"ada", "grace"}),
        ({"list": seeded["audience"]}, {"ada", "grace"}),
        ({"list": seeded["audience"], "subscribed": False}, set()),
        ({"topic": seeded["topic"]}, {"ada"}),  # grace opted out; the others are not members
        (
            {"all": [{"tag": seeded["tags"]["vip"]}, {"field": "company", "op": "contains", "value": "ltd"}]},
            {"ada"},
        ),
        (
            {"any": [{"field": "firstName", "op": "equals", "value": "alan"}, {"topic": seeded["topic"]}]},
            {"ada", "alan"},
        ),
        ({"not": {"tag": seeded["tags"]["vip"]}}, {"alan", "odd"}),
    ]
    for rules, expected in cases:
        assert matches(tenant, seeded, rules) == expected, rules


def test_user_values_are_data_never_sql(tenant: Tenant, seeded: dict[str, Any]) -> None:
    hostile = "O'Brien; DROP TABLE contacts;--"
    assert matches(tenant, seeded, {"field": "firstName", "op": "equals", "value": hostile}) == {"odd"}
    assert matches(tenant, seeded, {"field": "email", "op": "contains", "value": "' OR '1'='1"}) == set()
    # LIKE's wildcards are taken literally.
    assert matches(tenant, seeded, {"field": "email", "op": "contains", "value": "%_"}) == {"odd"}
    assert matches(tenant, seeded, {"field": "email", "op": "startsWith", "value": "_"}) == set()
    assert len(tenant.sendx("GET", "/contact", params={"limit": 100}).json()) == 4


def test_segments_are_live_and_rules_are_checked(tenant: Tenant, seeded: dict[str, Any]) -> None:
    vip = {"tag": seeded["tags"]["vip"]}
    segment = tenant.sendx("POST", "/segment", json={"name": "VIPs", "rules": vip}).json()
    assert segment["rules"] == vip
    count = f"/segment/{segment['id']}/count"
    assert tenant.sendx("GET", count).json() == {"id": segment["id"], "count": 2}
    tenant.sendx("POST", "/contact/track", json={"email": "alan@bletchley.uk", "addTags": ["vip"]})
    assert tenant.sendx("GET", count).json()["count"] == 3
    renamed = tenant.sendx("PUT", f"/segment/{segment['id']}", json={"name": "Top", "rules": {"not": vip}})
    assert (renamed.json()["name"], tenant.sendx("GET", count).json()["count"]) == ("Top", 1)
    assert tenant.sendx("POST", "/segment", json={"name": "top", "rules": vip}).status_code == 409

    bad = [
        ({"name": "x"}, "rules"),
        ({"name": "x", "rules": {}}, "rules"),
        ({"name": "x", "rules": {"all": []}}, "rules.all"),
        ({"name": "x", "rules": {"field": "password", "op": "equals", "value": "x"}}, "rules.field"),
        ({"name": "x", "rules": {"field": "email", "op": "gt", "value": "x"}}, "rules.op"),
        ({"name": "x", "rules": {"field": "ltv", "op": "gt", "value": "10"}}, "rules.value"),
        ({"name": "x", "rules": {"field": "created", "op": "gt", "value": "yesterday"}}, "rules.value"),
        (
            {
                "name": "x",
                "rules": {"customField": seeded["fields"]["seats"], "op": "contains", "value": "1"},
            },
            "op",
        ),
        (
            {"name": "x", "rules": {"customField": "field_0000000000000000000000", "op": "exists"}},
            "not found",
        ),
        ({"name": "x", "rules": {"tag": "tag_0000000000000000000000"}}, "not found"),
        ({"name": "x", "rules": {"any": [vip, {"list": 42}]}}, "rules.any[1].list"),
        ({"name": "x", "rules": {"not": vip, "tag": "x"}}, "unexpected key"),
        (
            {
                "name": "x",
                "rules": {"not": {"not": {"not": {"not": {"not": {"not": {"not": {"not": {"not": vip}}}}}}}}},
            },
            "deep",
        ),
    ]
    for body, expected in bad:
        response = tenant.sendx("POST", "/segment", json=body)
        assert response.status_code == 400, (body, response.text)
        assert expected in response.json()["message"], (expected, response.json())

    # A tag deleted after the segment was saved matches no one; the segment still works.
    assert tenant.sendx("DELETE", f"/tag/{seeded['tags']['vip']}").status_code == 200
    assert tenant.sendx("GET", count).json()["count"] == 4


def test_a_rule_may_name_its_tag_and_list_by_name(tenant: Tenant, seeded: dict[str, Any]) -> None:
    list_name = tenant.get(f"/api/v1/audiences/{seeded['audience']}").json()["name"]
    created = tenant.sendx(
        "POST", "/segment", json={"name": "By name", "rules": {"all": [{"tag": "VIP"}, {"list": list_name}]}}
    )
    assert created.status_code == 201, created.text
    segment = created.json()
    # Kept by ID, so that renaming the tag keeps the segment.
    assert segment["rules"] == {"all": [{"tag": seeded["tags"]["vip"]}, {"list": seeded["audience"]}]}
    assert tenant.sendx("PUT", f"/tag/{seeded['tags']['vip']}", json={"name": "gold"}).status_code == 200
    found = tenant.sendx("GET", f"/segment/{segment['id']}/contacts", params={"limit": 100}).json()
    assert {c["id"] for c in found} == {seeded["ids"]["ada"], seeded["ids"]["grace"]}

    unknown = tenant.sendx("POST", "/segment", json={"name": "Nope", "rules": {"tag": "no-such-tag"}})
    assert unknown.status_code == 400
    assert "tag `no-such-tag` not found" in unknown.json()["message"]
