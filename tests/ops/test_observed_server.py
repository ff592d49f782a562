"""The real ``roster serve`` with two worker processes: JSON access lines carrying request IDs,
and metrics that add up both processes' counts."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx

from roster.core import teams
from roster.storage.db import Database
from tests.conftest import serving


def test_two_workers_log_json_lines_and_count_together(
    database_url: str, db: Database, tmp_path: Path
) -> None:
    def setup(conn: object) -> str:
        team = teams.create_team(conn, "Observed")  # type: ignore[arg-type]
        return teams.create_key(conn, team.id, teams.FULL_ACCESS, "observed")[1]  # type: ignore[arg-type]

    token = db.run_write(setup)
    log = tmp_path / "serve.log"
    env = {"ROSTER_LOG_FORMAT": "json", "ROSTER_METRICS_TOKEN": "scrape", "ROSTER_WORKER": "off"}
    with serving(database_url, log, "--workers", "2", **env) as base:
        headers = {"X-Team-ApiKey": token}
        sent = []
        with httpx.Client(base_url=base, headers=headers) as client:
            created = client.post("/api/v1/rest/contact", json={"email": "watched@example.com"})
            assert created.status_code == 201, created.text
            for index in range(40):
                # A fresh connection each time, so that both processes answer some.
                response = httpx.get(
                    f"{base}/api/v1/rest/contact", headers={**headers, "X-Request-ID": f"t-{index}"}
                )
                assert response.headers["x-request-id"] == f"t-{index}"
                sent.append(f"t-{index}")
        totals = set()
        for _ in range(6):
            scraped = httpx.get(f"{base}/metrics", headers={"Authorization": "Bearer scrape"}).text
            found = re.search(
                r'roster_http_requests_total\{dialect="sendx",method="GET",route="/api/v1/rest/contact",'
                r'status="200"\} (\d+)',
                scraped,
            )
            assert found, scraped[:2000]
            totals.add(int(float(found.group(1))))
        assert totals == {40}  # whichever process answers the scrape
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    access = [line for line in lines if line["logger"] == "roster.access"]
    by_id = {line["request_id"]: line for line in access}
    for request_id in sent:
        line = by_id[request_id]
        assert line["route"] == "/api/v1/rest/contact"
        assert line["status"] == 200
        assert line["method"] == "GET"
        assert line["duration_ms"] > 0
        assert line["team_id"].startswith("team_")
    assert len({line["process"] for line in access}) == 2  # both processes answered
    whole = log.read_text()
    assert token not in whole
    assert "watched@example.com" not in whole
