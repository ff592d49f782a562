"""HTTP throughput of the Sendex hot paths, beside a bare-ASGI ceiling.

    .venv/bin/python bench/http_bench.py [--contacts 100000] [--duration 10] [--connections 64]
        [--database sqlite|postgresql] [--workers 1]

Seeds a fresh database (a SQLite file, or a new PostgreSQL database dropped afterwards) with
one audience of N contacts, starts `roster serve` (granian, ``--workers``), drives it with wrk
on loopback, then does the same against bench/ceiling.py (the same SQL on the driver in a
bare ASGI app on granian: sqlite3, or psycopg through a pool) and against bench/floor.py (Litestar with the
same routes and no database), and prints req/s, p99 and the ratio to the ceiling for: contact
upsert, contact GET, list page at offset 0 and at offset 90,000; and for Roster alone, the
SendX contact GET. With --write, replaces the database's results table in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg

from roster.core import domains, teams
from roster.core.audiences import create_audience
from roster.core.search import text_of
from roster.ids import base62
from roster.storage.db import Database
from roster.storage.migrate import upgrade

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
STAMP_FORMAT = "%Y-%m-%d %H:%M:%S.%f"


@dataclass
class Seeded:
    token: str
    audience_id: str
    contact_ids: list[str]


def seed(url: str, count: int) -> Seeded:
    db = Database(url)
    upgrade(db)

    def setup(conn: object) -> tuple[str, str, str]:
        team = teams.create_team(conn, "Bench")  # type: ignore[arg-type]
        _, token = teams.create_key(conn, team.id, teams.FULL_ACCESS, "bench")  # type: ignore[arg-type]
        domains.add_domain(conn, team.id, "bench.test", verified=True)  # type: ignore[arg-type]
        audience = create_audience(conn, team.id, "Bench audience", "bench.test")  # type: ignore[arg-type]
        return team.id, token, audience.id

    team_id, token, audience_id = db.run_write(setup)
    start = datetime.now(UTC) - timedelta(days=30)
    contacts, members, ids = [], [], []
    for i in range(count):
        moment = start + timedelta(milliseconds=i)
        contact_id = "contact_" + base62((int(moment.timestamp() * 1000) << 83) | random.getrandbits(83), 22)
        stamp = moment.strftime(STAMP_FORMAT)
        email = f"person{i}@example.com"
        names = {"first_name": f"First{i}", "last_name": f"Last{i}", "email_normalized": email}
        contacts.append(
            (contact_id, team_id, email, email, f"First{i}", f"Last{i}", 0, stamp, stamp, text_of(names))
        )
        members.append((audience_id, contact_id, team_id, 1, stamp, stamp))
        ids.append(contact_id)
    raw = db.engine.raw_connection()
    cursor = raw.cursor()
    if db.is_sqlite:
        cursor.execute("BEGIN")
        cursor.executemany(
            "INSERT INTO contacts (id, team_id, email, email_normalized, first_name, last_name, "
            "unsubscribed, created_at, updated_at, search_text) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            contacts,
        )
        cursor.executemany(
            "INSERT INTO memberships (audience_id, contact_id, team_id, subscribed, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            members,
        )
        cursor.execute(
            "INSERT INTO audience_counts (audience_id, slot, team_id, members, subscribed) "
            "VALUES (?, 0, ?, ?, ?)",
            (audience_id, team_id, count, count),
        )
        cursor.execute("COMMIT")
        cursor.execute("ANALYZE")
    else:
        columns = "id, team_id, email, email_normalized, first_name, last_name, unsubscribed, created_at"
        with cursor.copy(f"COPY contacts ({columns}, updated_at, search_text) FROM STDIN") as copy:
            for row in contacts:
                copy.write_row((*row[:6], bool(row[6]), *row[7:]))
        with cursor.copy(
            "COPY memberships (audience_id, contact_id, team_id, subscribed, created_at, updated_at) "
            "FROM STDIN"
        ) as copy:
            for row in members:
                copy.write_row((*row[:3], bool(row[3]), row[4], row[5]))
        cursor.execute(
            "INSERT INTO audience_counts (audience_id, slot, team_id, members, subscribed) "
            "VALUES (%s, 0, %s, %s, %s)",
            (audience_id, team_id, count, count),
        )
        raw.commit()
    raw.close()
    if not db.is_sqlite:
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
            conn.exec_driver_sql("CHECKPOINT")
    db.dispose()
    return Seeded(token, audience_id, ids)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(command: list[str], env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
            return process
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"server did not start: {command}")


LUA_UPSERT = """
local counter = 0
request = function()
  counter = counter + 1
  local n = math.random(1, 200000)
  local body = '{"email":"person' .. n .. '@example.com","first_name":"Upsert' .. counter .. '"}'
  return wrk.format("POST", "%(path)s", {["Authorization"]="Bearer %(token)s",
    ["Content-Type"]="application/json"}, body)
