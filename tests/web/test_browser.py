"""The preference page in a real browser (Debian's headless Chromium) against a real server."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Route, sync_playwright

from roster.core import clock, teams
from roster.core.confirmations import ConfirmLinks
from roster.storage.db import Database
from tests.conftest import Tenant

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


def test_untick_a_topic_in_the_browser(browser: Browser, live_server: str, tenant: Tenant) -> None:
    audience = tenant.audience("Browser Weekly")
    topics = f"/api/v1/audiences/{audience['id']}/topics"
    news = tenant.post(topics, json={"name": "News"}).json()
    tenant.post(topics, json={"name": "Offers"})
    contact = tenant.contact(audience["id"], "browser@example.net")
    token = contact["unsubscribe_url"].rsplit("/", 1)[1]

    page = browser.new_page()
    page.goto(f"{live_server}/unsubscribe/{token}")
    assert page.locator("h1").inner_text() == "Browser Weekly"
    news_box = page.get_by_label("News")
    assert news_box.is_checked()
    news_box.uncheck()
    page.get_by_role("button", name="Save preferences").click()
    page.wait_for_selector("text=Your topic preferences were saved.")
    assert not page.get_by_label("News").is_checked()
    assert page.get_by_label("Offers").is_checked()
    page.close()

    choices = tenant.get(f"/api/v1/audiences/{audience['id']}/contacts/{contact['id']}/topics").json()["data"]
    assert {c["topic_id"]: c["subscribed"] for c in choices}[news["id"]] is False
    assert [c["subscribed"] for c in choices if c["name"] == "Offers"] == [True]


def test_confirm_a_double_opt_in_subscription_in_the_browser(
    browser: Browser, live_server: str, tenant: Tenant, db: Database
) -> None:
    audience = tenant.post(
        "/api/v1/audiences", json={"name": "Browser Club", "domain": "example.com", "double_opt_in": True}
    ).json()
    contact = tenant.contact(audience["id"], "confirm@example.net")
    assert contact["pending"] is True
    links = ConfirmLinks(live_server, db.run_write(teams.instance_secret))
    url = links.url(audience["id"], contact["id"], clock.now())

    page = browser.new_page()
    page.goto(url)
    assert page.locator("h1").inner_text() == "Browser Club"
    member = f"/api/v1/audiences/{audience['id']}/contacts/{contact['id']}"
    assert tenant.get(member).json()["pending"] is True  # opening the page confirmed nothing
    page.get_by_role("button", name="Yes, subscribe me").click()
    page.wait_for_selector("text=your subscription to Browser Club is confirmed")
    page.close()
    confirmed = tenant.get(member).json()
    assert (confirmed["subscribed"], confirmed["pending"]) == (True, False)


def test_the_api_docs_load_with_the_network_off(browser: Browser, live_server: str) -> None:
    """Everything /docs needs comes from the server itself: any other address is cut off."""
    elsewhere: list[str] = []

    def only_the_server(route: Route) -> None:
        if route.request.url.startswith(live_server):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort("internetdisconnected")

    page = browser.new_page()
    page.route("**/*", only_the_server)
    page.goto(f"{live_server}/docs")
    page.wait_for_selector(".swagger-ui .info .title:has-text('Roster')", timeout=15_000)
    page.locator(".opblock-summary-path[data-path='/api/v1/audiences']").first.wait_for()
    page.close()
    assert elsewhere == []
