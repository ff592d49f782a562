"""``roster import contacts`` and ``roster export contacts`` run as a user runs them."""

from __future__ import annotations

import csv
import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench import contacts_file
from sqlalchemy import func, select

from roster.core import audiences, contacts, custom_fields, imports, memberships, teams
from roster.storage.db import Database
from roster.storage.tables import contacts as contact_rows
from roster.storage.tables import imports as import_rows
from tests.test_cli import roster


def export(database_url: str, team: str, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "roster", "export", "contacts", "--team", team, *args],
        env={**os.environ, "ROSTER_DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout


def comparable(text: str) -> list[dict[str, str]]:
    """An export's rows without what belongs to the copy: its ID, update time and source."""
    rows = list(csv.DictReader(io.StringIO(text)))
    return [{k: v for k, v in row.items() if k not in ("id", "updated", "contact_source")} for row in rows]


def seed(db: Database) -> str:
    def setup(conn: Any) -> str:
        team = teams.create_team(conn, "Source").id
        weekly = audiences.create_list(conn, team, {"name": "Weekly"})
        audiences.create_list(conn, team, {"name": "Monthly"})
        plan = custom_fields.create_field(conn, team, {"name": "Plan", "field_type": 0}).id
        seats = custom_fields.create_field(conn, team, {"name": "Seats", "field_type": 1}).id
        mobile = custom_fields.create_field(conn, team, {"name": "Mobile", "field_type": 0}).id
        created = custom_fields.create_field(conn, team, {"name": "Created", "field_type": 2}).id
        contacts.create_contact(
            conn,
            team,
            {
                "email": "Ann@Example.com",
                "first_name": "=cmd|' /C calc'!A0",
                "last_name": "O'Neil, Jr",
                "company": "Acme\nLabs",
                "phone": "+14155550100",
                "lists": ["Weekly", "Monthly"],
                "tags": ["vip", "-minus"],
                "custom_fields": {plan: "@pro", seats: 12, mobile: "ask first", created: "2020-02-29"},
            },
        )
        bo = contacts.create_contact(conn, team, {"email": "bo@example.com", "lists": ["Weekly"]})
        memberships.set_subscribed(conn, team, weekly.id, bo.contact.id, False)
        contacts.create_contact(conn, team, {"email": "cy@example.com", "first_name": "Çy ✓"})
        contacts.unsubscribe(conn, team, "cy@example.com")
        return team

    return db.run_write(setup)


def test_export_then_import_into_an_empty_team_round_trips(
    database_url: str, db: Database, tmp_path: Path
) -> None:
    source = seed(db)
    exported = export(database_url, source)
    assert "'=cmd" in exported
    assert "'+14155550100" in exported
    assert "'@pro" in exported
    assert exported.splitlines()[0].endswith(",Plan,Seats,field:Mobile,field:Created")
    path = tmp_path / "contacts.csv"
    path.write_text(exported, encoding="utf-8", newline="")

    target = db.run_write(lambda conn: teams.create_team(conn, "Copy").id)
    job = roster(database_url, "import", "contacts", str(path), "--team", target, "--create-fields")
    assert (job["status"], job["rows"], job["created"], job["failed"]) == ("done", 3, 3, 0)
    assert comparable(export(database_url, target)) == comparable(exported)

    ndjson = export(database_url, source, "--format", "ndjson")
    (tmp_path / "contacts.ndjson").write_text(ndjson, encoding="utf-8")
    again = db.run_write(lambda conn: teams.create_team(conn, "Copy 2").id)
    job = roster(
        database_url,
        "import",
        "contacts",
        str(tmp_path / "contacts.ndjson"),
        "--team",
        again,
        "--create-fields",
    )
    assert job["created"] == 3
    assert comparable(export(database_url, again)) == comparable(exported)


def test_a_killed_import_leaves_whole_batches_and_resumes_without_duplicates(
    database_url: str, db: Database, tmp_path: Path
) -> None:
    path = contacts_file.write(tmp_path / "people.csv", 60_000, seed=3)
    team = db.run_write(lambda conn: teams.create_team(conn, "Killed").id)
    for name, kind in contacts_file.FIELDS.items():
        db.run_write(custom_fields.create_field, team, {"name": name, "field_type": kind})
    process = subprocess.Popen(
        [sys.executable, "-m", "roster", "import", "contacts", str(path), "--team", team, "--json"],
        env={**os.environ, "ROSTER_DATABASE_URL": database_url},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def progress(conn: Any) -> Any:
        return conn.execute(select(import_rows).where(import_rows.c.team_id == team)).first()

    deadline = time.monotonic() + 60
    while (job := db.run_read(progress)) is None or job.rows_read < 2 * imports.BATCH_ROWS:
        assert time.monotonic() < deadline
        assert process.poll() is None
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()

    job = db.run_read(progress)
    assert job.rows_read < 60_000, "the import finished before it could be killed"
    assert job.rows_read % imports.BATCH_ROWS == 0  # whole batches only
    assert job.created_count + job.updated_count + job.skipped_count + job.failed_count == job.rows_read
    stored = db.run_read(
        lambda conn: conn.execute(select(func.count()).where(contact_rows.c.team_id == team)).scalar()
    )
    assert stored == job.created_count

    resumed = roster(database_url, "import", "contacts", str(path), "--team", team, "--resume", job.id)
    assert (resumed["id"], resumed["status"], resumed["rows"]) == (job.id, "done", 60_000)
    assert resumed["created"] + resumed["updated"] + resumed["skipped"] + resumed["failed"] == 60_000
    total = db.run_read(
        lambda conn: conn.execute(select(func.count()).where(contact_rows.c.team_id == team)).scalar()
    )
    assert total == resumed["created"]

    again = roster(database_url, "import", "contacts", str(path), "--team", team)
    assert (again["created"], again["failed"]) == (0, resumed["failed"])
    assert (
        db.run_read(
            lambda conn: conn.execute(select(func.count()).where(contact_rows.c.team_id == team)).scalar()
        )
        == total
    )
