"""The ceiling: a bare ASGI app doing the same SQLite statements as Roster's endpoints.

No framework, no SQLAlchemy: sqlite3 called inline and msgspec for JSON. Served by the same
server (granian) with the same settings, it shows how much of the budget Roster spends on
its own layers. Reads ROSTER_DATABASE_URL (sqlite:///path) like Roster does.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import time
from typing import Any
from urllib.parse import parse_qs

import msgspec

from roster.ids import new_id

DB_PATH = os.environ["ROSTER_DATABASE_URL"].removeprefix("sqlite:///")
conn = sqlite3.connect(DB_PATH, isolation_level=None, check_same_thread=False)
for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON", "busy_timeout=5000"):
    conn.execute(f"PRAGMA {pragma}")

AUTH = "SELECT id, team_id, permission FROM api_keys WHERE token_hash = ? AND revoked_at IS NULL"
MEMBER = (
    "SELECT c.id, c.email, c.first_name, c.last_name, c.created_at, m.subscribed FROM contacts c "
    "JOIN memberships m ON m.contact_id = c.id "
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
    "created_at, updated_at, search_text) VALUES (?, ?, ?, ?, ?, NULL, 0, ?, ?, ?) "
    "ON CONFLICT (team_id, email_normalized) DO UPDATE SET first_name = excluded.first_name, "
    "updated_at = excluded.updated_at, search_text = excluded.search_text "
    "RETURNING id, email, first_name, last_name, created_at, unsubscribed"
)
AUDIENCE = "SELECT id FROM audiences WHERE team_id = ? AND id = ?"
SUBSCRIBED = "SELECT subscribed FROM memberships WHERE audience_id = ? AND contact_id = ?"
COUNTED = (
    "INSERT INTO audience_counts (audience_id, slot, team_id, members, subscribed) VALUES (?, 0, ?, 1, 1) "
    "ON CONFLICT (audience_id, slot) DO UPDATE SET members = members + 1, subscribed = subscribed + 1"
)
JOIN = (
    "INSERT INTO memberships (audience_id, contact_id, team_id, subscribed, created_at, updated_at) "
    "VALUES (?, ?, ?, 1, ?, ?) ON CONFLICT (audience_id, contact_id) DO NOTHING RETURNING contact_id"
)


def row_json(row: tuple[Any, ...]) -> dict[str, Any]:
    return {
        "id": row[0],
        "email": row[1],
        "first_name": row[2],
        "last_name": row[3],
        "created_at": row[4],
        "subscribed": bool(row[5]),
    }


async def read_body(receive: Any) -> bytes:
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            return body


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    headers = dict(scope["headers"])
    token = headers.get(b"authorization", b"").removeprefix(b"Bearer ")
    key = conn.execute(AUTH, (hashlib.sha256(token).hexdigest(),)).fetchone()
    status, payload = 401, {"statusCode": 401}
    if key is not None:
        team = key[1]
        parts = scope["path"].split("/")  # /api/v1/audiences/{a}/contacts[/{c}]
        audience = parts[4]
        if scope["method"] == "POST":
            data = msgspec.json.decode(await read_body(receive))
            stamp = time.strftime("%Y-%m-%d %H:%M:%S.000000")
            email = data["email"].strip()
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(AUDIENCE, (team, audience)).fetchone()
            first = data.get("first_name")
            searched = f"{(first or '').casefold()}\t\t{email.lower()}\t"
            values = (new_id("contact"), team, email, email.lower(), first, stamp, stamp, searched)
            contact = conn.execute(UPSERT, values).fetchone()
            created = conn.execute(JOIN, (audience, contact[0], team, stamp, stamp)).fetchone() is not None
            if created:
                conn.execute(COUNTED, (audience, team))
                subscribed = 1
            else:
                subscribed = conn.execute(SUBSCRIBED, (audience, contact[0])).fetchone()[0]
            conn.execute("COMMIT")
            status, payload = (201 if created else 200), row_json((*contact[:5], subscribed))
        elif len(parts) == 7:
            conn.execute("BEGIN")
            row = conn.execute(MEMBER, (team, audience, team, parts[6])).fetchone()
            conn.execute("COMMIT")
            status, payload = (200, row_json(row)) if row else (404, {"statusCode": 404})
        else:
            query = parse_qs(scope["query_string"].decode())
            limit, offset = int(query.get("limit", ["50"])[0]), int(query.get("offset", ["0"])[0])
            conn.execute("BEGIN")
            conn.execute(AUDIENCE, (team, audience)).fetchone()
            total = conn.execute(COUNT, (audience,)).fetchone()[0]
            rows = conn.execute(PAGE, (audience, limit, offset, team, audience)).fetchall()
            conn.execute("COMMIT")
            status, payload = (
                200,
                {"data": [row_json(r) for r in rows], "total": total, "limit": limit, "offset": offset},
            )
    body = msgspec.json.encode(payload)
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
