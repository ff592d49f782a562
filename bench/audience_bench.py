"""Audiences v1 at scale: available contacts (not in an audience) and audience pages.

    .venv/bin/python -m bench.audience_bench [--contacts 1000000] [--write]

Seeds one team with N contacts and an audience holding every other one, then times, in
process, the functions behind ``GET /v1/audiences/:id/available-contacts`` and
``GET /v1/audiences/:id/contacts`` (first page of 20 and the total), 200 calls each.
"""

from __future__ import annotations

import argparse
import re
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.search_bench import STAMP, people, searched
from roster.core import audiences, memberships, teams
from roster.storage.db import Database
from roster.storage.migrate import upgrade

ROOT = Path(__file__).resolve().parent.parent


def seed(db: Database, count: int) -> tuple[str, str]:
    def setup(conn: Any) -> tuple[str, str]:
        team = teams.create_team(conn, "Audience bench")
        audience = audiences.create_list(conn, team.id, {"name": "Half"})
        return team.id, audience.id

    team_id, audience_id = db.run_write(setup)
    rows = people(count, team_id)
    raw = db.engine.raw_connection()
    cursor = raw.cursor()
    cursor.execute("BEGIN")
    cursor.executemany(
        "INSERT INTO contacts (id, team_id, email, email_normalized, first_name, last_name, "
        "unsubscribed, created_at, updated_at, search_text) VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?, ?)",
        [(*row[:6], row[6].strftime(STAMP), row[6].strftime(STAMP), searched(row)) for row in rows],
    )
    members = [
        (audience_id, row[0], team_id, 1, row[6].strftime(STAMP), row[6].strftime(STAMP)) for row in rows[::2]
    ]
    cursor.executemany(
        "INSERT INTO memberships (audience_id, contact_id, team_id, subscribed, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        members,
    )
    cursor.execute("INSERT INTO team_counts VALUES (?, 0, ?)", (team_id, count))
    cursor.execute(
        "INSERT INTO audience_counts VALUES (?, 0, ?, ?, ?)",
        (audience_id, team_id, len(members), len(members)),
    )
    cursor.execute("COMMIT")
    cursor.execute("ANALYZE")
    raw.close()
    return team_id, audience_id


def timed(call: Callable[[], object], times: int = 200) -> tuple[float, float]:
    call()
    samples = []
    for _ in range(times):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.99) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{Path(tmp) / 'audience.db'}")
        upgrade(db)
        started = time.monotonic()
        team_id, audience_id = seed(db, args.contacts)
        print(f"seeded {args.contacts:,} contacts in {time.monotonic() - started:.0f} s", flush=True)
        cases = {
            "available contacts, page 1": (memberships.page_outside, 0),
            "available contacts, page 100": (memberships.page_outside, 99 * 20),
            "audience contacts, page 1": (memberships.page_inside, 0),
        }
        lines = ["| call (20 per page, with total) | p50 | p99 |", "|---|---:|---:|"]
        for label, (function, offset) in cases.items():
            p50, p99 = timed(lambda f=function, o=offset: db.run_read(f, team_id, audience_id, o, 20, None))
            lines.append(f"| {label} | {p50:.2f} ms | {p99:.2f} ms |")
            print(lines[-1], flush=True)
        db.dispose()
    if args.write:
        header = (
            f"Measured {datetime.now(UTC):%Y-%m-%d}, SQLite, {args.contacts:,} contacts in one team, every "
            "other one in the audience, 200 calls each, in process."
        )
        docs = ROOT / "docs" / "benchmarks.md"
        block = (
            "<!-- audience_bench -->\n" + header + "\n\n" + "\n".join(lines) + "\n<!-- /audience_bench -->"
        )
        docs.write_text(
            re.sub(r"<!-- audience_bench -->.*<!-- /audience_bench -->", block, docs.read_text(), flags=re.S)
        )


if __name__ == "__main__":
    main()
