"""Senders, templates, campaigns, reports, members and webhooks through the published SDK."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import sendx_python_sdk as sdk
from sendx_python_sdk.exceptions import ApiException

from roster.core import domains, members
from roster.storage.db import Database
from tests.conftest import Tenant


def test_senders_are_whitelisted_by_verified_domains(
    api: sdk.ApiClient, tenant: Tenant, db: Database
) -> None:
    senders = sdk.SenderApi(api)
    ours = senders.create_sender(sdk.RestESender(name="News", email="news@example.com"))
    assert re.fullmatch(r"sender_[0-9A-Za-z]{22}", ours.id or "")
    assert (ours.name, ours.email, ours.is_whitelisted) == ("News", "news@example.com", True)
    elsewhere = senders.create_sender(sdk.RestESender(name="Ops", email="ops@Other.org"))
    assert elsewhere.is_whitelisted is False
    with pytest.raises(ApiException) as duplicate:
        senders.create_sender(sdk.RestESender(name="Again", email="NEWS@example.com"))
    assert duplicate.value.status == 409

    db.run_write(domains.add_domain, tenant.id, "other.org", verified=True)
    assert [(s.email, s.is_whitelisted) for s in senders.get_all_senders()] == [
        ("news@example.com", True),
        ("ops@Other.org", True),
    ]


def test_templates_round_trip(api: sdk.ApiClient) -> None:
    templates = sdk.TemplateApi(api)
    created = templates.create_email_template(
        sdk.RestETemplate(
            name="Welcome",
            subject="Hello {{contact.firstName}}",
            html_content="<p>Hi</p>",
            text_content="Hi",
            preheader="A warm hello",
            tags=["onboarding"],
        )
    )
    assert re.fullmatch(r"template_[0-9A-Za-z]{22}", created.id or "")
    assert (created.name, created.subject, created.html_code, created.type) == (
        "Welcome",
        "Hello {{contact.firstName}}",
        "<p>Hi</p>",
        0,
    )
    updated = templates.update_email_template(
        created.id, sdk.RestETemplate(name="Welcome v2", subject="Hello", html_content="<p>Hey</p>")
    )
    assert (updated.name, updated.html_code) == ("Welcome v2", "<p>Hey</p>")
    templates.create_email_template(sdk.RestETemplate(name="Monthly newsletter", subject="News"))
    assert [t.name for t in templates.get_all_email_templates()] == ["Welcome v2", "Monthly newsletter"]
    assert [t.name for t in templates.get_all_email_templates(search="NEWS")] == ["Monthly newsletter"]
    assert templates.get_email_template(created.id).subject == "Hello"
    assert templates.delete_email_template(created.id).status == "success"
    with pytest.raises(ApiException) as gone:
        templates.get_email_template(created.id)
    assert gone.value.status == 404


def test_campaigns_and_reports_round_trip(api: sdk.ApiClient, tenant: Tenant) -> None:
    sender = sdk.SenderApi(api).create_sender(sdk.RestESender(name="News", email="news@example.com"))
    customers = sdk.ListApi(api).create_list(sdk.RestEList(name="Customers"))
    churned = sdk.ListApi(api).create_list(sdk.RestEList(name="Churned"))
    contacts = sdk.ContactApi(api)
    for email in ("a@example.net", "b@example.net", "c@example.net"):
        contacts.create_contact(sdk.RestEContact(email=email, lists=[customers.id]))
    contacts.update_contact(
        "c@example.net", sdk.RestEContact(email="c@example.net", lists=[customers.id, churned.id])
    )

    campaigns = sdk.CampaignApi(api)
    when = (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    created = campaigns.create_campaign(
        sdk.RestECampaign(
            name="Spring sale",
            subject="20% off",
            sender=sender.id,
            html_code="<h1>Sale</h1>",
            preview_text="This week only",
            schedule_type=0,
            schedule_condition=when,
            timezone="Europe/Paris",
            included_lists=[customers.id],
            excluded_lists=[churned.id],
        )
    )
    assert re.fullmatch(r"campaign_[0-9A-Za-z]{22}", created.id or "")
    assert (created.name, created.sender, created.schedule_type, created.schedule_condition) == (
        "Spring sale",
        sender.id,
        0,
        when,
    )
    assert (created.included_lists, created.excluded_lists, created.preheader) == (
        [customers.id],
        [churned.id],
        "This week only",
    )
    assert campaigns.get_campaign(created.id).html_content == "<h1>Sale</h1>"
    draft = campaigns.create_campaign(
        sdk.RestECampaign(name="Draft", subject="Later", sender=sender.id, html_code="<p>…</p>")
    )
    assert [c.name for c in campaigns.get_all_campaigns()] == ["Spring sale", "Draft"]
    assert [c.name for c in campaigns.get_all_campaigns(offset=1, limit=1)] == ["Draft"]

    report = sdk.ReportApi(api).get_campaign_report(created.id)
    assert report.campaign_id == created.id
    assert (report.sent_contact_count, report.opened_contact_count, report.link_stats) == (0, 0, [])
    raw = tenant.sendx("GET", f"/report/campaign/{created.id}").json()
    assert (raw["recipientCount"], raw["status"]) == (2, "scheduled")  # c is excluded

    assert campaigns.delete_campaign(draft.id).status == "success"
    with pytest.raises(ApiException) as gone:
        campaigns.get_campaign(draft.id)
    assert gone.value.status == 404


def test_team_members_are_read_only(api: sdk.ApiClient, tenant: Tenant, db: Database) -> None:
    ada = db.run_write(members.add_member, tenant.id, "ada@example.com", "Ada Lovelace")
    db.run_write(members.add_member, tenant.id, "alan@example.com", "Alan Turing")
    team = sdk.TeamMemberApi(api)
    assert [(m.email, m.full_name) for m in team.get_all_team_members()] == [
        ("ada@example.com", "Ada Lovelace"),
        ("alan@example.com", "Alan Turing"),
    ]
    one = team.get_team_member(ada.id)
    assert re.fullmatch(r"member_[0-9A-Za-z]{22}", one.id or "")
    assert (one.email, one.full_name, one.created is not None) == ("ada@example.com", "Ada Lovelace", True)
    assert tenant.sendx("POST", "/team/member", json={"email": "x@example.com"}).status_code == 405


def test_webhooks_round_trip(api: sdk.ApiClient, tenant: Tenant) -> None:
    hooks = sdk.WebhookApi(api)
    created = hooks.create_webhook(
        sdk.RestEWebhook(url="http://127.0.0.1:9/hook", enabled=True, contact_created=True, unsubscribed=True)
    )
    assert re.fullmatch(r"webhook_[0-9A-Za-z]{22}", created.id or "")
    assert (created.url, created.enabled, created.contact_created, created.unsubscribed, created.bounced) == (
        "http://127.0.0.1:9/hook",
        True,
        True,
        True,
        False,
    )
    raw = tenant.sendx("GET", f"/webhook/{created.id}").json()
    assert "secret" not in raw  # shown once, on create
    updated = hooks.update_webhook(
        created.id, sdk.RestEWebhook(url="http://127.0.0.1:9/other", enabled=False, opened=True)
    )
    assert (updated.url, updated.enabled, updated.opened, updated.contact_created) == (
        "http://127.0.0.1:9/other",
        False,
        True,
        False,
    )
    assert [h.id for h in hooks.get_all_webhooks()] == [created.id]
    assert hooks.get_webhook(created.id).opened is True
    assert hooks.delete_webhook(created.id).status == "success"
    with pytest.raises(ApiException) as gone:
        hooks.get_webhook(created.id)
    assert gone.value.status == 404
