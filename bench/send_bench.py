"""Campaign delivery against a local SMTP sink, beside a plain aiosmtplib loop and the sink alone.

    .venv/bin/python bench/send_bench.py [--recipients 100000] [--database sqlite|postgresql]
        [--workers 1] [--connections 4] [--cap 120]

In one run, on this machine:
1. the sink alone (bench/smtp_sink.py, its own process): a raw pipelining client sends
   pre-rendered messages over ``--connections`` connections: how much the sink takes;
2. a plain aiosmtplib loop: the same number of pre-rendered, DKIM-signed messages over the
   same number of connections;
3. Roster: a fresh database (SQLite file, or a new PostgreSQL database) seeded with one list
   of ``--recipients`` contacts on a verified domain, a campaign sent now, and ``--workers``
   ``roster worker`` processes sending it through the sink (``rate=0``): time to the first
   message, messages a second until the campaign is sent (or for ``--cap`` seconds), and the
   workers' peak resident memory.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiosmtplib
import psycopg
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from roster.core import campaigns, domains, senders, teams
from roster.core.audiences import create_audience
from roster.core.dkim import new_key_pair
from roster.core.search import text_of
from roster.ids import base62
from roster.mail import compose
from roster.storage.db import Database
from roster.storage.migrate import upgrade
from roster.storage.tables import campaign_recipients

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
STAMP = "%Y-%m-%d %H:%M:%S.%f"


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def messages(count: int) -> list[tuple[str, bytes]]:
    """``count`` distinct signed messages as Roster composes them (recipient, bytes)."""
    key = new_key_pair(datetime.now(UTC))
    signer = compose.Signer("bench-mail.com", key.selector, key.private_pem.encode())
    templates = compose.compile_templates(
        "Hello {{ contact.firstName }}", HTML, None, "This month at Bench: what is new"
    )
    made = []
    for i in range(count):
        email = f"person{i}@example.com"
        link = f"http://127.0.0.1:8000/unsubscribe/{i:066d}"
        rendered = compose.render(templates, compose.context({"firstName": f"First{i}"}, {}, {}, link))
        headers = compose.Headers(
            "Bench", "news@bench-mail.com", f"First{i} Last{i}", email, None, link, "Bench list",
            "list_x.bench-mail.com", "campaign_x:team_x:roster", f"campaign_x/contact_{i}",
        )  # fmt: skip
        made.append((email, compose.message(rendered, headers, datetime.now(UTC), signer=signer).data))
    return made


HTML = (
    "<html><body><h1>Hello {{ contact.firstName }}</h1>"
    + "<p>A paragraph of news with <a href='https://example.com/a'>a link</a> and <b>bold</b> words.</p>" * 8
    + "<p><a href='{{ unsubscribe_url }}'>Unsubscribe</a></p></body></html>"
)


async def raw_client(port: int, batch: list[tuple[str, bytes]]) -> None:
    """Pipelined SMTP with no library: what the sink takes at most."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    await reader.readline()
    writer.write(b"EHLO bench\r\n")
    while not (await reader.readline()).startswith(b"250 "):
        pass
    for recipient, data in batch:
        writer.write(b"MAIL FROM:<news@bench-mail.com>\r\nRCPT TO:<" + recipient.encode() + b">\r\nDATA\r\n")
        for _ in range(3):
            await reader.readline()
        writer.write(data + (b"" if data.endswith(b"\r\n") else b"\r\n") + b".\r\n")
        await reader.readline()
    writer.write(b"QUIT\r\n")
    await reader.readline()
    writer.close()


async def library_client(port: int, batch: list[tuple[str, bytes]]) -> None:
    client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False)
    await client.connect()
    for recipient, data in batch:
        await client.sendmail("news@bench-mail.com", [recipient], data)
    await client.quit()


