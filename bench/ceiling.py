"""The ceiling: a bare ASGI app doing the same statements as Roster's Sendex endpoints.

No framework, no SQLAlchemy: the driver called directly and msgspec for JSON. Served by the
same server (granian) with the same settings, it shows how much of the budget Roster spends
on its own layers. Reads ROSTER_DATABASE_URL like Roster does: on SQLite, ``sqlite3``
inline on the event loop, as Roster runs SQLite; on PostgreSQL, asynchronous psycopg
connections from a pool of 10 (Roster's own pool size), reads without a transaction and
writes in one, as Roster runs them.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qs

import msgspec
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from roster.ids import new_id

URL = os.environ["ROSTER_DATABASE_URL"]

AUTH = "SELECT id, team_id, permission FROM api_keys WHERE token_hash = ? AND revoked_at IS NULL"
MEMBER = (
    "SELECT c.id, c.email, c.first_name, c.last_name, c.created_at, m.subscribed, "
    "m.pending_since IS NOT NULL FROM contacts c JOIN memberships m ON m.contact_id = c.id "
    "WHERE m.team_id = ? AND m.audience_id = ? AND c.team_id = ? AND c.id = ?"
)
COUNT = "SELECT coalesce(sum(members), 0) FROM audience_counts WHERE audience_id = ?"
PAGE = (
    "SELECT c.id, c.email, c.first_name, c.last_name, c.created_at, m.subscribed FROM contacts c "
    "JOIN memberships m ON m.contact_id = c.id "
    "JOIN (SELECT contact_id FROM memberships WHERE audience_id = ? "
    "ORDER BY contact_id LIMIT ? OFFSET ?) p ON p.contact_id = m.contact_id "
    "WHERE m.team_id = ? AND m.audience_id = ? ORDER BY m.contact_id"
)
UPSERT = (
    "INSERT INTO contacts (id, team_id, email, email_normalized, first_name, last_name, unsubscribed, "
    "created_at, updated_at, search_text) VALUES (?, ?, ?, ?, ?, NULL, false, ?, ?, ?) "
    "ON CONFLICT (team_id, email_normalized) DO UPDATE SET first_name = excluded.first_name, "
    "updated_at = excluded.updated_at, search_text = excluded.search_text "
    "RETURNING id, email, first_name, last_name, created_at, unsubscribed"
)
AUDIENCE = "SELECT id FROM audiences WHERE team_id = ? AND id = ?"
SUBSCRIBED = "SELECT subscribed FROM memberships WHERE audience_id = ? AND contact_id = ?"
COUNTED = (
    "INSERT INTO audience_counts (audience_id, slot, team_id, members, subscribed) VALUES (?, 0, ?, 1, 1) "
    "ON CONFLICT (audience_id, slot) DO UPDATE SET members = audience_counts.members + 1, "
    "subscribed = audience_counts.subscribed + 1"
)
JOIN = (
    "INSERT INTO memberships (audience_id, contact_id, team_id, subscribed, created_at, updated_at) "
    "VALUES (?, ?, ?, true, ?, ?) ON CONFLICT (audience_id, contact_id) DO NOTHING RETURNING contact_id"
)
DOUBLE = "SELECT list_type FROM audiences WHERE id = ?"
CONSENT = (
    "INSERT INTO consent_events (id, team_id, contact_id, at, change, audience_id, source, source_id) "
    "VALUES (?, ?, ?, ?, 'subscribed', ?, 'api', ?) RETURNING id"
)


class SQLite:
    def __init__(self, path: str) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON", "busy_timeout=5000"):
            self.conn.execute(f"PRAGMA {pragma}")

    @asynccontextmanager
    async def session(self, write: bool) -> AsyncIterator[SQLite]:
        self.conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        yield self
        self.conn.execute("COMMIT")

    async def one(self, sql: str, params: Sequence[Any]) -> Any:
        return self.conn.execute(sql, params).fetchone()

    async def all(self, sql: str, params: Sequence[Any]) -> list[Any]:
        return self.conn.execute(sql, params).fetchall()


class PostgreSQL:
    def __init__(self, url: str) -> None:
        url = url.replace("postgresql+psycopg://", "postgresql://")
        self.pool = AsyncConnectionPool(
            url, min_size=10, max_size=10, kwargs={"autocommit": True}, open=False
        )
        self.conn: AsyncConnection[Any] | None = None

    @asynccontextmanager
    async def session(self, write: bool) -> AsyncIterator[PostgreSQL]:
        if self.pool.closed:
            await self.pool.open()
        async with self.pool.connection() as conn:
            session = PostgreSQL.__new__(PostgreSQL)
            session.conn = conn
            if write:
                async with conn.transaction():
                    yield session
            else:
                yield session

    async def one(self, sql: str, params: Sequence[Any]) -> Any:
        assert self.conn is not None
        cursor = await self.conn.execute(sql.replace("?", "%s"), params)
        return await cursor.fetchone()

    async def all(self, sql: str, params: Sequence[Any]) -> list[Any]:
        assert self.conn is not None
        cursor = await self.conn.execute(sql.replace("?", "%s"), params)
        return await cursor.fetchall()


db: SQLite | PostgreSQL = (
    SQLite(URL.removeprefix("sqlite:///")) if URL.startswith("sqlite") else PostgreSQL(URL)
)


def row_json(row: Sequence[Any]) -> dict[str, Any]:
    return {
        "id": row[0],
        "email": row[1],
        "first_name": row[2],
        "last_name": row[3],
        "created_at": str(row[4]),
        "subscribed": bool(row[5]),
        "pending": bool(row[6]) if len(row) > 6 else False,
    }


async def read_body(receive: Any) -> bytes:
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            return body


async def answer(scope: dict[str, Any], receive: Any, team: str, key_id: str) -> tuple[int, Any]:
    parts = scope["path"].split("/")  # /api/v1/audiences/{a}/contacts[/{c}]
    audience = parts[4]
    if scope["method"] == "POST":
        data = msgspec.json.decode(await read_body(receive))
        stamp = time.strftime("%Y-%m-%d %H:%M:%S.000000+00:00", time.gmtime())
        email = data["email"].strip()
        first = data.get("first_name")
        searched = f"{(first or '').casefold()}\t\t{email.lower()}\t"
        async with db.session(write=True) as conn:
            await conn.one(AUDIENCE, (team, audience))
            values = (new_id("contact"), team, email, email.lower(), first, stamp, stamp, searched)
            contact = await conn.one(UPSERT, values)
            created = await conn.one(JOIN, (audience, contact[0], team, stamp, stamp)) is not None
            if created:
                await conn.one(DOUBLE, (audience,))
                await conn.one(COUNTED, (audience, team))
                await conn.one(CONSENT, (new_id("consent"), team, contact[0], stamp, audience, key_id))
                subscribed = True
            else:
                subscribed = (await conn.one(SUBSCRIBED, (audience, contact[0])))[0]
        return (201 if created else 200), row_json((*contact[:5], subscribed))
    if len(parts) == 7:
        async with db.session(write=False) as conn:
            row = await conn.one(MEMBER, (team, audience, team, parts[6]))
        return (200, row_json(row)) if row else (404, {"statusCode": 404})
    query = parse_qs(scope["query_string"].decode())
    limit, offset = int(query.get("limit", ["50"])[0]), int(query.get("offset", ["0"])[0])
    async with db.session(write=False) as conn:
        await conn.one(AUDIENCE, (team, audience))
        total = (await conn.one(COUNT, (audience,)))[0]
        rows = await conn.all(PAGE, (audience, limit, offset, team, audience))
    return 200, {"data": [row_json(r) for r in rows], "total": total, "limit": limit, "offset": offset}


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    headers = dict(scope["headers"])
    token = headers.get(b"authorization", b"").removeprefix(b"Bearer ")
    async with db.session(write=False) as conn:
        key = await conn.one(AUTH, (hashlib.sha256(token).hexdigest(),))
    status, payload = (
        (401, {"statusCode": 401}) if key is None else await answer(scope, receive, key[1], key[0])
    )
    body = msgspec.json.encode(payload)
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
