"""The suppression list, and one person's data on request: its export and its erasure, after
which nothing of the person is left in the database but a keyed hash of the address."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import inspect, text

from roster.core.preferences import PreferenceLinks
from roster.storage.db import Database
from tests.conftest import Tenant, raw_bytes
from tests.jobs.test_sending import audience_with, by_recipient, dispatcher, made, send_now
from tests.smtp_sink import smtp_sink

PERSON = "wilhelmina.quarterstaff@erase-me.example"


def wait_for_import(tenant: Tenant, audience: str, job: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while (found := tenant.get(f"/api/v1/audiences/{audience}/imports/{job}").json())["status"] != "done":
        assert time.monotonic() < deadline, found
        time.sleep(0.05)
    return dict(found)


def imported(tenant: Tenant, audience: str, body: str) -> dict[str, Any]:
    job = tenant.post(
        f"/api/v1/audiences/{audience}/imports", content=body.encode(), headers={"Content-Type": "text/csv"}
    ).json()
    return wait_for_import(tenant, audience, job["id"])


def test_suppressed_addresses_are_never_mailed_nor_imported(
    tenant: Tenant, other: Tenant, db: Database, links: PreferenceLinks
) -> None:
    audience = audience_with(tenant, "kept@example.net", "held@example.net")
    answer = tenant.sendx("POST", "/suppression", json={"emails": ["Held@Example.net", "never@example.net"]})
    assert answer.status_code == 201, answer.text
    assert answer.json()["message"].startswith("2 of 2")
    assert (
        tenant.sendx("POST", "/suppression", json={"emails": ["held@example.net"]})
        .json()["message"]
        .startswith("0 of 1")
    )
    listed = tenant.sendx("GET", "/suppression").json()
    assert sorted(entry["email"] for entry in listed) == ["held@example.net", "never@example.net"]
    assert {(entry["reason"], entry["source"]) for entry in listed} == {("manual", "api")}
    assert other.sendx("GET", "/suppression").json() == []
    assert tenant.sendx("POST", "/suppression", json={"emails": ["not an address"]}).status_code == 400
    assert tenant.sendx("POST", "/suppression", json={"emails": []}).status_code == 400

    campaign = send_now(tenant, includedLists=[audience])
    with smtp_sink() as sink:
        dispatcher(db, links, sink.url)()
        assert sorted(by_recipient(sink.of(campaign["id"]))) == ["kept@example.net"]
        test = tenant.sendx(
            "POST",
            f"/campaign/{campaign['id']}/test",
            json={"emails": ["held@example.net", "me@example.net"]},
        ).json()
        assert [(item["email"], item["accepted"]) for item in test["data"]] == [
            ("held@example.net", False),
            ("me@example.net", True),
        ]
        assert "suppression list" in test["data"][0]["reply"]
        assert "held@example.net" not in {item.recipient for item in sink.received}
    report = tenant.sendx("GET", f"/report/campaign/{campaign['id']}").json()
    assert (report["sentContactCount"], report["skippedContactCount"]) == (1, 1)

    job = imported(tenant, audience, "Email\r\nnever@example.net\r\nnew@example.net\r\n")
    assert (job["created"], job["skipped"], job["failed"]) == (1, 1, 0)
    assert job["errors"][0]["line"] == 2
    assert "suppression list" in job["errors"][0]["reason"]
    assert tenant.sendx("GET", "/contact/never@example.net").status_code == 404

    assert tenant.sendx("DELETE", "/suppression/never@example.net").status_code == 200
    assert tenant.sendx("DELETE", "/suppression/never@example.net").status_code == 404
    assert other.sendx("DELETE", "/suppression/held@example.net").status_code == 404
    job = imported(tenant, audience, "Email\r\nnever@example.net\r\n")
    assert job["created"] == 1


def person_in(
    tenant: Tenant, db: Database, links: PreferenceLinks, email: str, names: tuple[str, str, str]
) -> tuple[dict[str, Any], str]:
    """A person with a list, a tag, a custom value, events, consent and a campaign received."""
    city = made(tenant, "/customfield", {"name": "city", "type": 0})["id"]
    audience = made(tenant, "/list", {"name": "Nyheter"})["id"]
    person = made(
        tenant,
        "/contact",
        {"email": email, "firstName": names[0], "lastName": names[1], "lists": [audience],
         "tags": ["vip"], "customFields": {city: names[2]}},
    )  # fmt: skip
    event = {"identifier": email, "name": "visited", "data": {"page": "/x"}}
    assert tenant.sendx("POST", "/events/custom", json=event).status_code == 200
    campaign = send_now(tenant, includedLists=[audience])
    with smtp_sink() as sink:
        dispatcher(db, links, sink.url)()
    return person, campaign["id"]


def test_a_persons_data_comes_out_whole(
    tenant: Tenant, other: Tenant, db: Database, links: PreferenceLinks
) -> None:
    person, campaign = person_in(
        tenant, db, links, "exported@example.net", ("Exporta", "Documenta", "Uppsala")
    )
    answer = tenant.sendx("GET", "/contact/exported@example.net/export")
    assert answer.status_code == 200, answer.text
    document = answer.json()
    assert document["contact"]["email"] == "exported@example.net"
    assert document["contact"]["first_name"] == "Exporta"
    assert document["customFields"] == {"city": "Uppsala"}
    assert [(entry["name"], entry["subscribed"]) for entry in document["lists"]] == [("Nyheter", True)]
    assert document["tags"] == ["vip"]
    assert [event["name"] for event in document["events"]] == ["visited"]
    assert [(entry["change"], entry["source"]) for entry in document["consent"]] == [("subscribed", "api")]
    assert [(entry["campaign_id"], entry["state"]) for entry in document["campaigns"]] == [(campaign, "sent")]
    assert document["suppressed"] is False
    assert other.sendx("GET", f"/contact/{person['id']}/export").status_code == 404


def stored_text(db: Database, database_url: str) -> str:
    """Every byte the database keeps: the SQLite files, or every row of every PostgreSQL table."""
    if db.engine.dialect.name == "sqlite":
        base = Path(str(db.engine.url.database))
        files = [base, base.with_name(base.name + "-wal")]
        return raw_bytes(*files).decode("latin-1")
    with db.engine.connect() as conn:
        names = inspect(conn).get_table_names()
        return "\n".join(
            str(row[0]) for name in names for row in conn.execute(text(f'SELECT t::text FROM "{name}" t'))
        )


def test_erasure_leaves_nothing_of_the_person_but_a_hash(
    tenant: Tenant, db: Database, database_url: str, links: PreferenceLinks
) -> None:
    person, campaign = person_in(tenant, db, links, PERSON, ("Wilhelmina", "Quarterstaff", "Kvarnholmen"))
    audience = tenant.sendx("GET", "/list").json()[0]["id"]
    assert tenant.sendx("POST", f"/contact/{PERSON}/erase", json={}).status_code == 400
    assert tenant.sendx("POST", f"/contact/{PERSON}/erase", json={"confirm": False}).status_code == 400
    assert tenant.sendx("GET", f"/contact/{PERSON}").status_code == 200  # nothing changed
    assert PERSON in stored_text(db, database_url)

    answer = tenant.sendx("POST", f"/contact/{PERSON}/erase", json={"confirm": True})
    assert answer.status_code == 200, answer.text
    assert tenant.sendx("GET", f"/contact/{person['id']}").status_code == 404
    assert tenant.sendx("POST", f"/contact/{PERSON}/erase", json={"confirm": True}).status_code == 404
    stored = stored_text(db, database_url)
    for trace in (PERSON, "Wilhelmina", "Quarterstaff", "Kvarnholmen", person["id"]):
        assert trace not in stored, trace
    entries = tenant.sendx("GET", "/suppression").json()
    assert [(entry["email"], entry["reason"]) for entry in entries] == [(None, "erased")]
    report = tenant.sendx("GET", f"/report/campaign/{campaign}").json()
    assert report["sentContactCount"] == 1  # the campaign's figures stay

    job = imported(tenant, audience, f"Email\r\n{PERSON}\r\n")
    assert (job["created"], job["skipped"]) == (0, 1)

    with db.engine.connect() as conn:
        erasures = conn.execute(
            text("SELECT source, source_id FROM erasures WHERE team_id = :t"), {"t": tenant.id}
        ).all()
    assert len(erasures) == 1
    assert erasures[0][0] == "api"


def test_the_cli_exports_and_erases(tenant: Tenant, db: Database, database_url: str) -> None:
    audience = audience_with(tenant, "cli-person@example.net")

    def roster(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "roster", *args],
            env={**os.environ, "ROSTER_DATABASE_URL": database_url},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    exported = roster("contact", "export", "cli-person@example.net", "--team", tenant.id)
    assert exported.returncode == 0, exported.stderr
    assert json.loads(exported.stdout)["lists"][0]["id"] == audience
    refused = roster("contact", "erase", "cli-person@example.net", "--team", tenant.id)
    assert refused.returncode == 1
    assert "--yes" in refused.stderr
    erased = roster("contact", "erase", "cli-person@example.net", "--team", tenant.id, "--yes", "--json")
    assert erased.returncode == 0, erased.stderr
    assert tenant.sendx("GET", "/contact/cli-person@example.net").status_code == 404
    missing = roster("contact", "erase", "cli-person@example.net", "--team", tenant.id, "--yes")
    assert missing.returncode == 1
    assert "not found" in missing.stderr
    listed = roster("suppression", "list", "--team", tenant.id, "--json")
    assert [json.loads(line)["reason"] for line in listed.stdout.splitlines()] == ["erased"]
