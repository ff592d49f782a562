"""What comes back from a sent campaign, from the messages a real SMTP server received: opens
and clicks through the tracked URLs, unsubscribes through the campaign's link and recipients
dropped for their flags, seen in the contact's events, the report and signed webhooks."""

from __future__ import annotations

import dataclasses
import re
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from html import unescape
from typing import Any

import pytest
from sqlalchemy import delete

from roster.config import Settings
from roster.core import sending
from roster.core.clock import now
from roster.core.preferences import PreferenceLinks
from roster.core.tracking import Tracking
from roster.dispatch import Dispatcher
from roster.storage.db import Database
from roster.storage.tables import webhook_deliveries
from tests.api.sendx.test_webhooks import deliver, subscribe, verified
from tests.conftest import Tenant
from tests.jobs.test_sending import audience_with, by_recipient, dispatcher, send_now
from tests.receiver import Receiver, receiver
from tests.smtp_sink import Sink

BROWSER = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Safari/605.1"
SHOP = "https://shop.example.com/vinter?a=1&b=2"
HTML = (
    "<html><body><p>Hej {{ contact.firstName }}!</p>"
    '<a href="https://shop.example.com/vinter?a=1&amp;b=2">Butik</a> '
    "<a href='mailto:hej@example.com'>Skriv</a> "
    '<a href="#top">Upp</a> '
    '<a href="{{ unsubscribe_url }}">Avsluta</a></body></html>'
)


@pytest.fixture
def hook(db: Database) -> Iterator[Receiver]:
    db.run_write(lambda conn: conn.execute(delete(webhook_deliveries)))
    with receiver() as state:
        yield state


def hrefs(html: str) -> list[str]:
    return [unescape(url) for url in re.findall(r"""<a\b[^>]*href=["']([^"']*)["']""", html)]


def html_of(sink: Sink, campaign_id: str, email: str) -> str:
    part = by_recipient(sink.of(campaign_id))[email].message.get_body(("html",))
    assert part is not None
    return str(part.get_content())


def local(url: str) -> str:
    return url.removeprefix("http://roster.test")


