"""Import jobs and exports over HTTP, in the Sendex dialect's conventions."""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, update

from roster.core import imports
from roster.core.clock import now
from roster.storage import tables
from roster.storage.db import Database
from tests.conftest import Tenant


def wait_for(tenant: Tenant, path: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        job = tenant.get(path).json()
        if job["status"] in ("done", "failed"):
            return dict(job)
        time.sleep(0.05)
    raise AssertionError(f"the import did not finish: {job}")


def test_an_import_job_runs_and_reports_every_refused_row(tenant: Tenant) -> None:
    audience = tenant.audience("Imported")
    body = "Email,First Name\r\nann@example.com,Ann\r\nnope,No\r\nbo@example.com,=HYPERLINK(1)\r\n"
    created = tenant.post(
        f"/api/v1/audiences/{audience['id']}/imports?tags=from-file",
        content=body.encode(),
        headers={"Content-Type": "text/csv", "X-Filename": "people.csv"},
    )
    assert created.status_code == 202, created.text
    job = created.json()
    assert (job["object"], job["status"], job["source"]) == ("import", "queued", "people.csv")
    finished = wait_for(tenant, f"/api/v1/audiences/{audience['id']}/imports/{job['id']}")
    assert finished["status"] == "done"
    assert {key: finished[key] for key in ("rows", "created", "updated", "skipped", "failed")} == {
        "rows": 3,
        "created": 2,
        "updated": 0,
        "skipped": 0,
        "failed": 1,
    }
    assert finished["errors"][0]["line"] == 3
    assert "not a valid email" in finished["errors"][0]["reason"]

    refused = tenant.get(f"/api/v1/audiences/{audience['id']}/imports/{job['id']}/errors")
    assert refused.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(refused.text)))
    assert rows[0] == ["line", "email", "reason"]
    assert rows[1][:2] == ["3", "nope"]

    members = tenant.get(f"/api/v1/audiences/{audience['id']}/contacts").json()
    assert sorted(member["email"] for member in members["data"]) == ["ann@example.com", "bo@example.com"]

    exported = tenant.get(f"/api/v1/audiences/{audience['id']}/export")
    assert exported.status_code == 200
    assert 'filename="' in exported.headers["content-disposition"]
    table = list(csv.DictReader(io.StringIO(exported.text)))
    assert [row["email"] for row in table] == ["ann@example.com", "bo@example.com"]
    assert table[1]["first_name"] == "'=HYPERLINK(1)"  # neutralised for spreadsheets
    assert table[0]["tags"] == "from-file"
    assert table[0]["lists"] == "Imported"

    ndjson = tenant.get("/api/v1/exports/contacts?format=ndjson")
    records = [json.loads(line) for line in ndjson.text.splitlines()]
    assert [record["first_name"] for record in records] == ["Ann", "=HYPERLINK(1)"]


def test_ndjson_body_and_bad_options(tenant: Tenant) -> None:
    audience = tenant.audience("Json")
    job = tenant.post(
        f"/api/v1/audiences/{audience['id']}/imports",
        content=b'{"email": "cy@example.com"}\n',
        headers={"Content-Type": "application/x-ndjson"},
    ).json()
    assert job["format"] == "ndjson"
    assert wait_for(tenant, f"/api/v1/audiences/{audience['id']}/imports/{job['id']}")["created"] == 1

    bad = tenant.post(f"/api/v1/audiences/{audience['id']}/imports?on_conflict=merge", content=b"email\n")
    assert bad.status_code == 422
    assert bad.json()["name"] == "validation_error"
    assert "on_conflict" in bad.json()["message"]
    unknown = tenant.get("/api/v1/exports/contacts?format=xml")
    assert unknown.status_code == 422


def test_another_teams_audience_and_jobs_are_not_found(tenant: Tenant, other: Tenant) -> None:
    audience = tenant.audience("Mine")
    job = tenant.post(f"/api/v1/audiences/{audience['id']}/imports", content=b"email\na@example.com\n").json()
    wait_for(tenant, f"/api/v1/audiences/{audience['id']}/imports/{job['id']}")
    theirs = other.audience("Theirs")
    assert other.post(f"/api/v1/audiences/{audience['id']}/imports", content=b"email\n").status_code == 404
    assert other.get(f"/api/v1/audiences/{audience['id']}/imports/{job['id']}").status_code == 404
    assert other.get(f"/api/v1/audiences/{theirs['id']}/imports/{job['id']}").status_code == 404
    assert other.get(f"/api/v1/audiences/{audience['id']}/export").status_code == 404
    assert other.get(f"/api/v1/audiences/{audience['id']}/imports/{job['id']}/errors").status_code == 404


def test_a_job_whose_process_stopped_shows_as_failed(tenant: Tenant, db: Database) -> None:
    audience = tenant.audience("Lost")
    options = imports.Options(audience_id=audience["id"])
    lost, alive = (
        db.run_write(imports.create_job, tenant.id, "people.csv", "csv", options, state)
        for state in ("running", "queued")
    )

    def age(conn: Connection, job_id: str, by: timedelta) -> None:
        conn.execute(
            update(tables.imports).where(tables.imports.c.id == job_id).values(updated_at=now() - by)
        )

    db.run_write(age, lost.id, imports.STALE_AFTER + timedelta(seconds=1))
    db.run_write(age, alive.id, imports.STALE_AFTER - timedelta(seconds=30))
    shown = {
        job.id: tenant.get(f"/api/v1/audiences/{audience['id']}/imports/{job.id}").json()
        for job in (lost, alive)
    }
    assert (shown[lost.id]["status"], shown[lost.id]["error"]) == ("failed", imports.LOST)
    assert "no progress for 5 minutes" in imports.LOST
    assert (shown[alive.id]["status"], shown[alive.id]["error"]) == ("queued", None)


def test_an_arriving_upload_keeps_its_job_alive(tenant: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    beats: list[str] = []
    touch = imports.touch

    def counted(conn: Connection, job_id: str) -> None:
        beats.append(job_id)
        touch(conn, job_id)

    monkeypatch.setattr(imports, "BEAT", timedelta(0))
    monkeypatch.setattr(imports, "touch", counted)

    def body() -> Iterator[bytes]:
        yield b"email\r\n"
        for number in range(3):
            yield f"p{number}@example.com\r\n".encode()

    audience = tenant.audience("Slow upload")
    created = tenant.post(
        f"/api/v1/audiences/{audience['id']}/imports", content=body(), headers={"Content-Type": "text/csv"}
    )
    assert created.status_code == 202, created.text
    finished = wait_for(tenant, f"/api/v1/audiences/{audience['id']}/imports/{created.json()['id']}")
    assert (finished["status"], finished["created"]) == ("done", 3)
    assert set(beats) == {created.json()["id"]}