def rate_of(client: object, port: int, total: int, made: list[tuple[str, bytes]], connections: int) -> float:
    per = [
        [made[(c + i * connections) % len(made)] for i in range(total // connections)]
        for c in range(connections)
    ]

    async def run() -> float:
        started = time.perf_counter()
        await asyncio.gather(*(client(port, batch) for batch in per))  # type: ignore[operator]
        return (total // connections * connections) / (time.perf_counter() - started)

    return asyncio.run(run())


def fresh_database(kind: str, folder: Path) -> tuple[str, str | None]:
    if kind == "sqlite":
        return f"sqlite:///{folder / 'bench.db'}", None
    name = f"roster_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return make_url(PG_ADMIN).set(database=name).render_as_string(hide_password=False), name


def seed(url: str, count: int) -> tuple[str, str, str]:
    """A team with a verified domain, a sender and one list of ``count`` subscribed contacts."""
    db = Database(url)
    upgrade(db)

    def setup(conn: object) -> tuple[str, str, str]:
        team = teams.create_team(conn, "Bench")  # type: ignore[arg-type]
        domains.add_domain(conn, team.id, "bench-mail.com", verified=True)  # type: ignore[arg-type]
        audience = create_audience(conn, team.id, "Bench list", "bench-mail.com")  # type: ignore[arg-type]
        sender = senders.create_sender(conn, team.id, {"name": "Bench", "email": "news@bench-mail.com"})  # type: ignore[arg-type]
        return team.id, audience.id, sender.id

    team_id, audience_id, sender_id = db.run_write(setup)
    start = datetime.now(UTC) - timedelta(days=30)
    rng = random.Random(7)
    people, members = [], []
    for i in range(count):
        moment = start + timedelta(milliseconds=i)
        contact_id = "contact_" + base62((int(moment.timestamp() * 1000) << 83) | rng.getrandbits(83), 22)
        email = f"person{i}@example.com"
        people.append((contact_id, team_id, email, email, f"First{i}", f"Last{i}", moment))
        members.append((audience_id, contact_id, team_id, moment))
    searched = [
        text_of({"first_name": row[4], "last_name": row[5], "email_normalized": row[3]}) for row in people
    ]
    raw = db.engine.raw_connection()
    cursor = raw.cursor()
    if db.is_sqlite:
        cursor.execute("BEGIN")
        cursor.executemany(
            "INSERT INTO contacts (id, team_id, email, email_normalized, first_name, last_name, "
            "unsubscribed, created_at, updated_at, search_text) VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?, ?)",
            [
                (*row[:6], row[6].strftime(STAMP), row[6].strftime(STAMP), text)
                for row, text in zip(people, searched, strict=True)
            ],
        )
        cursor.executemany(
            "INSERT INTO memberships (audience_id, contact_id, team_id, subscribed, created_at, updated_at) "
            "VALUES (?, ?, ?, 1, ?, ?)",
            [(*row[:3], row[3].strftime(STAMP), row[3].strftime(STAMP)) for row in members],
        )
        cursor.execute("COMMIT")
        cursor.execute("ANALYZE")
    else:
        with cursor.copy(
            "COPY contacts (id, team_id, email, email_normalized, first_name, last_name, unsubscribed, "
            "created_at, updated_at, search_text) FROM STDIN"
        ) as copy:
            for row, text in zip(people, searched, strict=True):
                copy.write_row((*row[:6], False, row[6], row[6], text))
        with cursor.copy(
            "COPY memberships (audience_id, contact_id, team_id, subscribed, created_at, updated_at) "
            "FROM STDIN"
        ) as copy:
            for row in members:
                copy.write_row((*row[:3], True, row[3], row[3]))
        raw.commit()
    raw.close()
    if not db.is_sqlite:
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
            conn.exec_driver_sql("CHECKPOINT")
    db.dispose()
    return team_id, audience_id, sender_id


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def roster_run(
    url: str, port: int, seeded: tuple[str, str, str], args: argparse.Namespace
) -> dict[str, float]:
    team_id, audience_id, sender_id = seeded
    db = Database(url)
    env = {
        **os.environ,
        "ROSTER_DATABASE_URL": url,
        "ROSTER_SMTP_URL": f"smtp://127.0.0.1:{port}?rate=0&connections={args.connections}",
    }
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "roster", "worker", "--json"], env=env, stdout=subprocess.PIPE, cwd=ROOT
        )
        for _ in range(args.workers)
    ]
    for worker in workers:
        assert worker.stdout is not None
        worker.stdout.readline()
    fields = {
        "name": "Bench",
        "subject": "Hello {{ contact.firstName }}",
        "sender": sender_id,
        "html_code": HTML,
        "preview_text": "This month at Bench: what is new",
        "schedule_type": campaigns.SEND_NOW,
        "included_lists": [audience_id],
    }
    started = time.perf_counter()
    campaign = db.run_write(campaigns.create_campaign, team_id, fields)
    first = None
    peaks = [0.0] * len(workers)
    sent = 0

    def count_sent(conn: object) -> int:
        query = select(func.count()).where(
            campaign_recipients.c.campaign_id == campaign.row.id, campaign_recipients.c.state == "sent"
        )
        return int(conn.execute(query).scalar_one())  # type: ignore[attr-defined]

    while True:
        time.sleep(0.05 if first is None else 0.5)
        elapsed = time.perf_counter() - started
        peaks = [max(peak, peak_rss_mb(worker.pid)) for peak, worker in zip(peaks, workers, strict=True)]
        sent = db.run_read(count_sent)
        if first is None and sent:
            first = elapsed
        if sent >= args.recipients or elapsed > args.cap:
            break
    for worker in workers:
        worker.terminate()
        worker.wait(timeout=30)
    db.dispose()
    return {"first": first or float("nan"), "rate": sent / elapsed, "sent": sent, "rss": max(peaks)}


