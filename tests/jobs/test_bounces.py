"""Bounces and complaints that come back later, for messages a real SMTP server received: RFC
3464 delivery status notifications, a qmail bounce, RFC 5965 abuse reports and Amazon SES
notifications, handed in by ``roster mail ingest``, the inbound endpoint, a POP3 mailbox and
an SNS subscription; and what cannot be read or matched, kept aside."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from base64 import b64encode
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
from litestar import Litestar
from litestar.testing import TestClient
from sqlalchemy import delete

from roster.config import BounceRules, Settings
from roster.core.preferences import PreferenceLinks
from roster.mailbox import Mailbox, poll
from roster.storage.db import Database
from roster.storage.tables import webhook_deliveries
from tests.api.sendx.test_webhooks import deliver, subscribe, verified
from tests.conftest import Tenant
from tests.jobs.test_sending import audience_with, by_recipient, dispatcher, send_now
from tests.pop3_server import pop3_server
from tests.receiver import Receiver, receiver
from tests.smtp_sink import Received, smtp_sink

CERT_URL = "https://sns.eu-north-1.amazonaws.com/SimpleNotificationService-test.pem"
TOPIC = "arn:aws:sns:eu-north-1:123456789012:roster-ses"


@pytest.fixture
def hook(db: Database) -> Iterator[Receiver]:
    db.run_write(lambda conn: conn.execute(delete(webhook_deliveries)))
    with receiver() as state:
        yield state


@pytest.fixture
def sent(tenant: Tenant, db: Database, links: PreferenceLinks) -> dict[str, Received]:
    """A campaign delivered to four people; what the SMTP server received, by address."""
    people = ("hard@example.net", "soft@example.net", "angry@example.net", "qmail@example.net")
    audience = audience_with(tenant, *people)
    campaign = send_now(tenant, includedLists=[audience])["id"]
    with smtp_sink() as sink:
        dispatcher(db, links, sink.url)()
        return by_recipient(sink.of(campaign))


def headers_of(mail: Received) -> str:
    return mail.data.split(b"\r\n\r\n", 1)[0].decode().replace("\r\n", "\n")


def dsn(mail: Received, *, action: str, status: str, diagnostic: str) -> bytes:
    """A delivery status notification as Postfix writes one (RFC 3464), quoting the headers."""
    text = f"""From: MAILER-DAEMON@mx.example.net (Mail Delivery System)
To: news@example.com
Subject: Undelivered Mail Returned to Sender
Date: Sat, 05 Dec 2026 10:00:00 +0000
Message-ID: <20261205100000.ABC123@mx.example.net>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="BOUNDARY"

--BOUNDARY
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx.example.net.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients.

--BOUNDARY
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net
Arrival-Date: Sat, 05 Dec 2026 09:59:58 +0000

Final-Recipient: rfc822; {mail.recipient}
Original-Recipient: rfc822;{mail.recipient}
Action: {action}
Status: {status}
Diagnostic-Code: smtp; {diagnostic}

--BOUNDARY
Content-Type: text/rfc822-headers

{headers_of(mail)}

--BOUNDARY--
"""
    return text.replace("\n", "\r\n").encode()


def arf(mail: Received) -> bytes:
    """An abuse report as a mailbox provider's feedback loop sends one (RFC 5965)."""
    text = f"""From: fbl@isp.example
To: abuse@example.com
Subject: FW: Vinter
Date: Sat, 05 Dec 2026 11:00:00 +0000
Message-ID: <fbl.987@isp.example>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="part"

--part
Content-Type: text/plain; charset="US-ASCII"

This is an email abuse report for an email message received from IP 192.0.2.1.

--part
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: SomeGenerator/1.0
Version: 1
Original-Mail-From: <news@example.com>
Original-Rcpt-To: <{mail.recipient}>
Arrival-Date: Sat, 05 Dec 2026 10:00:00 +0000
Source-IP: 192.0.2.1

--part
Content-Type: message/rfc822
Content-Disposition: inline

{mail.data.decode().replace(chr(13), "")}
--part--
"""
    return text.replace("\n", "\r\n").encode()


def qmail(mail: Received) -> bytes:
    """A qmail bounce (QSBMF, not RFC 3464): the original follows the explanation."""
    text = f"""From: MAILER-DAEMON@qmail.example.org
To: news@example.com
Subject: failure notice
Date: Sat, 05 Dec 2026 12:00:00 +0000

Hi. This is the qmail-send program at qmail.example.org.
I'm afraid I wasn't able to deliver your message to the following addresses.
This is a permanent error; I've given up. Sorry it didn't work out.

<{mail.recipient}>:
Sorry, no mailbox here by that name. (#5.1.1)

--- Below this line is a copy of the message.

{mail.data.decode().replace(chr(13), "")}
"""
    return text.replace("\n", "\r\n").encode()


