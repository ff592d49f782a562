"""Bulk import of contacts: the importer against the plain-insert ceiling, and its memory.

    .venv/bin/python -m bench.import_bench [--rows 1000000] [--database sqlite|postgresql] [--write]
    .venv/bin/python -m bench.import_bench --rss --rows 10000000

Writes a realistic CSV (``bench.contacts_file``: 8 columns, 3 custom fields, ~1 % repeated
emails, ~0.5 % bad rows), then, each into a fresh database with the same schema:

- **import**: ``roster.core.imports.run_job`` end to end (file read, every row checked,
  merged, counted), in-process;
- **re-import**: the same file again into the same team (every row an update);
- **ceiling**: the same rows read with ``csv`` and written with plain ``executemany``
  (SQLite) or ``COPY`` (PostgreSQL) into ``contacts``, ``contact_values`` and
  ``contact_tags`` (each tag made once), 10,000 rows per transaction, nothing checked.

With ``--rss`` it runs ``roster import contacts`` and then ``roster export contacts`` as
processes instead and prints each one's peak resident memory. ``--write`` replaces the
matching table in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import psycopg

from bench import contacts_file
from roster.core import custom_fields, imports, teams
from roster.core.search import fold, text_of
from roster.ids import new_id
from roster.storage.db import Database
from roster.storage.migrate import upgrade

ROOT = Path(__file__).resolve().parent.parent
PG_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
STAMP = "%Y-%m-%d %H:%M:%S.%f"


class Fresh:
    """A new, migrated database of the chosen kind, dropped afterwards."""

    def __init__(self, kind: str, tmp: Path) -> None:
        self.kind = kind
        self.name = f"roster_import_bench_{uuid.uuid4().hex[:8]}"
        if kind == "sqlite":
            self.url = f"sqlite:///{tmp / (self.name + '.db')}"
        else:
            with psycopg.connect(PG_URL, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{self.name}"')
            self.url = PG_URL.rsplit("/", 1)[0] + f"/{self.name}"
        self.db = Database(self.url, mmap_bytes=0)  # as `roster import` and `roster export` run
        upgrade(self.db)

    def team(self) -> tuple[str, dict[str, str]]:
        team_id = self.db.run_write(lambda conn: teams.create_team(conn, "Import bench").id)
        fields = {
            name: self.db.run_write(
                custom_fields.create_field, team_id, {"name": name, "field_type": kind}
            ).id
            for name, kind in contacts_file.FIELDS.items()
        }
        return team_id, fields

    def close(self) -> None:
        self.db.dispose()
        if self.kind == "postgresql":
            with psycopg.connect(PG_URL, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE "{self.name}" WITH (FORCE)')


def run_import(db: Database, team_id: str, path: Path) -> tuple[float, Any]:
    job = db.run_write(imports.create_job, team_id, path.name, "csv", imports.Options(), "running")
    started = time.perf_counter()
    with path.open("rb") as stream:
        job = imports.run_job(db, team_id, job.id, stream)
    return time.perf_counter() - started, job


def _batches(path: Path, size: int) -> Iterator[list[list[str]]]:
    with path.open(newline="", encoding="utf-8") as source:
        reader = csv.reader(source)
        next(reader)
        batch: list[list[str]] = []
        for row in reader:
            batch.append(row)
            if len(batch) == size:
                yield batch
                batch = []
        if batch:
            yield batch


def ceiling(fresh: Fresh, team_id: str, fields: dict[str, str], path: Path) -> float:
    """Plain inserts of the same rows into the same tables: no checks, no merge, no counts."""
    sqlite = fresh.kind == "sqlite"
    now = datetime.now(UTC)
    stamp = now.strftime(STAMP) if sqlite else now
    raw = fresh.db.engine.raw_connection()
    cursor = raw.cursor()
    plan, seats, signed = fields["Plan"], fields["Seats"], fields["Signed Up"]
    seen: set[str] = set()  # a plain load of a clean file: the repeated emails are left out
    tag_ids: dict[str, str] = {}
    mark = "?" if sqlite else "%s"
    started = time.perf_counter()
    for batch in _batches(path, 10_000):
        people = []
        values = []
        tagged = []
        for email, first, last, company, tag_text, plan_text, seat_text, day_text in batch:
            if email.lower() in seen:
                continue
            seen.add(email.lower())
            contact_id = new_id("contact")
            people.append(
                (
                    contact_id,
                    team_id,
                    email,
                    email.lower(),
                    first,
                    last,
                    company or None,
                    False,
                    2,
                    stamp,
                    stamp,
                    text_of(
                        {
                            "first_name": first,
                            "last_name": last,
                            "email_normalized": email.lower(),
                            "company": company,
                        }
                    ),
                )
            )
            values.append((plan, contact_id, team_id, plan_text, None, None, fold(plan_text)))
            values.append((seats, contact_id, team_id, seat_text, None, None, fold(seat_text)))
            values.append((signed, contact_id, team_id, day_text, None, None, fold(day_text)))
            for name in dict.fromkeys(filter(None, tag_text.split(";"))):
                if name not in tag_ids:
                    tag_ids[name] = new_id("tag")
                    cursor.execute(
                        "INSERT INTO tags (id, team_id, name, name_normalized, created_at, updated_at) "
                        f"VALUES ({', '.join([mark] * 6)})",
                        (tag_ids[name], team_id, name, name.lower(), stamp, stamp),
                    )
                tagged.append((tag_ids[name], contact_id, team_id))
        contacts_sql = (
            "INSERT INTO contacts (id, team_id, email, email_normalized, first_name, last_name, company, "
            "unsubscribed, contact_source, created_at, updated_at, search_text) VALUES "
        )
        if sqlite:
            cursor.execute("BEGIN")
            cursor.executemany(contacts_sql + "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", people)
            cursor.executemany(
                "INSERT INTO contact_values (field_id, contact_id, team_id, text, number, day, folded) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                values,
            )
            cursor.executemany(
                "INSERT INTO contact_tags (tag_id, contact_id, team_id) VALUES (?, ?, ?)", tagged
            )
            cursor.execute("COMMIT")
        else:
            with cursor.copy(
                "COPY contacts (id, team_id, email, email_normalized, first_name, last_name, company, "
                "unsubscribed, contact_source, created_at, updated_at, search_text) FROM STDIN"
            ) as copy:
                for person in people:
                    copy.write_row(person)
            with cursor.copy(
                "COPY contact_values (field_id, contact_id, team_id, text, folded) FROM STDIN"
            ) as copy:
                for value in values:
                    copy.write_row((*value[:4], value[6]))
            with cursor.copy("COPY contact_tags (tag_id, contact_id, team_id) FROM STDIN") as copy:
                for row in tagged:
                    copy.write_row(row)
            raw.commit()
    elapsed = time.perf_counter() - started
    raw.close()
    return elapsed


def measure(kind: str, rows: int, tmp: Path) -> list[str]:
    path = contacts_file.write(tmp / "contacts.csv", rows)
    fresh = Fresh(kind, tmp)
    try:
        team_id, _ = fresh.team()
        first, job = run_import(fresh.db, team_id, path)
        again, rerun = run_import(fresh.db, team_id, path)
    finally:
        fresh.close()
    plain = Fresh(kind, tmp)
    try:
        team_id, fields = plain.team()
        base = ceiling(plain, team_id, fields, path)
    finally:
        plain.close()
    return [
        f"Measured {date.today().isoformat()}, {kind}, {rows:,} rows, {os.cpu_count()} cores.",
        "",
        "| run | time | rows/s | outcome |",
        "|---|---:|---:|---|",
        f"| import (checked, merged, counted) | {first:.1f} s | {rows / first:,.0f} | "
        f"{job.created_count:,} created, {job.updated_count:,} updated by a later row of their email, "
        f"{job.skipped_count:,} merged into a later row in their batch, {job.failed_count:,} refused |",
        f"| re-import of the same file | {again:.1f} s | {rows / again:,.0f} | "
        f"{rerun.updated_count:,} updated ({again / first:.2f}× the first import) |",
        f"| ceiling: plain {'executemany' if kind == 'sqlite' else 'COPY'}, nothing checked | {base:.1f} s | "
        f"{rows / base:,.0f} | — |",
        "",
        f"Importer / ceiling: {base / first:.0%}.",
    ]


def peak_rss(args: list[str], env: dict[str, str], out: Any = subprocess.DEVNULL) -> tuple[float, int]:
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "roster", *args], env=env, stdout=out, stderr=subprocess.PIPE
    )
    _, status, usage = os.wait4(process.pid, 0)
    if status != 0:
        raise SystemExit(
            f"roster {' '.join(args)} failed: {process.stderr.read().decode() if process.stderr else ''}"
        )
    return time.perf_counter() - started, usage.ru_maxrss // 1024


def memory(kind: str, rows: int, tmp: Path) -> list[str]:
    path = contacts_file.write(tmp / "contacts.csv", rows)
    fresh = Fresh(kind, tmp)
    try:
        team_id, _ = fresh.team()
        env = {**os.environ, "ROSTER_DATABASE_URL": fresh.url}
        took, imported = peak_rss(["import", "contacts", str(path), "--team", team_id, "--json"], env)
        exported_took, exported = peak_rss(["export", "contacts", "--team", team_id], env)
    finally:
        fresh.close()
    return [
        f"Measured {date.today().isoformat()}, {kind}, {rows:,} rows, {os.cpu_count()} cores.",
        "",
        "| command | time | peak RSS |",
        "|---|---:|---:|",
        f"| `roster import contacts` | {took:.0f} s | {imported} MB |",
        f"| `roster export contacts` (to /dev/null) | {exported_took:.0f} s | {exported} MB |",
    ]


def write_section(marker: str, lines: list[str]) -> None:
    doc = ROOT / "docs" / "benchmarks.md"
    text = doc.read_text()
    block = f"<!-- {marker} -->\n" + "\n".join(lines) + f"\n<!-- /{marker} -->"
    pattern = re.compile(rf"<!-- {marker} -->.*?<!-- /{marker} -->", re.S)
    text = (
        pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n"
    )
    doc.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--rss", action="store_true", help="measure peak memory of the CLI commands")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.rss:
            lines = memory(args.database, args.rows, Path(tmp))
            marker = f"import_rss_{args.database}"
        else:
            lines = measure(args.database, args.rows, Path(tmp))
            marker = f"import_bench_{args.database}"
    print("\n".join(lines))
    if args.write:
        write_section(marker, lines)


if __name__ == "__main__":
    main()
