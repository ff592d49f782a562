"""Tenant isolation on every ID-bearing route of the three dialects, as one table: another
team's object answers exactly as a missing one does (same status, same body but the ID), never
2xx, and nothing of it changes."""

from __future__ import annotations

import re
from typing import Any

from litestar import Litestar
from litestar.testing import TestClient

from roster.core import members
from roster.ids import new_id
from roster.storage.db import Database
from tests.conftest import Tenant

PARAM = re.compile(r"{(\w+)(?::\w+)?}")
# What an ``{identifier}`` names in SendX, by the route's first segment after /api/v1/rest.
SENDX_KINDS = {
    "contact": "contact",
    "list": "audience",
    "tag": "tag",
    "customfield": "field",
    "template": "template",
    "campaign": "campaign",
    "report": "campaign",
    "segment": "segment",
    "team": "member",
    "webhook": "webhook",
}
PARAM_KINDS = {
    "audience_id": "audience",
    "contact_id": "contact",
    "topic_id": "topic",
    "import_id": "import",
    "domain_id": "domain",
    "key_id": "key",
    "email": "email",
}
PREFIXES = {"audience": "list", "field": "field", "template": "template", "key": "key", "member": "member"}


def owned_by(owner: Tenant, db: Database) -> dict[str, str]:
    """One object of each kind, made by ``owner``; its ID by kind."""

    def made(response: Any) -> Any:
        assert response.status_code in (200, 201, 202), response.text
        return response.json()

    audience = owner.audience("Isolated")
    contact = owner.contact(audience["id"], "isolated@example.com")
    topic = made(owner.post(f"/api/v1/audiences/{audience['id']}/topics", json={"name": "Private"}))
    job = made(
        owner.client.post(
            f"/api/v1/audiences/{audience['id']}/imports",
            content=b"email\nimported@example.com\n",
            headers={"Authorization": f"Bearer {owner.token}", "Content-Type": "text/csv"},
        )
    )
    key = made(owner.post("/api/v1/api-keys", json={"name": "isolated"}))
    tag = made(owner.sendx("POST", "/tag", json={"name": "isolated"}))
    field = made(owner.sendx("POST", "/customfield", json={"name": "Isolated", "type": 1}))
    template = made(
        owner.sendx("POST", "/template/email", json={"name": "I", "subject": "S", "htmlContent": "<p/>"})
    )
    sender = made(owner.sendx("POST", "/sender", json={"name": "I", "email": "news@example.com"}))
    campaign = made(
        owner.sendx(
            "POST",
            "/campaign",
            json={
                "name": "I",
                "subject": "S",
                "sender": sender["id"],
                "htmlCode": "<p/>",
                "scheduleType": 0,
                "scheduleCondition": "2099-01-01T00:00:00Z",
                "includedLists": [audience["id"]],
            },
        )
    )
    segment = made(owner.sendx("POST", "/segment", json={"name": "I", "rules": {"tag": tag["id"]}}))
    webhook = made(
        owner.sendx("POST", "/webhook", json={"url": "http://127.0.0.1:9/hook", "contactCreated": True})
    )
    made(owner.sendx("POST", "/suppression", json={"emails": ["kept-out@example.com"]}))
    member = db.run_write(members.add_member, owner.id, "member@example.com", "Isolated Member")
    return {
        "audience": audience["id"],
        "contact": contact["id"],
        "topic": topic["id"],
        "import": job["id"],
        "domain": owner.domain_id,
        "key": key["id"],
        "tag": tag["id"],
        "field": field["id"],
        "template": template["id"],
        "campaign": campaign["id"],
        "segment": segment["id"],
        "webhook": webhook["id"],
        "member": member.id,
        "email": "kept-out@example.com",
    }


def missing_like(kind: str, real: str) -> str:
    """An ID of the same form as ``real`` that names nothing."""
    if kind == "email":
        return "nobody-here@example.com"
    shown = real.removeprefix("custom_")  # SendX shows custom fields as custom_field_…
    return real.removesuffix(shown) + new_id(shown.split("_", 1)[0])


def routes(app: Litestar) -> list[tuple[str, str]]:
    found = []
    for route in app.routes:
        if not PARAM.search(route.path) or not route.path.startswith(("/api/", "/v1/")):
            continue
        for method in sorted(getattr(route, "methods", set()) - {"OPTIONS", "HEAD"}):
            found.append((method, route.path))
    return found


def kind_of(path: str, name: str) -> str:
    if name == "identifier":
        segment = path.removeprefix("/api/v1/rest/").split("/")[0]
        return SENDX_KINDS[segment]
    return PARAM_KINDS[name]


def auth(path: str, token: str) -> dict[str, str]:
    return (
        {"X-Team-ApiKey": token} if path.startswith("/api/v1/rest/") else {"Authorization": f"Bearer {token}"}
    )


def test_no_route_lets_a_team_reach_another_teams_objects(
    tenant: Tenant, other: Tenant, db: Database, client: TestClient[Litestar]
) -> None:
    ids = owned_by(tenant, db)
    table = routes(client.app)
    assert len(table) > 60  # every ID-bearing route of the three dialects
    leaks = []
    for method, template in table:
        names = PARAM.findall(template)
        real = {name: ids[kind_of(template, name)] for name in names}
        fake = {name: missing_like(kind_of(template, name), value) for name, value in real.items()}
        answers = []
        for values in (real, fake):
            path = PARAM.sub(lambda m, v=values: v[m.group(1)], template)
            kwargs: dict[str, Any] = {"headers": auth(template, other.token)}
            if method in ("POST", "PUT", "PATCH"):
                kwargs["json"] = {}
            response = client.request(method, path, **kwargs)
            text = response.text
            for value in values.values():
                text = text.replace(value, "<id>").replace(value.removeprefix("custom_"), "<id>")
            answers.append((response.status_code, text))
        (status, body), (missing_status, missing_body) = answers
        if 200 <= status < 300 or (status, body) != (missing_status, missing_body):
            leaks.append((method, template, answers))
    assert leaks == [], "\n".join(map(str, leaks))

    # And nothing of the owner's changed: each object still answers its owner.
    still = [
        tenant.get(f"/api/v1/audiences/{ids['audience']}"),
        tenant.get(f"/api/v1/audiences/{ids['audience']}/contacts/{ids['contact']}"),
        tenant.get(f"/api/v1/audiences/{ids['audience']}/topics/{ids['topic']}"),
        tenant.get(f"/api/v1/domains/{ids['domain']}"),
        *(
            tenant.sendx("GET", f"/{path}/{ids[kind]}")
            for path, kind in (
                ("tag", "tag"),
                ("customfield", "field"),
                ("template/email", "template"),
                ("campaign", "campaign"),
                ("segment", "segment"),
                ("webhook", "webhook"),
                ("team/member", "member"),
            )
        ),
    ]
    assert [response.status_code for response in still] == [200] * len(still)
    keys = tenant.get("/api/v1/api-keys").json()["data"]
    assert ids["key"] in {key["id"] for key in keys if not key["revoked"]}
    suppressed = tenant.sendx("GET", "/suppression").json()
    assert "kept-out@example.com" in str(suppressed)
