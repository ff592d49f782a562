"""Campaigns on raw HTTP: validation, the recipient resolver, the delete guard in every dialect."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update

from roster.storage.db import Database
from roster.storage.tables import contacts
from tests.conftest import Tenant


def later(days: int = 1) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")


def made(tenant: Tenant, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = tenant.sendx("POST", path, json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def sender(tenant: Tenant) -> str:
    return str(made(tenant, "/sender", {"name": "News", "email": "news@example.com"})["id"])


def campaign_body(sender_id: str, **fields: Any) -> dict[str, Any]:
    return {"name": "Launch", "subject": "Hello", "sender": sender_id, "htmlCode": "<p>Hi</p>", **fields}


def test_campaign_validation(tenant: Tenant, other: Tenant) -> None:
    ours = sender(tenant)
    theirs = sender(other)
    customers = made(tenant, "/list", {"name": "Customers"})["id"]
    foreign_list = made(other, "/list", {"name": "Theirs"})["id"]
    cases = [
        ({"subject": "x", "sender": ours, "htmlCode": "x"}, "name"),
        (campaign_body("sender_0000000000000000000000"), "sender"),
        (campaign_body(theirs), "sender"),
        (campaign_body(ours, scheduleType=0, includedLists=[customers]), "scheduleCondition"),
        (campaign_body(ours, scheduleType=0, scheduleCondition="next tuesday"), "scheduleCondition"),
        (campaign_body(ours, scheduleType=0, scheduleCondition="2020-01-01T10:00:00Z"), "not in the future"),
        (campaign_body(ours, scheduleType=2), "scheduleType"),
        (campaign_body(ours, timezone="Mars/Olympus"), "timezone"),
        (campaign_body(ours, includedLists=["list_0000000000000000000000"]), "includedLists"),
        (campaign_body(ours, includedLists=[foreign_list]), "includedLists"),
        (campaign_body(ours, excludedTags=["tag_0000000000000000000000"]), "excludedTags"),
        (campaign_body(ours, scheduleType=1), "at least one list"),
        (campaign_body(ours, smartSend=True), "preferredTimezone"),
        (campaign_body(ours, subject="x" * 256), "subject"),
        (
            campaign_body(ours, htmlCode="<p>\n{{ contact.firstName </p>"),
            "`htmlCode`: is not a valid template (line 2",
        ),
        (campaign_body(ours, subject="Hi {% if %}"), "`subject`: is not a valid template"),
        (campaign_body(ours, plainText="{{ 1 / 0 }}"), "ZeroDivisionError"),
        (
            campaign_body(ours, previewText="{% for i in range(10**9) %}{% endfor %}"),
            "`previewText`: is not a valid template (OverflowError",
        ),
        (campaign_body(ours, replyTo="not an address"), "replyTo"),
    ]
    for body, expected in cases:
        response = tenant.sendx("POST", "/campaign", json=body)
        assert response.status_code == 400, (body, response.text)
        assert response.json()["status"] == "error"
        assert expected in response.json()["message"], (expected, response.json())
    assert tenant.sendx("POST", "/campaign", json={**campaign_body(ours), "color": "red"}).status_code == 400
    assert tenant.sendx("POST", "/campaign", content=b"{nope").status_code == 422
    assert tenant.sendx("GET", "/campaign").json() == []  # nothing was half written

    local = made(
        tenant,
        "/campaign",
        campaign_body(
            ours,
            scheduleType=0,
            scheduleCondition="2099-06-01 09:00",
            timezone="Asia/Tokyo",
            includedLists=[customers],
        ),
    )
    assert (local["status"], local["scheduleCondition"], local["timezone"]) == (
        "scheduled",
        "2099-06-01 09:00",
        "Asia/Tokyo",
    )
    nobody = tenant.sendx(
        "POST", "/campaign", json=campaign_body(ours, scheduleType=1, includedLists=[customers])
    )
    assert nobody.status_code == 409
    assert "no recipients" in nobody.json()["message"]
    elsewhere = made(tenant, "/sender", {"name": "Other", "email": "news@unverified.example"})["id"]
    unverified = campaign_body(
        elsewhere, scheduleType=0, scheduleCondition=later(), includedLists=[customers]
    )
    refused = tenant.sendx("POST", "/campaign", json=unverified)
    assert refused.status_code == 409
    assert "unverified.example, which is not verified" in refused.json()["message"]
    assert made(tenant, "/campaign", campaign_body(elsewhere))["status"] == "draft"  # a draft may wait

    made(tenant, "/contact", {"email": "someone@example.net", "lists": [customers]})
    assert made(tenant, "/campaign", campaign_body(ours, scheduleType=1, includedLists=[customers]))[
        "status"
    ] == ("sending")
    assert [
        c["status"] for c in tenant.sendx("GET", "/campaign", params={"campaignType": "sending"}).json()
    ] == ["sending"]
    assert tenant.sendx("GET", "/campaign", params={"campaignType": "bogus"}).status_code == 400


def test_recipients_are_resolved_by_one_rule(tenant: Tenant, db: Database) -> None:
    ours = sender(tenant)
    customers = made(tenant, "/list", {"name": "Customers"})["id"]
    partners = made(tenant, "/list", {"name": "Partners"})["id"]
    blocked_list = made(tenant, "/list", {"name": "Do not mail"})["id"]
    vip = made(tenant, "/tag", {"name": "vip"})["id"]
    noisy = made(tenant, "/tag", {"name": "noisy"})["id"]

    def contact(email: str, **fields: Any) -> str:
        return str(made(tenant, "/contact", {"email": email, **fields})["id"])

    plain = contact("plain@example.net", lists=[customers])
    contact("partner@example.net", lists=[partners])  # not included
    tagged = contact("tagged@example.net", tags=["vip"])
    both = contact("both@example.net", lists=[customers], tags=["vip"])
    contact("excluded-list@example.net", lists=[customers, blocked_list])
    contact("excluded-tag@example.net", lists=[customers], tags=["noisy"])
    segment_only = contact("seg@example.net", company="Acme")
    made(tenant, "/segment", {"name": "Acme", "rules": {"field": "company", "op": "equals", "value": "acme"}})
    acme = tenant.sendx("GET", "/segment").json()[0]["id"]

    flagged = {
        flag: contact(f"{flag}@example.net", lists=[customers])
        for flag in ("bounced", "spam", "blocked", "dropped")
    }
    for flag, contact_id in flagged.items():
        db.run_write(
            lambda conn, f=flag, c=contact_id: conn.execute(
                update(contacts).where(contacts.c.id == c).values({f: True})
            )
        )
    gone = contact("gone@example.net", lists=[customers])
    assert tenant.sendx("POST", f"/contact/unsubscribe/{gone}").status_code == 200
    list_only_unsubscribed = contact("left@example.net", lists=[customers])
    audience_member = f"/api/v1/audiences/{customers}/contacts/{list_only_unsubscribed}"
    assert tenant.patch(audience_member, json={"subscribed": False}).status_code == 200

    campaign = made(
        tenant,
        "/campaign",
        campaign_body(
            ours,
            scheduleType=0,
            scheduleCondition=later(),
            includedLists=[customers],
            includedTags=[vip],
            includedSegments=[acme],
            excludedLists=[blocked_list],
            excludedTags=[noisy],
        ),
    )
    report = tenant.sendx("GET", f"/report/campaign/{campaign['id']}").json()
    assert report["recipientCount"] == len({plain, tagged, both, segment_only})

    # The count is live: a new member of an included list is a recipient at once.
    contact("late@example.net", lists=[customers])
    assert tenant.sendx("GET", f"/report/campaign/{campaign['id']}").json()["recipientCount"] == 5


@pytest.mark.parametrize("status", ["scheduled", "sending"])
def test_a_list_in_use_cannot_be_deleted_through_any_dialect(tenant: Tenant, status: str) -> None:
    ours = sender(tenant)
    audience = tenant.audience()  # a Sendex audience: the same object as a SendX list and a v1 audience
    tag = made(tenant, "/tag", {"name": "vip"})["id"]
    made(tenant, "/contact", {"email": "vip@example.net", "tags": ["vip"]})
    schedule = (
        {"scheduleType": 0, "scheduleCondition": later()} if status == "scheduled" else {"scheduleType": 1}
    )
    campaign = made(
        tenant,
        "/campaign",
        campaign_body(ours, includedTags=[tag], excludedLists=[audience["id"]], **schedule),
    )
    assert campaign["status"] == status

    sendex = tenant.delete(f"/api/v1/audiences/{audience['id']}")
    sendx = tenant.sendx("DELETE", f"/list/{audience['id']}")
    v1 = tenant.v1("DELETE", f"/audiences/{audience['id']}")
    assert (sendex.status_code, sendx.status_code, v1.status_code) == (409, 409, 409)
    assert campaign["id"] in sendex.json()["message"]
    assert sendx.json()["status"] == "error"
    assert (v1.json()["statusCode"], v1.json()["error"]) == (409, "Conflict")
    assert tenant.sendx("DELETE", f"/tag/{tag}").status_code == 409
    assert tenant.v1("GET", f"/audiences/{audience['id']}").status_code == 200

    if status == "sending":
        assert tenant.sendx("DELETE", f"/campaign/{campaign['id']}").status_code == 409
    cancelled = tenant.sendx("POST", f"/campaign/{campaign['id']}/cancel")
    assert (cancelled.status_code, cancelled.json()["status"]) == (200, "cancelled")
    assert tenant.sendx("POST", f"/campaign/{campaign['id']}/cancel").status_code == 409
    assert tenant.v1("DELETE", f"/audiences/{audience['id']}").status_code == 200
    assert tenant.sendx("GET", f"/campaign/{campaign['id']}").json()["excludedLists"] == []


def test_a_draft_does_not_hold_its_lists(tenant: Tenant) -> None:
    ours = sender(tenant)
    customers = made(tenant, "/list", {"name": "Customers"})["id"]
    draft = made(tenant, "/campaign", campaign_body(ours, includedLists=[customers]))
    assert draft["status"] == "draft"
    assert tenant.sendx("DELETE", f"/list/{customers}").status_code == 200
    assert tenant.sendx("GET", f"/campaign/{draft['id']}").json()["includedLists"] == []


def test_other_teams_objects_are_404_on_every_new_route(tenant: Tenant, other: Tenant) -> None:
    theirs = sender(other)
    objects = {
        "template": made(other, "/template/email", {"name": "T", "subject": "S"})["id"],
        "campaign": made(other, "/campaign", campaign_body(theirs))["id"],
        "segment": made(
            other, "/segment", {"name": "All", "rules": {"field": "email", "op": "contains", "value": "@"}}
        )["id"],
        "webhook": made(other, "/webhook", {"url": "http://127.0.0.1:9/", "enabled": True})["id"],
    }
    from roster.core import members

    member = tenant.client.app.state.services.db.run_write(members.add_member, other.id, "m@example.com", "M")
    calls = [
        ("GET", f"/template/email/{objects['template']}", None),
        ("PUT", f"/template/email/{objects['template']}", {"name": "Mine"}),
        ("DELETE", f"/template/email/{objects['template']}", None),
        ("GET", f"/campaign/{objects['campaign']}", None),
        ("POST", f"/campaign/{objects['campaign']}/cancel", None),
        ("POST", f"/campaign/{objects['campaign']}/pause", None),
        ("POST", f"/campaign/{objects['campaign']}/resume", None),
        ("POST", f"/campaign/{objects['campaign']}/test", {"emails": ["me@example.net"]}),
        ("DELETE", f"/campaign/{objects['campaign']}", None),
        ("GET", f"/report/campaign/{objects['campaign']}", None),
        ("GET", f"/segment/{objects['segment']}", None),
        ("PUT", f"/segment/{objects['segment']}", {"name": "Mine"}),
        ("DELETE", f"/segment/{objects['segment']}", None),
        ("GET", f"/segment/{objects['segment']}/contacts", None),
        ("GET", f"/segment/{objects['segment']}/count", None),
        ("GET", f"/webhook/{objects['webhook']}", None),
        ("PUT", f"/webhook/{objects['webhook']}", {"enabled": False}),
        ("DELETE", f"/webhook/{objects['webhook']}", None),
        ("GET", f"/team/member/{member.id}", None),
    ]
    for method, path, body in calls:
        response = tenant.sendx(method, path, json=body)
        assert response.status_code == 404, (method, path, response.text)
        assert response.json()["status"] == "error"
    for path in ("/sender", "/template/email", "/campaign", "/segment", "/webhook", "/team/member"):
        assert tenant.sendx("GET", path).json() == [], path
    assert other.sendx("GET", f"/webhook/{objects['webhook']}").json()["enabled"] is True
    # Nor can their segment be used in our campaign.
    body = campaign_body(sender(tenant), includedSegments=[objects["segment"]])
    assert tenant.sendx("POST", "/campaign", json=body).status_code == 400
