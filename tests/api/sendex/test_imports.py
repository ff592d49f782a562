"""Import jobs and exports over HTTP, in the Sendex dialect's conventions."""

from __future__ import annotations

import csv
import io
import json
import time
from typing import Any

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
