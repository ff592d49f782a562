"""The preference page in a real browser (Debian's headless Chromium) against a real server."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, sync_playwright

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