def ingest(database_url: str, raw: bytes) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-m", "roster", "mail", "ingest", "--json"],
        input=raw,
        env={**os.environ, "ROSTER_DATABASE_URL": database_url},
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout))


def report(tenant: Tenant, campaign: str) -> dict[str, Any]:
    return dict(tenant.sendx("GET", f"/report/campaign/{campaign}").json())


def contact(tenant: Tenant, email: str) -> dict[str, Any]:
    return dict(tenant.sendx("GET", f"/contact/{email}").json())


def test_bounces_and_complaints_by_every_way_in_reach_contacts_report_and_webhooks(
    tenant: Tenant,
    db: Database,
    database_url: str,
    settings: Settings,
    sent: dict[str, Received],
    hook: Receiver,
) -> None:
    webhook = subscribe(tenant, hook.url, bounced=True, markedSpam=True, unsubscribed=True)
    campaign = sent["hard@example.net"].campaign_id

    # A hard bounce through `roster mail ingest`, as an MTA pipe would hand it over.
    hard = dsn(sent["hard@example.net"], action="failed", status="5.1.1", diagnostic="550 5.1.1 no such user")
    first = ingest(database_url, hard)
    assert (first["state"], first["kind"], first["campaignId"]) == ("applied", "hard", campaign)
    again = ingest(database_url, hard)
    assert (again["id"], again["duplicate"]) == (first["id"], True)

    # A delay through the inbound endpoint: counted, not flagged (one of three).
    soft = dsn(sent["soft@example.net"], action="delayed", status="4.4.7", diagnostic="451 4.4.7 try later")
    answer = tenant.sendx("POST", "/inbound", content=soft, headers={"Content-Type": "message/rfc822"})
    assert answer.status_code == 202, answer.text
    assert (answer.json()["state"], answer.json()["kind"]) == ("applied", "soft")

    # A complaint and a qmail bounce from a POP3 mailbox the worker polls.
    with pop3_server() as drop:
        drop.messages = [arf(sent["angry@example.net"]), qmail(sent["qmail@example.net"])]

        async def poll_a_while() -> None:
            with anyio.move_on_after(0.6):
                await poll(db, Mailbox.parse(drop.url), settings.bounce_rules)

        anyio.run(poll_a_while)
        assert drop.messages == []  # deleted once stored
        assert drop.sessions >= 2

    assert contact(tenant, "hard@example.net")["bounced"] is True
    assert contact(tenant, "soft@example.net")["bounced"] is False
    angry = contact(tenant, "angry@example.net")
    assert (angry["spam"], angry["unsubscribed"]) == (True, True)
    assert contact(tenant, "qmail@example.net")["bounced"] is True

    figures = report(tenant, campaign)
    assert (
        figures["bounceContactCount"],
        figures["softBounceContactCount"],
        figures["spamContactCount"],
    ) == (
        2,
        1,
        1,
    )
    assert figures["sentContactCount"] == 4

    events = tenant.sendx("GET", "/contact/hard@example.net/events").json()
    assert [(event["type"], event["campaignId"]) for event in events] == [("bounced", campaign)]
    assert "5.1.1" in events[0]["data"]["detail"]
    kinds = [event["type"] for event in tenant.sendx("GET", "/contact/angry@example.net/events").json()]
    assert kinds == ["complained"]

    deliver(db, settings)
    payloads = [verified(webhook, request) for request in hook.wait_for(4)]
    seen = sorted((p["type"], p["data"]["email"]) for p in payloads)
    assert seen == [
        ("contact.bounced", "hard@example.net"),
        ("contact.bounced", "qmail@example.net"),
        ("contact.marked_spam", "angry@example.net"),
        ("contact.unsubscribed", "angry@example.net"),
    ]
    assert all(
        p["data"].get("campaignId") == campaign for p in payloads if p["type"] != "contact.unsubscribed"
    )


def test_soft_bounces_flag_a_contact_once_there_are_enough_within_the_window(
    tenant: Tenant, db: Database, sent: dict[str, Received]
) -> None:
    from roster.core import inbound

    rules = BounceRules(soft_limit=2, soft_window=timedelta(days=1))
    mail = sent["soft@example.net"]
    for status in ("4.2.2", "4.4.1"):
        raw = dsn(mail, action="delayed", status=status, diagnostic=f"452 {status} mailbox full")
        received = inbound.receive(db, raw, "cli", rules)
        assert received.state == "applied"
    assert contact(tenant, "soft@example.net")["bounced"] is True
    assert report(tenant, mail.campaign_id)["softBounceContactCount"] == 1  # one person


