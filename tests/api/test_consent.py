"""Consent history: every change of a person's subscription state is recorded with who made
it, whichever dialect, page, import or command made it, and read back in the SendX and
Sendex styles and by the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import Any

from sqlalchemy import select

from roster.core import teams
from roster.storage.db import Database
from roster.storage.tables import api_keys
from tests.conftest import Tenant


def key_id(db: Database, token: str) -> str:
    query = select(api_keys.c.id).where(api_keys.c.token_hash == teams.hash_token(token))
    return str(db.run_read(lambda conn: conn.execute(query).scalar_one()))


def history(tenant: Tenant, email: str) -> list[dict[str, Any]]:
    answer = tenant.sendx("GET", f"/contact/{email}/consent")
    assert answer.status_code == 200, answer.text
    return list(answer.json())


def changes(entries: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(entry["change"], entry["listId"], entry["topicId"], entry["source"]) for entry in entries]


def test_every_change_is_recorded_with_its_source(tenant: Tenant, db: Database) -> None:
    audience = tenant.audience()["id"]
    other_list = tenant.sendx("POST", "/list", json={"name": "Other"}).json()["id"]
    member = tenant.contact(audience, "ann@example.net")
    topic = tenant.post(f"/api/v1/audiences/{audience}/topics", json={"name": "Offers"}).json()["id"]
    tenant.patch(f"/api/v1/audiences/{audience}/contacts/{member['id']}/topics", json={"topic_id": topic,
                 "subscribed": False})  # fmt: skip
    tenant.sendx("PUT", f"/contact/{member['id']}", json={"lists": [audience, other_list]})
    tenant.patch(f"/api/v1/audiences/{audience}/contacts/{member['id']}", json={"subscribed": False})
    tenant.v1("DELETE", f"/audiences/{other_list}/contacts", json={"contactIds": [member["id"]]})
    answer = tenant.client.post(
        member["unsubscribe_url"].removeprefix("http://roster.test"), data={"List-Unsubscribe": "One-Click"}
    )
    assert answer.status_code == 200
    tenant.client.post(
        member["unsubscribe_url"].removeprefix("http://roster.test"), data={"action": "rejoin"}
    )
    tenant.sendx("POST", f"/contact/unsubscribe/{member['id']}")

    entries = history(tenant, "ann@example.net")
    seen = changes(entries)
    assert seen[:5] == [
        ("subscribed", audience, None, "api"),
        ("topic_out", audience, topic, "api"),
        ("subscribed", other_list, None, "api"),
        ("unsubscribed", audience, None, "api"),
        ("left", other_list, None, "api"),
    ]
    # The one-click POST came after the PATCH had already unsubscribed: it changed nothing.
    assert seen[5:] == [
        ("subscribed", audience, None, "preference_page"),
        ("unsubscribed", audience, None, "api"),
        ("unsubscribed", None, None, "api"),
    ]
    the_key = key_id(db, tenant.token)
    assert {entry["sourceId"] for entry in entries if entry["source"] == "api"} == {the_key}
    assert tenant.token not in json.dumps(entries)
    times = [entry["at"] for entry in entries]
    assert times == sorted(times)

    sendex = tenant.get(f"/api/v1/audiences/{audience}/contacts/{member['id']}/consent").json()["data"]
    assert [(entry["change"], entry["audience_id"], entry["source"]) for entry in sendex][:2] == [
        ("subscribed", audience, "api"),
        ("topic_out", audience, "api"),
    ]


def test_one_click_and_imports_name_their_source(tenant: Tenant, db: Database) -> None:
    audience = tenant.audience()["id"]
    member = tenant.contact(audience, "bo@example.net")
    tenant.client.post(
        member["unsubscribe_url"].removeprefix("http://roster.test"), data={"List-Unsubscribe": "One-Click"}
    )
    assert changes(history(tenant, "bo@example.net"))[-1] == ("unsubscribed", audience, None, "one_click")

    body = "Email,Unsubscribed,Bounced\r\ncy@example.net,,\r\nbo@example.net,true,true\r\n"
    created = tenant.post(
        f"/api/v1/audiences/{audience}/imports", content=body.encode(), headers={"Content-Type": "text/csv"}
    ).json()
    deadline = time.monotonic() + 30
    while tenant.get(f"/api/v1/audiences/{audience}/imports/{created['id']}").json()["status"] != "done":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    new = history(tenant, "cy@example.net")
    assert [(entry["change"], entry["listId"], entry["source"], entry["sourceId"]) for entry in new] == [
        ("subscribed", audience, "import", created["id"])
    ]
    flagged = [
        (entry["change"], entry["listId"], entry["source"]) for entry in history(tenant, "bo@example.net")
    ]
    assert sorted(flagged[-2:]) == [("bounced", None, "import"), ("unsubscribed", None, "import")]


def test_the_cli_reads_the_history_and_records_its_own_changes(
    tenant: Tenant, other: Tenant, database_url: str
) -> None:
    audience = tenant.audience()["id"]
    tenant.contact(audience, "di@example.net")

    def roster(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "roster", *args],
            env={**os.environ, "ROSTER_DATABASE_URL": database_url},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    shown = roster("contact", "consent", "di@example.net", "--team", tenant.id, "--json")
    assert shown.returncode == 0, shown.stderr
    assert [entry["change"] for entry in json.loads(shown.stdout)["history"]] == ["subscribed"]
    text = roster("contact", "consent", "di@example.net", "--team", tenant.id)
    assert "subscribed" in text.stdout
    assert audience in text.stdout
    missing = roster("contact", "consent", "di@example.net", "--team", other.id)
    assert missing.returncode == 1
    assert "not found" in missing.stderr


def test_another_teams_contact_has_no_history_here(tenant: Tenant, other: Tenant) -> None:
    audience = tenant.audience()["id"]
    member = tenant.contact(audience, "ed@example.net")
    assert other.sendx("GET", f"/contact/{member['id']}/consent").status_code == 404
    theirs = other.audience()["id"]
    assert other.get(f"/api/v1/audiences/{theirs}/contacts/{member['id']}/consent").status_code == 404
    assert other.get(f"/api/v1/audiences/{audience}/contacts/{member['id']}/consent").status_code == 404