end
"""

LUA_GET = """
local ids = {%(ids)s}
request = function()
  return wrk.format("GET", "%(path)s/" .. ids[math.random(1, #ids)], {["Authorization"]="Bearer %(token)s"})
end
"""

LUA_GET_SENDX = """
local ids = {%(ids)s}
request = function()
  local id = ids[math.random(1, #ids)]
  return wrk.format("GET", "/api/v1/rest/contact/" .. id, {["X-Team-ApiKey"]="%(token)s"})
end
"""

LUA_PLAIN = """
request = function()
  return wrk.format("GET", "%(path)s", {["Authorization"]="Bearer %(token)s"})
end
"""


def parse_wrk(output: str) -> tuple[float, float, int]:
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p99_text = re.search(r"99%\s+([\d.]+)(us|ms|s)", output)
    assert p99_text is not None, output
    p99 = float(p99_text.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99_text.group(2)]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    return rps, p99, int(bad.group(1)) if bad else 0


Result = tuple[float, float, int]  # req/s, p99 in ms, non-2xx responses


def run_wrk(port: int, script: str, duration: int, connections: int, workdir: Path) -> Result:
    lua = workdir / "script.lua"
    lua.write_text(script)
    result = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{duration}s",
            "--latency",
            "-s",
            str(lua),
            f"http://127.0.0.1:{port}",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return parse_wrk(result.stdout)


def scenarios(seeded: Seeded) -> dict[str, str]:
    path = f"/api/v1/audiences/{seeded.audience_id}/contacts"
    sample = random.sample(seeded.contact_ids, min(10_000, len(seeded.contact_ids)))
    values = {"path": path, "token": seeded.token, "ids": ",".join(f'"{i}"' for i in sample)}
    deep = min(90_000, max(len(seeded.contact_ids) - 50, 0))
    return {
        "contact upsert (POST)": LUA_UPSERT % values,
        "contact GET": LUA_GET % values,
        "list, offset 0": LUA_PLAIN % {**values, "path": f"{path}?limit=50&offset=0"},
        f"list, offset {deep:,}": LUA_PLAIN % {**values, "path": f"{path}?limit=50&offset={deep}"},
        SENDX_GET: LUA_GET_SENDX % values,
    }


SENDX_GET = "SendX contact GET"  # Roster only: the reference servers have no SendX routes


def granian(target: str) -> Callable[[int], list[str]]:
    return lambda port: [
        sys.executable,
        "-m",
        "granian",
        "--interface",
        "asgi",
        "--port",
        str(port),
        "--workers",
        "1",
        target,
    ]


def servers(args: argparse.Namespace) -> dict[str, Callable[[int], list[str]]]:
    roster = [sys.executable, "-m", "roster", "serve", "--workers", str(args.workers), "--port"]
    found: dict[str, Callable[[int], list[str]]] = {
        "roster": lambda port: [*roster, str(port)],
        "floor": granian("bench.floor:app"),
    }
    found["ceiling"] = granian("bench.ceiling:app")
    return found


def measure(
    url: str, seeded: Seeded, args: argparse.Namespace, workdir: Path
) -> dict[str, dict[str, Result]]:
    # No rate limit: one key drives the whole load.
    env = {**os.environ, "ROSTER_DATABASE_URL": url, "PYTHONPATH": str(ROOT), "ROSTER_RATE_LIMIT": "off"}
    results: dict[str, dict[str, Result]] = {name: {} for name in servers(args)}
    for name, command in servers(args).items():
        port = free_port()
        process = start_server(command(port), env, port)
        try:
            for label, script in scenarios(seeded).items():
                if label == SENDX_GET and name != "roster":
                    continue
                run_wrk(port, script, 2, args.connections, workdir)  # warm-up
                result = results[name][label] = run_wrk(
                    port, script, args.duration, args.connections, workdir
                )
                print(f"{name:8} {label:24} {result[0]:9.0f} req/s  p99 {result[1]:7.2f} ms", flush=True)
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                # roster serve on PostgreSQL may not exit after load: its idle AnyIO worker
                # threads keep the worker process alive (docs/operations.md).
                print(f"{name} did not stop within 30 s of SIGTERM; killed", flush=True)
                process.kill()
                process.wait()
    return results


def table(results: dict[str, dict[str, Result]]) -> str:
    lines = [
        "| endpoint | Roster req/s | Roster p99 | ceiling req/s | ceiling p99 | Roster / ceiling "
        "| framework floor req/s |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for label, (rps, p99, bad) in results["roster"].items():
        note = f" ({bad} non-2xx)" if bad else ""
        ceiling = results.get("ceiling", {}).get(label)
        against = "– | – | –"
        if ceiling:
            against = f"{ceiling[0]:,.0f} | {ceiling[1]:.2f} ms | {rps / ceiling[0]:.0%}"
        floor = results["floor"].get(label)
        floor_rps = f"{floor[0]:,.0f}" if floor else "–"
        lines.append(f"| {label}{note} | {rps:,.0f} | {p99:.2f} ms | {against} | {floor_rps} |")
    return "\n".join(lines)


def main() -> None:
    # One key seals the run's secrets, for this process and the servers it starts.
    os.environ.setdefault(
        "ROSTER_KEY_FILE", str(Path(tempfile.mkdtemp(prefix="roster-bench-")) / "roster.key")
    )
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--workers", type=int, default=1, help="roster serve's worker processes")
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is required: apt-get install -y wrk")
    with tempfile.TemporaryDirectory() as tmp, fresh_database(args.database, Path(tmp)) as url:
        workdir = Path(tmp)
        started = time.monotonic()
        seeded = seed(url, args.contacts)
        print(f"seeded {args.contacts:,} contacts in {time.monotonic() - started:.1f} s", flush=True)
        results = measure(url, seeded, args, workdir)
    rendered = table(results)
    print(rendered)
    if args.write:
        header = (
            f"Measured {datetime.now(UTC):%Y-%m-%d} on {os.cpu_count()} cores ({platform.machine()}), "
            f"Python {platform.python_version()}, {args.database}, {args.contacts:,} contacts in the "
            f"audience, wrk -t1 -c{args.connections} -d{args.duration}s, {args.workers} granian "
            "worker(s) for Roster, one for the others."
        )
        marker = "http_bench" if args.database == "sqlite" else f"http_bench_{args.database}"
        docs = ROOT / "docs" / "benchmarks.md"
        text = docs.read_text()
        block = f"<!-- {marker} -->\n{header}\n\n{rendered}\n<!-- /{marker} -->"
        docs.write_text(re.sub(rf"<!-- {marker} -->.*<!-- /{marker} -->", block, text, flags=re.S))


@contextmanager
def fresh_database(kind: str, folder: Path) -> Iterator[str]:
    """A new database of ``kind``: a SQLite file in ``folder``, or a PostgreSQL database on
    127.0.0.1:5432 dropped afterwards."""
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'bench.db'}"
        return
    name = f"roster_http_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
