"""Campaign feedback: tracked-link redirects against ``GET /healthz``, and the campaign report
of a large sent campaign.

    .venv/bin/python bench/feedback_bench.py [--database sqlite|postgresql]
        [--recipients 1000000] [--events 5000000] [--duration 10] [--write]

A fresh database gets one team with a list of ``--recipients`` contacts and a campaign sent
to all of them (its recipients resolved by Roster's own resolver and marked sent), then
``--events`` opens and clicks by those recipients in ``contact_events`` and the matching
report counters. One ``roster serve`` (one granian worker, ``ROSTER_WORKER=off``) then
takes, each for ``--duration`` seconds with wrk on loopback:
1. ``GET /healthz``, 64 connections: the framework's own floor on this machine;
2. ``GET /t/c/…``, 64 connections: tracked links of 1,000 recipients (302, recorded in
   batches): the aim is at least half of 1;
3. ``GET /api/v1/rest/report/campaign/{id}``, one connection: the aim is p99 ≤ 20 ms.
It then checks that the clicks were written (events recorded against requests made).
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import re
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from sqlalchemy import func, select, update

from bench.http_bench import free_port, parse_wrk, run_wrk, start_server
from bench.send_bench import PG_ADMIN, STAMP, fresh_database, seed
from roster.core import campaigns, sending, tallies, teams
from roster.core.tracking import Tracking
from roster.ids import new_id
from roster.storage.db import Database
from roster.storage.tables import campaign_recipients, contact_events
from roster.storage.tables import campaigns as campaign_rows

ROOT = Path(__file__).resolve().parent.parent
SECRET = "feedback-bench-secret"
BASE = "http://bench.example"
SHOP = "https://shop.example.com/sale?from=newsletter"

LUA_PATHS = """
local paths = {%(paths)s}
request = function()
  local agent = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Firefox/133.0"
  return wrk.format("GET", paths[math.random(1, #paths)], {["User-Agent"]=agent})
end
"""
LUA_REPORT = """
request = function()
  local path = "/api/v1/rest/report/campaign/%(campaign)s"
  return wrk.format("GET", path, {["X-Team-ApiKey"]="%(token)s"})
end
"""


def sent_campaign(url: str, team_id: str, audience_id: str, sender_id: str) -> tuple[str, str, list[str]]:
    """A campaign sent to the whole list: its ID, an API key, and its recipients' IDs."""
    db = Database(url)

    def make(conn: object) -> tuple[str, str]:
        fields = {
            "name": "Bench",
            "subject": "Hi",
            "sender": sender_id,
            "html_code": f'<a href="{SHOP}">Sale</a>',
            "schedule_type": 1,
            "included_lists": [audience_id],
        }
        campaign = campaigns.create_campaign(conn, team_id, fields)  # type: ignore[arg-type]
        _, token = teams.create_key(conn, team_id, teams.FULL_ACCESS, "bench")  # type: ignore[arg-type]
        return campaign.row.id, token

    campaign_id, token = db.run_write(make)
    while db.run_write(sending.resolve_next, datetime.now(UTC), 100_000):
        pass

    def mark_sent(conn: object) -> list[str]:
        moment = datetime.now(UTC)
        done = conn.execute(  # type: ignore[attr-defined]
            update(campaign_recipients)
            .where(campaign_recipients.c.campaign_id == campaign_id)
            .values(state="sent", reply="250 2.0.0 Ok", done_at=moment)
        ).rowcount
        tallies.add(conn, team_id, campaign_id, sent=done)  # type: ignore[arg-type]
        conn.execute(
            update(campaign_rows)
            .where(campaign_rows.c.id == campaign_id)
            .values(status="sent", sent_at=moment)
        )  # type: ignore[attr-defined]
        query = select(campaign_recipients.c.contact_id).where(
            campaign_recipients.c.campaign_id == campaign_id
        )
        return list(conn.execute(query).scalars())  # type: ignore[attr-defined]

    recipients = db.run_write(mark_sent)
    db.dispose()
    return campaign_id, token, recipients


def add_events(url: str, team_id: str, campaign_id: str, recipients: list[str], count: int) -> None:
    """``count`` opens and clicks (four opens to a click) spread over the recipients, and the
    report's counters for them."""
    db = Database(url)
    rng = random.Random(11)
    start = datetime.now(UTC) - timedelta(days=1)
    opened: set[str] = set()
    clicked: set[str] = set()
    rows = []
    for i in range(count):
        contact_id = recipients[rng.randrange(len(recipients))]
        kind = "clicked" if i % 5 == 0 else "opened"
        (clicked if kind == "clicked" else opened).add(contact_id)
        moment = start + timedelta(microseconds=i * 10)
        data = '{"userAgent": "Mozilla/5.0", "counted": true' + (
            f', "url": "{SHOP}"}}' if kind == "clicked" else "}"
        )
        rows.append((new_id("event"), team_id, contact_id, kind, kind, data, campaign_id, moment))
    raw = db.engine.raw_connection()
    cursor = raw.cursor()
    if db.is_sqlite:
        cursor.execute("BEGIN")
        cursor.executemany(
            "INSERT INTO contact_events (id, team_id, contact_id, kind, name, data, campaign_id, "
            "occurred_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(*row[:7], row[7].strftime(STAMP), row[7].strftime(STAMP)) for row in rows],
        )
        cursor.execute("COMMIT")
    else:
        with cursor.copy(
            "COPY contact_events (id, team_id, contact_id, kind, name, data, campaign_id, occurred_at, "
            "created_at) FROM STDIN"
        ) as copy:
            for row in rows:
                copy.write_row((*row, row[7]))
        raw.commit()
    raw.close()
    clicks = count // 5 + (1 if count % 5 else 0)

    def count_them(conn: object) -> None:
        tallies.add(conn, team_id, campaign_id, opened=count - clicks, opened_unique=len(opened | clicked),  # type: ignore[arg-type]
                    clicked=clicks, clicked_unique=len(clicked))  # fmt: skip
        tallies.add_clicks(conn, team_id, campaign_id, SHOP, clicks)  # type: ignore[arg-type]

    db.run_write(count_them)
    if not db.is_sqlite:
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    db.dispose()


def clicks_recorded(url: str, campaign_id: str) -> int:
    db = Database(url)
    query = select(func.count()).where(
        contact_events.c.campaign_id == campaign_id,
        contact_events.c.kind == "clicked",
        contact_events.c.created_at > datetime.now(UTC) - timedelta(hours=1),
    )
    recorded = int(db.run_read(lambda conn: conn.execute(query).scalar_one()))
    db.dispose()
    return recorded


def requests_made(output: str) -> int:
    found = re.search(r"(\d+) requests in", output)
    return int(found.group(1)) if found else 0


def main() -> None:
    # One key seals the run's secrets, for this process and the servers it starts.
    os.environ.setdefault(
        "ROSTER_KEY_FILE", str(Path(tempfile.mkdtemp(prefix="roster-bench-")) / "roster.key")
    )
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--recipients", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=5_000_000)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--write", action="store_true", help="record the table in docs/benchmarks.md")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        url, pg_name = fresh_database(args.database, Path(folder))
        try:
            began = time.monotonic()
            team_id, audience_id, sender_id = seed(url, args.recipients)
            campaign_id, token, recipients = sent_campaign(url, team_id, audience_id, sender_id)
            add_events(url, team_id, campaign_id, recipients, args.events)
            print(f"seeded in {time.monotonic() - began:.0f} s", file=sys.stderr)
            tracking = Tracking(BASE, SECRET)
            paths = [
                tracking.click_url(campaign_id, contact_id, SHOP).removeprefix(BASE)
                for contact_id in random.Random(3).sample(recipients, 1000)
            ]
            port = free_port()
            env = {"ROSTER_DATABASE_URL": url, "ROSTER_SECRET_KEY": SECRET, "ROSTER_PUBLIC_URL": BASE,
                   "ROSTER_WORKER": "off", "ROSTER_RATE_LIMIT": "off", "PATH": "/usr/bin:/bin"}  # fmt: skip
            server = start_server(
                [sys.executable, "-m", "roster", "serve", "--host", "127.0.0.1", "--port", str(port)],
                env,
                port,
            )
            try:
                work = Path(folder)
                floor = run_wrk(port, 'request = function() return wrk.format("GET", "/healthz") end',
                                args.duration, 64, work)  # fmt: skip
                before = clicks_recorded(url, campaign_id)
                lua = LUA_PATHS % {"paths": ",".join(f'"{path}"' for path in paths)}
                (work / "clicks.lua").write_text(lua)
                output = subprocess.run(
                    ["wrk", "-t1", "-c64", f"-d{args.duration}s", "--latency", "-s", str(work / "clicks.lua"),
                     f"http://127.0.0.1:{port}"], capture_output=True, text=True, check=True,
                ).stdout  # fmt: skip
                redirects = parse_wrk(output)
                made = requests_made(output)
                time.sleep(1.0)
                recorded = clicks_recorded(url, campaign_id) - before
                report = run_wrk(
                    port, LUA_REPORT % {"campaign": campaign_id, "token": token}, args.duration, 1, work
                )
            finally:
                server.terminate()
                try:
                    server.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    server.kill()
        finally:
            if pg_name:
                with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')

    header = (
        f"Measured {datetime.now(UTC):%Y-%m-%d} on {platform.machine()}, Python {platform.python_version()}, "
        f"{args.database}, {args.recipients:,} recipients, {args.events:,} events, one granian worker, "
        f"wrk -t1 -d{args.duration}s."
    )
    table = "\n".join(
        [
            "| figure | req/s | p99 | non-2xx/3xx |",
            "|---|---:|---:|---:|",
            *(
                f"| {name} | {rps:,.0f} | {p99:.2f} ms | {bad} |"
                for name, (rps, p99, bad) in (
                    ("`GET /healthz` (64 connections)", floor),
                    ("tracked link redirect (64 connections)", redirects),
                    ("campaign report (1 connection)", report),
                )
            ),
        ]
    )
    summary = (
        f"Redirects: {redirects[0] / floor[0]:.0%} of `/healthz`; {recorded:,} of {made:,} clicks written "
        "within a second of the run's end."
    )
    print(header, table, summary, sep="\n\n")
    if args.write:
        marker = f"feedback_bench_{args.database}"
        docs = ROOT / "docs" / "benchmarks.md"
        text = docs.read_text()
        block = f"<!-- {marker} -->\n{header}\n\n{table}\n\n{summary}\n<!-- /{marker} -->"
        if f"<!-- {marker} -->" in text:
            text = re.sub(rf"<!-- {marker} -->.*<!-- /{marker} -->", lambda _: block, text, flags=re.S)
        else:
            text += f"\n{block}\n"
        docs.write_text(text)


if __name__ == "__main__":
    main()