def test_what_cannot_be_read_or_matched_is_kept_aside_and_changes_nothing(
    tenant: Tenant, other: Tenant, database_url: str, sent: dict[str, Received]
) -> None:
    mail = sent["hard@example.net"]
    campaign = mail.campaign_id
    before = report(tenant, campaign)
    foreign = dsn(mail, action="failed", status="5.1.1", diagnostic="550 no such user").replace(
        campaign.encode(), b"campaign_" + b"Z" * 22
    )
    untagged = dsn(mail, action="failed", status="5.1.1", diagnostic="550 no such user").replace(
        b"campaign_", b"kampanj_"
    )
    truncated = dsn(mail, action="failed", status="5.1.1", diagnostic="550 x")[:400]
    cases = {
        b"": "empty",
        b"\x00\xff\xfe garbage": "no headers",
        b"From: a@example.org\r\nSubject: hello\r\n\r\nJust saying hello.\r\n": "no bounce or complaint",
        foreign: "no campaign campaign_ZZZ",
        truncated: "no bounce or complaint",
        untagged: "no Roster recipient",
    }
    for raw, why in cases.items():
        answer = ingest(database_url, raw + b"\r\n" if raw else raw)
        assert answer["state"] == "aside", raw
        assert why in answer["reason"], answer
    # Through one team's key, another team's campaign is not found either.
    answer = other.sendx(
        "POST", "/inbound", content=dsn(mail, action="failed", status="5.1.1", diagnostic="550 x")
    )
    assert (answer.status_code, answer.json()["state"]) == (202, "aside")
    assert tenant.sendx("POST", "/inbound", content=b"   ").status_code == 400

    assert report(tenant, campaign) == before
    assert contact(tenant, "hard@example.net")["bounced"] is False
    listed = subprocess.run(
        [sys.executable, "-m", "roster", "mail", "aside", "--json"],
        env={**os.environ, "ROSTER_DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.splitlines()
    reasons = [json.loads(line)["reason"] for line in listed]
    assert any("no Roster recipient" in reason for reason in reasons)
    kept = json.loads(listed[0])["id"]
    shown = subprocess.run(
        [sys.executable, "-m", "roster", "mail", "show", kept],
        env={**os.environ, "ROSTER_DATABASE_URL": database_url},
        capture_output=True,
        timeout=60,
        check=True,
    ).stdout
    assert shown.startswith(b"From: MAILER-DAEMON")


class SnsSigner:
    """Signs SNS messages as Amazon does, with a test key pair and certificate."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
        moment = datetime.now(UTC)
        self.pem = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(moment - timedelta(days=1))
            .not_valid_after(moment + timedelta(days=1))
            .sign(self.key, hashes.SHA256())
            .public_bytes(serialization.Encoding.PEM)
        )
        self.fetched: list[str] = []

    def fetch(self, url: str) -> bytes:
        self.fetched.append(url)
        return self.pem if url == CERT_URL else b"<ConfirmSubscriptionResponse/>"

    def signed(self, message: dict[str, str], fields: tuple[str, ...]) -> dict[str, str]:
        text = "".join(f"{name}\n{message[name]}\n" for name in fields if name in message)
        signature = self.key.sign(text.encode(), padding.PKCS1v15(), hashes.SHA256())
        return {**message, "SignatureVersion": "2", "SigningCertURL": CERT_URL,
                "Signature": b64encode(signature).decode()}  # fmt: skip


NOTIFICATION = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
SUBSCRIPTION = ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")


def ses_bounce(mail: Received, kind: str = "Permanent") -> str:
    message_id = str(mail.message["Message-ID"]).strip()
    return json.dumps(
        {
            "notificationType": "Bounce",
            "bounce": {
                "bounceType": kind,
                "bounceSubType": "General",
                "bouncedRecipients": [{"emailAddress": mail.recipient, "diagnosticCode": "smtp; 550 5.1.1"}],
                "timestamp": "2026-12-05T12:00:00.000Z",
            },
            "mail": {"messageId": "0100018c-ses", "commonHeaders": {"messageId": message_id}},
        }
    )


@pytest.fixture
def sns(client: TestClient[Litestar]) -> Iterator[SnsSigner]:
    signer = SnsSigner()
    services = client.app.state.services
    services.sns.topics, services.sns.fetch = (TOPIC,), signer.fetch
    yield signer
    services.sns.topics = ()


def test_ses_notifications_through_sns_are_verified_then_applied(
    tenant: Tenant, sent: dict[str, Received], sns: SnsSigner
) -> None:
    client = tenant.client
    confirm = sns.signed(
        {"Type": "SubscriptionConfirmation", "MessageId": "m-1", "Token": "t", "TopicArn": TOPIC,
         "Message": "You have chosen to subscribe", "Timestamp": "2026-12-05T12:00:00.000Z",
         "SubscribeURL": "https://sns.eu-north-1.amazonaws.com/?Action=ConfirmSubscription&Token=t"},
        SUBSCRIPTION,
    )  # fmt: skip
    answer = client.post("/inbound/ses", content=json.dumps(confirm), headers={"Content-Type": "text/plain"})
    assert answer.status_code == 200, answer.text
    assert sns.fetched[-1].startswith("https://sns.eu-north-1.amazonaws.com/?Action=ConfirmSubscription")

    mail = sent["hard@example.net"]
    notification = {"Type": "Notification", "MessageId": "m-2", "TopicArn": TOPIC,
                    "Message": ses_bounce(mail), "Timestamp": "2026-12-05T12:00:01.000Z"}  # fmt: skip
    body = json.dumps(sns.signed(notification, NOTIFICATION))
    answer = client.post("/inbound/ses", content=body)
    assert (answer.status_code, answer.json()["state"]) == (200, "applied")
    assert client.post("/inbound/ses", content=body).json()["id"] == answer.json()["id"]  # SNS retried
    assert contact(tenant, "hard@example.net")["bounced"] is True
    assert report(tenant, mail.campaign_id)["bounceContactCount"] == 1

    complaint = json.dumps(
        {
            "notificationType": "Complaint",
            "complaint": {"complainedRecipients": [{"emailAddress": "angry@example.net"}],
                          "complaintFeedbackType": "abuse"},
            "mail": {"commonHeaders": {"messageId": str(sent["angry@example.net"].message["Message-ID"])}},
        }
    )  # fmt: skip
    notification = {**notification, "MessageId": "m-3", "Message": complaint}
    answer = client.post("/inbound/ses", content=json.dumps(sns.signed(notification, NOTIFICATION)))
    assert answer.json()["state"] == "applied"
    assert contact(tenant, "angry@example.net")["spam"] is True


def test_forged_sns_messages_are_refused_and_change_nothing(
    tenant: Tenant, sent: dict[str, Received], sns: SnsSigner
) -> None:
    client = tenant.client
    mail = sent["soft@example.net"]
    notification = {"Type": "Notification", "MessageId": "m-9", "TopicArn": TOPIC,
                    "Message": ses_bounce(mail), "Timestamp": "2026-12-05T12:00:01.000Z"}  # fmt: skip
    genuine = sns.signed(notification, NOTIFICATION)
    other_key = SnsSigner().signed(notification, NOTIFICATION)
    tampered = {**genuine, "Message": ses_bounce(sent["qmail@example.net"])}
    foreign_topic = sns.signed(
        {**notification, "TopicArn": "arn:aws:sns:us-east-1:999999999999:evil"}, NOTIFICATION
    )
    elsewhere = {**genuine, "SigningCertURL": "https://evil.example/cert.pem"}
    plain_http = {**genuine, "SigningCertURL": CERT_URL.replace("https", "http")}
    lookalike = {**genuine, "SigningCertURL": "https://sns.eu-north-1.amazonaws.com.evil.example/c.pem"}
    for forged in (other_key, tampered, foreign_topic, elsewhere, plain_http, lookalike):
        answer = client.post("/inbound/ses", content=json.dumps(forged))
        assert answer.status_code == 403, (forged, answer.text)
    for junk in (b"", b"not json", b"[1, 2]", b'{"Type": "Nonsense"}', b"{" * 5000):
        assert client.post("/inbound/ses", content=junk).status_code in (400, 403)
    assert all(url == CERT_URL for url in sns.fetched)  # never fetched from elsewhere
    assert contact(tenant, "soft@example.net")["bounced"] is False
    assert contact(tenant, "qmail@example.net")["bounced"] is False
    assert report(tenant, mail.campaign_id)["bounceContactCount"] == 0


def test_the_worker_polls_the_bounce_mailbox(
    tenant: Tenant, database_url: str, sent: dict[str, Received], tmp_path: Path
) -> None:
    """``roster worker`` with ROSTER_BOUNCE_MAILBOX fetches and applies what the mailbox holds."""
    with pop3_server() as drop:
        drop.messages = [qmail(sent["qmail@example.net"])]
        env = {**os.environ, "ROSTER_DATABASE_URL": database_url, "ROSTER_BOUNCE_MAILBOX": drop.url,
               "ROSTER_MAIL_DIR": str(tmp_path)}  # fmt: skip
        worker = subprocess.Popen([sys.executable, "-m", "roster", "worker"], env=env)
        try:
            deadline = time.monotonic() + 30
            while drop.messages and time.monotonic() < deadline:
                time.sleep(0.1)
        finally:
            worker.terminate()
            worker.wait(timeout=30)
        assert drop.messages == []
    assert contact(tenant, "qmail@example.net")["bounced"] is True