def main() -> None:
    # One key seals the run's secrets, for this process and the servers it starts.
    os.environ.setdefault(
        "ROSTER_KEY_FILE", str(Path(tempfile.mkdtemp(prefix="roster-bench-")) / "roster.key")
    )
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--cap", type=float, default=120.0, help="stop timing Roster after this many seconds")
    parser.add_argument("--baseline", type=int, default=20_000, help="messages for the sink and the loop")
    args = parser.parse_args()

    port = free_port()
    sink = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "smtp_sink.py"), str(port)], stdout=subprocess.PIPE
    )
    assert sink.stdout is not None
    sink.stdout.readline()
    pg_name = None
    try:
        started = time.perf_counter()
        made = messages(1000)
        composing = (time.perf_counter() - started) / len(made) * 1000
        print(f"composing one message (render, text from HTML, MIME, DKIM): {composing:.2f} ms", flush=True)
        total = min(args.baseline, args.recipients)
        alone = rate_of(raw_client, port, total, made, args.connections)
        print(f"sink alone (raw pipelined client): {alone:,.0f} msg/s", flush=True)
        loop = rate_of(library_client, port, total, made, args.connections)
        print(f"plain aiosmtplib loop, pre-rendered: {loop:,.0f} msg/s", flush=True)
        with tempfile.TemporaryDirectory() as folder:
            url, pg_name = fresh_database(args.database, Path(folder))
            started = time.perf_counter()
            seeded = seed(url, args.recipients)
            print(f"seeded {args.recipients:,} contacts in {time.perf_counter() - started:.0f} s", flush=True)
            result = roster_run(url, port, seeded, args)
        print(
            f"Roster ({args.database}, {args.workers} worker(s), {args.connections} connections each): "
            f"{result['rate']:,.0f} msg/s ({result['rate'] / loop:.0%} of the loop), "
            f"{result['sent']:,.0f} sent, first message after {result['first']:.2f} s, "
            f"peak worker RSS {result['rss']:.0f} MB",
            flush=True,
        )
    finally:
        sink.terminate()
        sink.wait(timeout=10)
        if pg_name:
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
