"""Campaigns delivered to a real SMTP server (aiosmtpd) by the campaign worker, on the database
under test: what arrives, who is skipped, how answers are handled, and how sending is steered."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import dkim
import pytest

from roster.core import clock
from roster.core.campaigns import pause_campaign, resume_campaign
from roster.core.preferences import PreferenceLinks
from roster.dispatch import Dispatcher
from roster.mail.transport import mailer_from
from roster.storage.db import Database
from tests.conftest import Tenant
from tests.smtp_sink import Received, Sink, smtp_sink


class Clock:
    def __init__(self) -> None:
        self.moment = clock.now()

    def __call__(self) -> datetime:
        return self.moment


def dispatcher(db: Database, links: PreferenceLinks, url: str, **options: Any) -> Callable[[], None]:
    """Run the campaign worker until nothing is due (waiting out its throttle)."""

    def drain() -> None:
        async def rounds() -> None:
            mailer = mailer_from(url, Path("unused"))
            worker = Dispatcher(db, mailer, links, **options)
            try:
                while True:
                    if await worker.run_once():
                        continue
                    if await mailer.available() > 0:
                        return
                    await anyio.sleep(0.02)
            finally:
                await mailer.close()

        anyio.run(rounds)

    return drain


def made(tenant: Tenant, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = tenant.sendx("POST", path, json=body)
    assert response.status_code in (200, 201), response.text
    return dict(response.json())


def audience_with(tenant: Tenant, *emails: str, **fields: Any) -> str:
    audience = made(tenant, "/list", {"name": "Nyheter"})["id"]
    for email in emails:
        made(tenant, "/contact", {"email": email, "lists": [audience], **fields})
    return str(audience)


def send_now(tenant: Tenant, **fields: Any) -> dict[str, Any]:
    existing = tenant.sendx("GET", "/sender").json()
    sender = (
        existing[0]["id"]
        if existing
        else made(tenant, "/sender", {"name": "Nyhetsbrev Öst", "email": "news@example.com"})["id"]
    )
    body = {
        "name": "Vinter",
        "subject": "Hej {{ contact.firstName }} ☃",
        "sender": sender,
        "htmlCode": "<html><body><p>Hej {{ contact.firstName }} i {{ contact.city }}!</p>"
        '<a href="{{ unsubscribe_url }}">Avsluta</a></body></html>',
        "scheduleType": 1,
        **fields,
    }
    return made(tenant, "/campaign", body)


def by_recipient(received: list[Received]) -> dict[str, Received]:
    found = {item.recipient: item for item in received}
    assert len(found) == len(received), "a recipient got the campaign twice"
    return found


def test_a_campaign_arrives_whole_personal_signed_and_with_one_click_unsubscribe(
    tenant: Tenant, db: Database, links: PreferenceLinks, sink: Sink
) -> None:
    city = made(tenant, "/customfield", {"name": "city", "type": 0})["id"]
    audience = made(tenant, "/list", {"name": "Nyheter & annat"})["id"]
    asa = made(
        tenant,
        "/contact",
        {
            "email": "asa@example.net",
            "firstName": "Åsa",
            "lastName": "Öberg",
            "lists": [audience],
            "customFields": {city: "Malmö"},
        },
    )
    made(tenant, "/contact", {"email": "bo@example.net", "firstName": "Bo", "lists": [audience]})
    tagged = made(tenant, "/contact", {"email": "tagged@example.net", "tags": ["vip"]})
    vip = tenant.sendx("GET", "/tag").json()[0]["id"]
    campaign = send_now(
        tenant,
        includedLists=[audience],
        includedTags=[vip],
        previewText="Nytt i vinter",
        replyTo="svar@example.com",
    )
    assert campaign["status"] == "sending"

    dispatcher(db, links, sink.url)()

    mail = by_recipient(sink.of(campaign["id"]))
    assert sorted(mail) == ["asa@example.net", "bo@example.net", "tagged@example.net"]
    message = mail["asa@example.net"].message
    assert message["Subject"] == "Hej Åsa ☃"
    assert message["From"].addresses[0].display_name == "Nyhetsbrev Öst"
    assert message["From"].addresses[0].addr_spec == "news@example.com"
    assert message["To"].addresses[0].display_name == "Åsa Öberg"
    assert message["Reply-To"] == "svar@example.com"
    assert message["Date"] is not None
    assert str(message["Message-ID"]).endswith("@example.com>")
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None
    assert html is not None
    assert "Hej Åsa i Malmö!" in text.get_content()
    assert "Hej Åsa i Malmö!" in html.get_content()
    assert "display:none" in html.get_content()
    assert "Nytt i vinter" in html.get_content()
    assert mail["bo@example.net"].message["Subject"] == "Hej Bo ☃"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["List-Id"] == f"Nyheter & annat <{audience}.example.com>"
    assert message["Feedback-ID"].strip() == f"{campaign['id']}:{tenant.id}:roster"
    assert mail["asa@example.net"].sender == "news@example.com"

    # The signature verifies against the DKIM record the domain API tells to publish.
    records = tenant.get(f"/api/v1/domains/{tenant.domain_id}").json()["records"]
    published = {record["name"]: record["value"] for record in records}

    def dns(name: bytes, timeout: float = 5) -> bytes:
        return published[name.decode().rstrip(".")].encode()

    assert dkim.verify(mail["asa@example.net"].data, dnsfunc=dns)
    assert not dkim.verify(mail["asa@example.net"].data.replace(b"Malm", b"Molm"), dnsfunc=dns)

    report = tenant.sendx("GET", f"/report/campaign/{campaign['id']}").json()
    assert (report["status"], report["recipientCount"], report["sentContactCount"]) == ("sent", 3, 3)
    assert tenant.sendx("GET", f"/campaign/{campaign['id']}").json()["sentAt"] is not None

    # One click in the list's link leaves that list; the tag's link unsubscribes team-wide.
    for email in ("asa@example.net", "tagged@example.net"):
        url = str(mail[email].message["List-Unsubscribe"]).strip().strip("<>")
        answer = tenant.client.post(url, data={"List-Unsubscribe": "One-Click"})
        assert answer.status_code == 200, answer.text
    member = tenant.get(f"/api/v1/audiences/{audience}/contacts/{asa['id']}").json()
    assert member["subscribed"] is False
    assert tenant.sendx("GET", f"/contact/{tagged['id']}").json()["unsubscribed"] is True
    assert tenant.sendx("GET", f"/contact/{asa['id']}").json()["unsubscribed"] is False


def test_contacts_who_leave_mid_send_are_skipped_and_the_throttle_holds(
    tenant: Tenant, db: Database, links: PreferenceLinks
) -> None:
    emails = [f"p{i:02}@example.net" for i in range(12)]
    audience = audience_with(tenant, *emails)
    campaign = send_now(tenant, includedLists=[audience])
    leaver = tenant.sendx("GET", "/contact", params={"search": "p11@"}).json()[0]["id"]
    with smtp_sink(query="rate=5") as sink:
        # The first batch is a second's worth at 5 a second: the rest wait for the next ones.
        run = dispatcher(db, links, sink.url)
        started = time.monotonic()

        async def leave_after_first() -> None:
            await anyio.sleep(0.3)
            await anyio.to_thread.run_sync(
                lambda: tenant.sendx("POST", f"/contact/unsubscribe/{leaver}").raise_for_status()
            )

        def both() -> None:
            async def together() -> None:
                async with anyio.create_task_group() as group:
                    group.start_soon(leave_after_first)
                    group.start_soon(anyio.to_thread.run_sync, run)

            anyio.run(together)

        both()
        elapsed = time.monotonic() - started
    mail = by_recipient(sink.of(campaign["id"]))
    assert sorted(mail) == emails[:11]
    assert elapsed >= 1.9  # 11 messages at 5 a second: three windows
    report = tenant.sendx("GET", f"/report/campaign/{campaign['id']}").json()
    assert (report["sentContactCount"], report["skippedContactCount"], report["status"]) == (11, 1, "sent")


def test_replies_deferred_retried_rejected_failed_unknown_mailbox_bounced(
    tenant: Tenant, db: Database, links: PreferenceLinks, sink: Sink
) -> None:
    audience = audience_with(
        tenant, "ok@example.net", "later@example.net", "gone@example.net", "policy@example.net"
    )
    sink.script.update(
        {
            "later@example.net": ["451 4.3.0 Try again later"],
            "gone@example.net": ["550 5.1.1 No such user here"],
            "policy@example.net": ["554 5.7.1 Refused by policy"],
        }
    )
    campaign = send_now(tenant, includedLists=[audience])
    moment = Clock()
    dispatcher(db, links, sink.url, now=moment)()
    assert sorted(sink_of := by_recipient(sink.of(campaign["id"]))) == ["ok@example.net"]
    assert tenant.sendx("GET", f"/campaign/{campaign['id']}").json()["status"] == "sending"

    moment.moment += timedelta(minutes=2)  # past the first retry's time
    dispatcher(db, links, sink.url, now=moment)()
    sink_of = by_recipient(sink.of(campaign["id"]))
    assert sorted(sink_of) == ["later@example.net", "ok@example.net"]
    report = tenant.sendx("GET", f"/report/campaign/{campaign['id']}").json()
    assert report["status"] == "sent"
    assert (report["sentContactCount"], report["failedContactCount"], report["bounceContactCount"]) == (
        2,
        2,
        1,
    )

    gone = tenant.sendx("GET", "/contact", params={"search": "gone@"}).json()[0]
    policy = tenant.sendx("GET", "/contact", params={"search": "policy@"}).json()[0]
    assert (gone["bounced"], policy["bounced"]) == (True, False)
    # A later campaign to the same list does not mail the address that does not exist.
    again = send_now(tenant, includedLists=[audience])
    dispatcher(db, links, sink.url, now=moment)()
    assert sorted(by_recipient(sink.of(again["id"]))) == [
        "later@example.net",
        "ok@example.net",
        "policy@example.net",
    ]


def test_deferrals_are_given_up_after_the_last_attempt(
    tenant: Tenant, db: Database, links: PreferenceLinks, sink: Sink
) -> None:
    audience = audience_with(tenant, "ok@example.net", "never@example.net")
    sink.script["never@example.net"] = ["452 4.2.2 Mailbox full"] * 10
    campaign = send_now(tenant, includedLists=[audience])
    moment = Clock()
    for _ in range(5):
        dispatcher(db, links, sink.url, now=moment)()
        moment.moment += timedelta(hours=2)
    report = tenant.sendx("GET", f"/report/campaign/{campaign['id']}").json()
    assert (report["status"], report["sentContactCount"], report["failedContactCount"]) == ("sent", 1, 1)
    assert len(sink.script["never@example.net"]) == 5  # five attempts in all


def test_a_relay_that_cannot_be_reached_pauses_the_campaign_and_resume_goes_on(
    tenant: Tenant, db: Database, links: PreferenceLinks, sink: Sink
) -> None:
    from tests.conftest import free_port

    emails = [f"r{i}@example.net" for i in range(6)]
    campaign = send_now(tenant, includedLists=[audience_with(tenant, *emails)])
    nowhere = f"smtp://127.0.0.1:{free_port()}?rate=0&timeout=2"
    dispatcher(db, links, nowhere, max_failures=3)()
    paused = tenant.sendx("GET", f"/campaign/{campaign['id']}").json()
    assert paused["status"] == "paused"
    assert "3 deliveries in a row failed" in paused["statusReason"]
    assert "could not be reached" in paused["statusReason"]

    resumed = tenant.sendx("POST", f"/campaign/{campaign['id']}/resume")
    assert (resumed.status_code, resumed.json()["status"], resumed.json()["statusReason"]) == (
        200,
        "sending",
        None,
    )
    moment = Clock()
    moment.moment += timedelta(minutes=2)  # the deferred ones are due again
    dispatcher(db, links, sink.url, now=moment)()
    assert sorted(by_recipient(sink.of(campaign["id"]))) == emails
    assert tenant.sendx("GET", f"/campaign/{campaign['id']}").json()["status"] == "sent"


def test_a_refused_login_pauses_at_once_and_the_password_is_never_shown(
    tenant: Tenant, db: Database, links: PreferenceLinks, caplog: pytest.LogCaptureFixture
) -> None:
    campaign = send_now(tenant, includedLists=[audience_with(tenant, "a@example.net", "b@example.net")])
    with smtp_sink(refuse_login=True) as sink:
        assert "hunter2-secret" in sink.url
        dispatcher(db, links, sink.url)()
    paused = tenant.sendx("GET", f"/campaign/{campaign['id']}").json()
    assert paused["status"] == "paused"
    assert "refused the login" in paused["statusReason"]
    assert "hunter2-secret" not in tenant.sendx("GET", f"/campaign/{campaign['id']}").text
    assert "hunter2-secret" not in caplog.text
    report = tenant.sendx("GET", f"/report/campaign/{campaign['id']}").json()
    assert (report["sentContactCount"], report["failedContactCount"]) == (0, 0)  # nobody lost


def test_pause_stops_every_batch_within_a_second_and_cancel_for_good(
    tenant: Tenant, db: Database, links: PreferenceLinks
) -> None:
    emails = [f"s{i:02}@example.net" for i in range(20)]
    campaign = send_now(tenant, includedLists=[audience_with(tenant, *emails)])
    with smtp_sink(query="rate=4") as sink:

        async def run_then_pause() -> None:
            mailer = mailer_from(sink.url, Path("unused"))
            worker = Dispatcher(db, mailer, links)
            async with anyio.create_task_group() as group:
                group.start_soon(functools.partial(worker.run, idle=0.05))
                await anyio.sleep(1.2)
                db.run_write(pause_campaign, tenant.id, campaign["id"])
                await anyio.sleep(1.0)
                at_pause = len(sink.of(campaign["id"]))
                await anyio.sleep(1.5)
                assert len(sink.of(campaign["id"])) == at_pause
                assert 4 <= at_pause < 20
                db.run_write(resume_campaign, tenant.id, campaign["id"])
                await anyio.to_thread.run_sync(sink.wait_for, campaign["id"], 20)
                group.cancel_scope.cancel()
            await mailer.close()

        anyio.run(run_then_pause)
        assert sorted(by_recipient(sink.of(campaign["id"]))) == emails

    other = send_now(tenant, includedLists=[audience_with(tenant, "c@example.net")])
    cancelled = tenant.sendx("POST", f"/campaign/{other['id']}/cancel")
    assert cancelled.json()["status"] == "cancelled"
    with smtp_sink() as sink:
        dispatcher(db, links, sink.url)()
        assert sink.of(other["id"]) == []
    assert tenant.sendx("POST", f"/campaign/{other['id']}/resume").status_code == 409


def test_a_scheduled_campaign_goes_when_its_time_comes(
    tenant: Tenant, db: Database, links: PreferenceLinks, sink: Sink
) -> None:
    audience = audience_with(tenant, "later@example.net")
    when = (clock.now() + timedelta(hours=3)).strftime("%Y-%m-%d %H:%M")
    campaign = send_now(
        tenant, includedLists=[audience], scheduleType=0, scheduleCondition=when, timezone="UTC"
    )
    assert campaign["status"] == "scheduled"
    moment = Clock()
    dispatcher(db, links, sink.url, now=moment)()
    assert sink.of(campaign["id"]) == []
    moment.moment += timedelta(hours=3, minutes=1)
    dispatcher(db, links, sink.url, now=moment)()
    assert [item.recipient for item in sink.of(campaign["id"])] == ["later@example.net"]
    assert tenant.sendx("GET", f"/campaign/{campaign['id']}").json()["status"] == "sent"


def test_a_test_send_mails_the_addresses_given_and_changes_nothing(
    tenant: Tenant, other: Tenant, mail_folder: Path
) -> None:
    made(tenant, "/contact", {"email": "known@example.net", "firstName": "Kim"})
    draft = made(
        tenant,
        "/campaign",
        {
            "name": "Draft",
            "subject": "Hej {{ contact.firstName or 'du' }}",
            "sender": made(tenant, "/sender", {"name": "N", "email": "n@example.com"})["id"],
            "htmlCode": "<p>Hello</p>",
        },
    )
    before = set(mail_folder.glob("*.eml"))
    answer = tenant.sendx(
        "POST", f"/campaign/{draft['id']}/test", json={"emails": ["known@example.net", "new@example.org"]}
    )
    assert answer.status_code == 200, answer.text
    assert [item["accepted"] for item in answer.json()["data"]] == [True, True]
    written = [Received("", "", path.read_bytes()) for path in set(mail_folder.glob("*.eml")) - before]
    assert sorted(str(item.message["Subject"]) for item in written) == ["Hej Kim", "Hej du"]
    assert tenant.sendx("GET", f"/campaign/{draft['id']}").json()["status"] == "draft"
    report = tenant.sendx("GET", f"/report/campaign/{draft['id']}").json()
    assert report["sentContactCount"] == 0

    too_many = {"emails": [f"t{i}@example.net" for i in range(11)]}
    assert tenant.sendx("POST", f"/campaign/{draft['id']}/test", json=too_many).status_code == 400
    bad = tenant.sendx("POST", f"/campaign/{draft['id']}/test", json={"emails": ["nope"]})
    assert bad.status_code == 400
    assert (
        other.sendx("POST", f"/campaign/{draft['id']}/test", json={"emails": ["a@b.co"]}).status_code == 404
    )