def report(tenant: Tenant, campaign_id: str, until: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """The report once ``until`` holds (opens and clicks are written a moment after)."""
    deadline = time.monotonic() + 10
    while True:
        figures = dict(tenant.sendx("GET", f"/report/campaign/{campaign_id}").json())
        if until(figures) or time.monotonic() > deadline:
            return figures
        time.sleep(0.05)


def test_opens_and_clicks_reach_the_events_the_report_and_the_webhooks(
    tenant: Tenant,
    db: Database,
    settings: Settings,
    links: PreferenceLinks,
    tracking: Tracking,
    sink: Sink,
    hook: Receiver,
) -> None:
    webhook = subscribe(tenant, hook.url, opened=True, clicked=True)
    audience = audience_with(tenant, "asa@example.net", "bo@example.net", firstName="Åsa")
    campaign = send_now(tenant, includedLists=[audience], htmlCode=HTML)["id"]
    dispatcher(db, links, sink.url, tracking=tracking)()

    html = html_of(sink, campaign, "asa@example.net")
    shop, mailto, anchor, unsubscribe = hrefs(html)
    assert shop.startswith("http://roster.test/t/c/")
    assert (mailto, anchor) == ("mailto:hej@example.com", "#top")
    assert unsubscribe.startswith("http://roster.test/unsubscribe/")
    pixel = re.findall(r'<img src="([^"]+)"', html)
    assert len(pixel) == 1
    assert pixel[0].startswith("http://roster.test/t/o/")
    assert html.index(pixel[0]) < html.index("</body>")
    bo_shop = hrefs(html_of(sink, campaign, "bo@example.net"))[0]
    assert bo_shop != shop

    client = tenant.client
    browser = {"User-Agent": BROWSER}
    for _ in range(2):
        answer = client.get(local(pixel[0]), headers=browser)
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "image/gif"
        gif = answer.content
        assert gif[:10] == b"GIF89a\x01\x00\x01\x00"  # 1 by 1 pixel
        assert gif.endswith(b";")
        assert "no-store" in answer.headers["cache-control"]
    answer = client.get(local(shop), headers=browser, follow_redirects=False)
    assert (answer.status_code, answer.headers["location"]) == (302, SHOP)
    assert client.head(local(shop), headers=browser, follow_redirects=False).status_code == 302
    scanner = {"User-Agent": "Mozilla/5.0 (compatible; Barracuda Sentinel)"}
    assert client.get(local(shop), headers=scanner, follow_redirects=False).status_code == 302
    assert client.get(local(bo_shop), headers=browser, follow_redirects=False).status_code == 302

    figures = report(tenant, campaign, lambda figures: figures["clickedContactCount"] == 2)
    assert figures["sentContactCount"] == 2
    assert (figures["openedContactCount"], figures["openedUniqueContactCount"]) == (3, 2)
    assert (figures["clickedContactCount"], figures["clickedUniqueContactCount"]) == (2, 2)
    assert figures["linkStats"] == [{"url": SHOP, "count": 2}]

    asa = tenant.sendx("GET", "/contact/asa@example.net").json()["id"]
    events = tenant.sendx("GET", f"/contact/{asa}/events", params={"limit": 20}).json()
    assert (
        tenant.sendx("GET", "/events", params={"identifier": "asa@example.net", "limit": 20}).json() == events
    )
    seen = sorted((event["type"], event["data"]["counted"], event["data"].get("reason")) for event in events)
    assert seen == [
        ("clicked", False, "a HEAD request"),
        ("clicked", False, "a link scanner (barracuda)"),
        ("clicked", True, None),
        ("opened", True, None),
        ("opened", True, None),
    ]
    assert all(event["campaignId"] == campaign for event in events)

    deliver(db, settings)
    payloads = [verified(webhook, request) for request in hook.wait_for(4)]
    kinds = sorted((payload["type"], payload["data"]["email"]) for payload in payloads)
    assert kinds == [
        ("email.clicked", "asa@example.net"),
        ("email.clicked", "bo@example.net"),
        ("email.opened", "asa@example.net"),
        ("email.opened", "asa@example.net"),
    ]
    clicked = next(payload["data"] for payload in payloads if payload["type"] == "email.clicked")
    assert (clicked["campaignId"], clicked["url"]) == (campaign, SHOP)


def test_forged_and_foreign_tracking_urls_are_not_found_and_change_nothing(
    tenant: Tenant, db: Database, links: PreferenceLinks, tracking: Tracking, sink: Sink
) -> None:
    audience = audience_with(tenant, "cy@example.net")
    campaign = send_now(tenant, includedLists=[audience], htmlCode=HTML)["id"]
    dispatcher(db, links, sink.url, tracking=tracking)()
    html = html_of(sink, campaign, "cy@example.net")
    shop = local(hrefs(html)[0])
    pixel = local(re.findall(r'<img src="([^"]+)"', html)[0])
    contact = tenant.sendx("GET", "/contact/cy@example.net").json()["id"]
    elsewhere = Tracking("http://roster.test", "another instance's secret")
    head = shop.removeprefix("/t/c/")[:66]
    forged = [
        shop[:-3] + ("AAA" if not shop.endswith("AAA") else "BBB"),  # another URL under the same MAC
        "/t/c/" + head + "aHR0cHM6Ly9ldmlsLmV4YW1wbGUv",  # https://evil.example/
        local(elsewhere.click_url(campaign, contact, "https://evil.example/")),
        local(tracking.click_url(campaign, contact, "https://evil.example/")).replace(campaign[9:], "A" * 22),
        shop[: len("/t/c/") + 40],  # truncated
        "/t/c/" + "A" * 66 + "%%%",
        pixel.replace(".gif", "x.gif"),
        local(elsewhere.open_url(campaign, contact)),
        "/t/o/" + "A" * 70,
    ]
    for url in forged:
        answer = tenant.client.get(url, headers={"User-Agent": BROWSER}, follow_redirects=False)
        assert answer.status_code == 404, url
        assert "location" not in answer.headers
    time.sleep(0.6)  # two flushes of the recorder
    figures = tenant.sendx("GET", f"/report/campaign/{campaign}").json()
    assert (figures["openedContactCount"], figures["clickedContactCount"], figures["linkStats"]) == (0, 0, [])
    assert tenant.sendx("GET", f"/contact/{contact}/events").json() == []


def test_a_campaign_without_tracking_keeps_its_links(
    tenant: Tenant, db: Database, links: PreferenceLinks, tracking: Tracking, sink: Sink
) -> None:
    audience = audience_with(tenant, "di@example.net")
    campaign = send_now(tenant, includedLists=[audience], htmlCode=HTML, tracking=False)
    assert campaign["tracking"] is False
    dispatcher(db, links, sink.url, tracking=tracking)()
    html = html_of(sink, campaign["id"], "di@example.net")
    assert hrefs(html)[0] == SHOP
    assert "/t/o/" not in html


def test_an_instance_without_tracking_tracks_no_campaign(
    tenant: Tenant, db: Database, settings: Settings, sink: Sink
) -> None:
    untracked = Dispatcher.from_settings(db, dataclasses.replace(settings, tracking=False), "secret")
    assert untracked.tracking is None
    audience = audience_with(tenant, "el@example.net")
    campaign = send_now(tenant, includedLists=[audience], htmlCode=HTML)["id"]
    dispatcher(db, untracked.links, sink.url, tracking=untracked.tracking)()
    html = html_of(sink, campaign, "el@example.net")
    assert hrefs(html)[0] == SHOP
    assert "/t/o/" not in html


def test_unsubscribes_through_the_campaign_count_once_and_flagged_recipients_are_dropped(
    tenant: Tenant,
    db: Database,
    settings: Settings,
    links: PreferenceLinks,
    sink: Sink,
    hook: Receiver,
) -> None:
    webhook = subscribe(tenant, hook.url, dropped=True)
    audience = audience_with(tenant, "ek@example.net", "fy@example.net", "gu@example.net")
    campaign = send_now(tenant, includedLists=[audience])["id"]
    while db.run_write(sending.resolve_next, now()):
        pass
    tenant.sendx("POST", "/contact/unsubscribe/gu@example.net")  # after it was resolved
    dispatcher(db, links, sink.url)()

    assert sorted(by_recipient(sink.of(campaign))) == ["ek@example.net", "fy@example.net"]
    url = str(by_recipient(sink.of(campaign))["ek@example.net"].message["List-Unsubscribe"]).strip("<> ")
    assert "?c=" in url
    for _ in range(2):
        answer = tenant.client.post(local(url), data={"List-Unsubscribe": "One-Click"})
        assert answer.status_code == 200
    # The same page without the campaign's mark, or with a forged one, counts for no campaign.
    other = str(by_recipient(sink.of(campaign))["fy@example.net"].message["List-Unsubscribe"]).strip("<> ")
    tampered = local(other)[:-4] + "AAAA"
    assert tenant.client.post(tampered, data={"List-Unsubscribe": "One-Click"}).status_code == 200

    figures = tenant.sendx("GET", f"/report/campaign/{campaign}").json()
    assert figures["unsubscribeContactCount"] == 1
    assert (figures["recipientCount"], figures["sentContactCount"], figures["skippedContactCount"]) == (
        3,
        2,
        1,
    )
    assert figures["sentContactCount"] + figures["failedContactCount"] + figures["skippedContactCount"] == 3
    events = tenant.sendx("GET", "/contact/ek@example.net/events").json()
    assert [(event["type"], event["campaignId"]) for event in events] == [("unsubscribed", campaign)]

    deliver(db, settings)
    payloads = [verified(webhook, request) for request in hook.wait_for(1)]
    assert [(p["type"], p["data"]["email"], p["data"]["campaignId"]) for p in payloads] == [
        ("contact.dropped", "gu@example.net", campaign)
    ]


@contextmanager
def locked(db: Database) -> Iterator[None]:
    """Another process's write lock held on the store: SQLite's one, or the recipients table's."""
    if db.engine.dialect.name == "sqlite":
        other = sqlite3.connect(str(db.engine.url.database), isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            other.rollback()
            other.close()
        return
    with db.engine.connect() as conn:
        conn.exec_driver_sql("LOCK TABLE campaign_recipients IN ACCESS EXCLUSIVE MODE")
        yield
        conn.rollback()


def test_the_redirect_answers_while_the_database_is_locked_and_counts_after(
    tenant: Tenant, db: Database, links: PreferenceLinks, tracking: Tracking, sink: Sink
) -> None:
    audience = audience_with(tenant, "ha@example.net")
    campaign = send_now(tenant, includedLists=[audience], htmlCode=HTML)["id"]
    dispatcher(db, links, sink.url, tracking=tracking)()
    shop = local(hrefs(html_of(sink, campaign, "ha@example.net"))[0])
    with locked(db):
        answer = tenant.client.get(shop, headers={"User-Agent": BROWSER}, follow_redirects=False)
        assert answer.status_code == 302
        time.sleep(0.5)  # the recorder's flush of that click now waits for the lock
        for _ in range(2):
            started = time.monotonic()
            answer = tenant.client.get(shop, headers={"User-Agent": BROWSER}, follow_redirects=False)
            assert (answer.status_code, answer.headers["location"]) == (302, SHOP)
            assert time.monotonic() - started < 0.5  # answered while the flush waits
        time.sleep(0.5)
    figures = report(tenant, campaign, lambda figures: figures["clickedContactCount"] == 3)
    assert (figures["clickedContactCount"], figures["clickedUniqueContactCount"]) == (3, 1)
