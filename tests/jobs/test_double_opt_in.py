"""Double opt-in, end to end on a real SMTP server: a new member of a double opt-in list is
pending, gets a confirmation mail (at most one per interval), confirms on a page with a POST,
and is removed if the link expires first; pending members get no campaign."""

from __future__ import annotations

import re
import time
from datetime import timedelta
from html import unescape
from typing import Any

from roster.core import clock
from roster.core.confirmations import ConfirmLinks
from roster.core.preferences import PreferenceLinks
from roster.storage.db import Database
from tests.conftest import Tenant
from tests.jobs.test_sending import Clock, by_recipient, dispatcher, made, send_now
from tests.smtp_sink import Received, Sink


def confirmations_to(sink: Sink, email: str) -> list[Received]:
    return [
        item
        for item in sink.received
        if item.recipient.lower() == email
        and str(item.message["X-Roster-Recipient"]).strip().startswith("list_")
    ]


def confirm_url(mail: Received) -> str:
    part = mail.message.get_body(("html",))
    assert part is not None
    found = re.search(r'href="(http://roster\.test/confirm/[^"]+)"', str(part.get_content()))
    assert found is not None
    return unescape(found.group(1)).removeprefix("http://roster.test")


def member(tenant: Tenant, audience: str, contact_id: str) -> dict[str, Any]:
    return dict(tenant.get(f"/api/v1/audiences/{audience}/contacts/{contact_id}").json())


def test_a_new_member_confirms_by_mail_and_only_then_is_subscribed(
    tenant: Tenant, db: Database, links: PreferenceLinks, confirm_links: ConfirmLinks, sink: Sink
) -> None:
    audience = made(tenant, "/list", {"name": "Nyheter", "type": 1})["id"]
    plain = made(tenant, "/list", {"name": "Vanlig"})["id"]
    made(tenant, "/sender", {"name": "Nyhetsbrev", "email": "news@example.com"})
    ann = made(tenant, "/contact", {"email": "ann@example.net", "firstName": "Ann", "lists": [audience]})
    made(tenant, "/contact", {"email": "bo@example.net", "lists": [plain]})
    assert (
        member(tenant, audience, ann["id"])["subscribed"],
        member(tenant, audience, ann["id"])["pending"],
    ) == (
        False,
        True,
    )
    assert tenant.sendx("GET", f"/list/{audience}").json()["pendingCount"] == 1
    assert tenant.v1("GET", f"/audiences/{audience}").json()["pendingCount"] == 1
    assert tenant.sendx("GET", f"/contact/{ann['id']}").json()["pendingLists"] == [audience]

    campaign = send_now(tenant, includedLists=[audience, plain])["id"]
    now = Clock()
    dispatcher(db, links, sink.url, confirm_links=confirm_links, now=now)()
    assert sorted(by_recipient(sink.of(campaign))) == ["bo@example.net"]  # the pending member gets nothing
    mails = confirmations_to(sink, "ann@example.net")
    assert len(mails) == 1
    assert mails[0].message["Subject"] == "Please confirm your subscription to Nyheter"
    assert "Hello Ann" in str(mails[0].message.get_body(("html",)).get_content())  # type: ignore[union-attr]
    url = confirm_url(mails[0])

    page = tenant.client.get(url)  # what a mail scanner does: nothing changes
    assert page.status_code == 200
    assert "Yes, subscribe me" in page.text
    assert member(tenant, audience, ann["id"])["pending"] is True

    done = tenant.client.post(url, data={"action": "confirm"})
    assert done.status_code == 200
    assert "is confirmed" in done.text
    assert (
        member(tenant, audience, ann["id"])["subscribed"],
        member(tenant, audience, ann["id"])["pending"],
    ) == (
        True,
        False,
    )
    assert tenant.sendx("GET", f"/list/{audience}").json()["pendingCount"] == 0
    assert tenant.sendx("GET", f"/contact/{ann['id']}").json()["pendingLists"] == []
    again = tenant.client.post(url, data={"action": "confirm"})
    assert "used already" in again.text
    history = tenant.sendx("GET", "/contact/ann@example.net/consent").json()
    assert [(entry["change"], entry["source"]) for entry in history] == [
        ("pending", "api"),
        ("confirmed", "confirmation"),
    ]

    forged = url[:-4] + ("AAAA" if not url.endswith("AAAA") else "BBBB")
    assert tenant.client.post(forged, data={"action": "confirm"}).status_code == 404
    foreign = ConfirmLinks("http://roster.test", "another secret").url(audience, ann["id"], clock.now())
    assert tenant.client.get(foreign.removeprefix("http://roster.test")).status_code == 404


def test_adding_again_mails_at_most_once_an_interval_and_expired_members_go(
    tenant: Tenant, db: Database, links: PreferenceLinks, confirm_links: ConfirmLinks, sink: Sink
) -> None:
    audience = made(tenant, "/list", {"name": "Nyheter", "type": 1})["id"]
    made(tenant, "/sender", {"name": "Nyhetsbrev", "email": "news@example.com"})
    cy = made(tenant, "/contact", {"email": "cy@example.net", "lists": [audience]})
    now = Clock()
    run = dispatcher(db, links, sink.url, confirm_links=confirm_links, now=now)
    run()
    for _ in range(3):  # a form or script posting the same address again and again
        tenant.sendx("PUT", f"/contact/{cy['id']}", json={"lists": [audience]})
        tenant.post(
            f"/api/v1/audiences/{audience}/contacts", json={"email": "cy@example.net", "subscribed": True}
        )
        run()
    now.moment = clock.now() + timedelta(minutes=1)  # due again, but within the interval
    run()
    assert len(confirmations_to(sink, "cy@example.net")) == 1
    pending = member(tenant, audience, cy["id"])["pending"]
    assert pending is True  # subscribing through the API does not confirm
    now.moment += timedelta(hours=1)
    run()
    run()
    mails = confirmations_to(sink, "cy@example.net")
    assert len(mails) == 2

    # A link older than the expiry shows so and changes nothing; the worker then removes the
    # membership (and the contact, which nothing else uses).
    stale = confirm_links.url(audience, cy["id"], clock.now() - timedelta(days=8)).removeprefix(
        "http://roster.test"
    )
    assert "has expired" in tenant.client.post(stale, data={"action": "confirm"}).text
    assert member(tenant, audience, cy["id"])["pending"] is True
    now.moment += timedelta(days=8)
    expiring = dispatcher(db, links, sink.url, confirm_links=confirm_links, now=now)
    expiring()
    assert tenant.sendx("GET", f"/contact/{cy['id']}").status_code == 404
    assert tenant.sendx("GET", f"/list/{audience}").json()["pendingCount"] == 0


def test_suppressed_addresses_get_no_confirmation_and_the_template_is_the_lists(
    tenant: Tenant, db: Database, links: PreferenceLinks, confirm_links: ConfirmLinks, sink: Sink
) -> None:
    audience = made(tenant, "/list", {"name": "Klubben", "type": 1})["id"]
    made(tenant, "/sender", {"name": "Klubben", "email": "club@example.com"})
    bad = tenant.sendx("PUT", f"/list/{audience}/confirmation", json={"htmlCode": "<p>no link here</p>"})
    assert bad.status_code == 400
    broken = tenant.sendx("PUT", f"/list/{audience}/confirmation", json={"subject": "{{ oops"})
    assert broken.status_code == 400
    custom = tenant.sendx(
        "PUT",
        f"/list/{audience}/confirmation",
        json={
            "subject": "Välkommen till {{ list.name }}",
            "htmlCode": '<a href="{{ confirm_url }}">Ja tack</a>',
        },
    )
    assert custom.status_code == 200, custom.text
    assert custom.json()["custom"] is True
    tenant.sendx("POST", "/suppression", json={"emails": ["held@example.net"]})
    made(tenant, "/contact", {"email": "held@example.net", "lists": [audience]})
    made(tenant, "/contact", {"email": "dee@example.net", "lists": [audience]})
    dispatcher(db, links, sink.url, confirm_links=confirm_links, now=Clock())()
    assert confirmations_to(sink, "held@example.net") == []
    mail = confirmations_to(sink, "dee@example.net")[0]
    assert mail.message["Subject"] == "Välkommen till Klubben"
    assert "Ja tack" in str(mail.message.get_body(("html",)).get_content())  # type: ignore[union-attr]
    reset = tenant.sendx("PUT", f"/list/{audience}/confirmation", json={"subject": None, "htmlCode": None})
    assert reset.json()["custom"] is False


def test_double_opt_in_audiences_in_the_other_dialects(tenant: Tenant) -> None:
    sendex = tenant.post(
        "/api/v1/audiences", json={"name": "Sendex DOI", "domain": "example.com", "double_opt_in": True}
    )
    assert sendex.status_code == 201, sendex.text
    assert sendex.json()["double_opt_in"] is True
    joined = tenant.post(
        f"/api/v1/audiences/{sendex.json()['id']}/contacts", json={"email": "eve@example.net"}
    )
    assert (joined.json()["subscribed"], joined.json()["pending"]) == (False, True)
    v1 = tenant.v1("POST", "/audiences", json={"name": "v1 DOI", "doubleOptIn": True}).json()
    assert v1["doubleOptIn"] is True
    assert tenant.sendx("GET", f"/list/{v1['id']}").json()["type"] == 1
    assert tenant.v1("POST", "/audiences", json={"name": "x", "doubleOptIn": "yes"}).status_code in (400, 422)


def finished(tenant: Tenant, audience: str, answer: Any) -> dict[str, Any]:
    assert answer.status_code == 202, answer.text
    path = f"/api/v1/audiences/{audience}/imports/{answer.json()['id']}"
    deadline = time.monotonic() + 30
    while (job := tenant.get(path).json())["status"] not in ("done", "failed"):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    return dict(job)


def test_an_import_into_a_double_opt_in_list_says_how_its_people_confirm(tenant: Tenant) -> None:
    audience = tenant.post(
        "/api/v1/audiences", json={"name": "Import DOI", "domain": "example.com", "double_opt_in": True}
    ).json()["id"]
    path = f"/api/v1/audiences/{audience}/imports"
    csv = {"Content-Type": "text/csv"}
    refused = tenant.post(path, content=b"Email\r\nfay@example.net\r\n", headers=csv)
    assert refused.status_code == 422  # Sendex's status for a bad field
    assert "double_opt_in" in refused.text
    unexplained = tenant.post(
        path, params={"double_opt_in": "confirmed"}, content=b"Email\r\nx@example.net\r\n"
    )
    assert unexplained.status_code == 422

    sent = tenant.post(
        path, params={"double_opt_in": "send"}, content=b"Email\r\nfay@example.net\r\n", headers=csv
    )
    assert finished(tenant, audience, sent)["created"] == 1
    fay = tenant.sendx("GET", "/contact/fay@example.net").json()["id"]
    assert (member(tenant, audience, fay)["subscribed"], member(tenant, audience, fay)["pending"]) == (
        False,
        True,
    )
    assert tenant.get(f"/api/v1/audiences/{audience}").json()["pending_count"] == 1

    reason = "signed the paper form at the 2026 fair"
    confirmed = tenant.post(
        path,
        params={"double_opt_in": "confirmed", "confirmed_reason": reason},
        content=b"Email\r\ngil@example.net\r\n",
        headers=csv,
    )
    assert finished(tenant, audience, confirmed)["created"] == 1
    gil = tenant.sendx("GET", "/contact/gil@example.net").json()["id"]
    assert member(tenant, audience, gil)["subscribed"] is True
    history = tenant.sendx("GET", "/contact/gil@example.net/consent").json()
    assert [(entry["change"], entry["source"]) for entry in history] == [("confirmed", "import")]
    assert history[0]["sourceId"] == confirmed.json()["id"]
    assert (
        tenant.get(f"/api/v1/audiences/{audience}/contacts/{gil}/consent").json()["data"][0]["detail"]
        == reason
    )


def test_the_public_form_signs_people_up_pending_and_resists_abuse(
    tenant: Tenant, db: Database, links: PreferenceLinks, confirm_links: ConfirmLinks, sink: Sink
) -> None:
    closed = made(tenant, "/list", {"name": "Stängd"})["id"]
    assert tenant.client.get(f"/subscribe/{closed}").status_code == 404
    assert tenant.sendx("GET", f"/list/{closed}/form").status_code == 409
    audience = made(tenant, "/list", {"name": "Öppen <klubb>", "publicForm": True})["id"]  # single opt-in
    made(tenant, "/sender", {"name": "Klubben", "email": "club@example.com"})
    form = tenant.sendx("GET", f"/list/{audience}/form").json()
    assert form["url"] == f"http://roster.test/subscribe/{audience}"
    assert f'action="http://roster.test/subscribe/{audience}"' in form["html"]
    assert "Öppen &lt;klubb&gt;" in form["html"]
    page = tenant.client.get(f"/subscribe/{audience}")
    assert page.status_code == 200
    assert 'name="website"' in page.text

    answer = tenant.client.post(
        f"/subscribe/{audience}", data={"email": "Hal@Example.net", "first_name": "Hal"}
    )
    assert answer.status_code == 200
    assert "sent you an email" in answer.text
    hal = tenant.sendx("GET", "/contact/hal@example.net").json()
    assert (
        member(tenant, audience, hal["id"])["subscribed"],
        member(tenant, audience, hal["id"])["pending"],
    ) == (
        False,
        True,
    )  # always double opt-in, even on a single opt-in list
    history = tenant.sendx("GET", "/contact/hal@example.net/consent").json()
    assert [(entry["change"], entry["source"]) for entry in history] == [("pending", "signup_form")]

    bot = tenant.client.post(
        f"/subscribe/{audience}", data={"email": "bot@example.net", "website": "http://spam"}
    )
    assert "sent you an email" in bot.text
    assert tenant.sendx("GET", "/contact/bot@example.net").status_code == 404
    assert tenant.client.post(f"/subscribe/{audience}", data={"email": "not an address"}).status_code == 400

    statuses = [
        tenant.client.post(f"/subscribe/{audience}", data={"email": "hal@example.net"}).status_code
        for _ in range(3)
    ]
    assert statuses == [200, 200, 429]  # three an hour for one address

    dispatcher(db, links, sink.url, confirm_links=confirm_links, now=Clock())()
    assert len(confirmations_to(sink, "hal@example.net")) == 1  # one mail however often the form is sent
