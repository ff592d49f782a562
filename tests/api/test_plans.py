"""A single-contact route costs the same at any team size: at 100,000 contacts in one team, no
statement that a hot route runs reads a whole contact table.

Every statement the routes run is recorded on the driver (PostgreSQL: a cursor that keeps what
it executes; SQLite: the connection's trace callback), then planned again with ``EXPLAIN``
(PostgreSQL) or ``EXPLAIN QUERY PLAN`` (SQLite). A sequential scan of contacts, memberships,
contact_tags, contact_values or contact_events fails the route that caused it.
"""

from __future__ import annotations

import dataclasses
import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from litestar import Litestar
from litestar.testing import TestClient
from sqlalchemy import event, insert

from roster.api.app import create_app
from roster.config import Settings
from roster.core import custom_fields, domains, tags, teams
from roster.core.audiences import create_audience
from roster.core.search import text_of
from roster.ids import base62
from roster.storage import tables
from roster.storage.db import Database
from roster.storage.migrate import upgrade
from tests.conftest import fresh_database

TEAM_SIZE = 100_000
WATCHED = ("contacts", "memberships", "contact_tags", "contact_values", "contact_events")
SEEDED = (
    tables.contacts,
    tables.memberships,
    tables.contact_tags,
    tables.contact_values,
    tables.contact_events,
)


@dataclasses.dataclass
class Recorded:
    statements: list[tuple[str, Any]] = dataclasses.field(default_factory=list)

    def hook(self, db: Database) -> None:
        """Record every statement of ``db``'s connections from now on."""
        recorded = self.statements

        class Recording(psycopg.Cursor[Any]):
            def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
                recorded.append((str(query), params))
                return super().execute(query, params, **kwargs)

        @event.listens_for(db.engine, "connect")
        def _record(dbapi_conn: Any, _record: Any) -> None:
            if db.is_sqlite:
                dbapi_conn.set_trace_callback(lambda sql: recorded.append((sql, None)))
            else:
                dbapi_conn.cursor_factory = Recording


def _seed(db: Database) -> tuple[str, str, str]:
    """One team of ``TEAM_SIZE`` contacts, each in one list; every tenth also tagged, with a
    custom value and an event."""

    def setup(conn: Any) -> tuple[str, str, str, str, str]:
        team = teams.create_team(conn, "Big")
        _, token = teams.create_key(conn, team.id, teams.FULL_ACCESS, "plans")
        domains.add_domain(conn, team.id, "big.example", verified=True)
        audience = create_audience(conn, team.id, "Everyone", "big.example")
        tag = tags.create_tag(conn, team.id, "seeded")
        field = custom_fields.create_field(conn, team.id, {"name": "plan", "field_type": 0})
        return team.id, token, audience.id, tag.id, field.id

    team_id, token, audience_id, tag_id, field_id = db.run_write(setup)
    rng = random.Random(3)
    start = datetime.now(UTC) - timedelta(days=100)
    rows: dict[Any, list[dict[str, Any]]] = {table: [] for table in SEEDED}
    for i in range(TEAM_SIZE):
        moment = start + timedelta(milliseconds=i)
        contact_id = "contact_" + base62((int(moment.timestamp() * 1000) << 83) | rng.getrandbits(83), 22)
        email = f"member{i}@big.example"
        owned = {"team_id": team_id, "contact_id": contact_id}
        rows[tables.contacts].append(
            {"id": contact_id, "team_id": team_id, "email": email, "email_normalized": email,
             "first_name": f"First{i}", "unsubscribed": False, "created_at": moment, "updated_at": moment,
             "search_text": text_of({"first_name": f"First{i}", "email_normalized": email})}
        )  # fmt: skip
        rows[tables.memberships].append(
            {
                "audience_id": audience_id,
                "subscribed": True,
                "created_at": moment,
                "updated_at": moment,
                **owned,
            }
        )
        if i % 10 == 0:
            rows[tables.contact_tags].append({"tag_id": tag_id, **owned})
            rows[tables.contact_values].append(
                {"field_id": field_id, "text": "pro", "folded": "pro", **owned}
            )
            rows[tables.contact_events].append(
                {"id": "event_" + base62(rng.getrandbits(128), 22), "kind": "custom", "name": "seen",
                 "occurred_at": moment, "created_at": moment, **owned}
            )  # fmt: skip

    def load(conn: Any) -> None:
        for table, values in rows.items():
            conn.execute(insert(table), values)
        conn.execute(
            insert(tables.audience_counts).values(
                audience_id=audience_id, slot=0, team_id=team_id, members=TEAM_SIZE, subscribed=TEAM_SIZE
            )
        )
        conn.execute(insert(tables.team_counts).values(team_id=team_id, slot=0, contacts=TEAM_SIZE))

    db.run_write(load)
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("ANALYZE")
    return token, audience_id, rows[tables.contacts][TEAM_SIZE // 2]["id"]


@dataclasses.dataclass
class BigTeam:
    client: TestClient[Litestar]
    token: str
    audience_id: str
    contact_id: str
    recorded: Recorded
    url: str


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory, settings: Settings) -> Iterator[BigTeam]:
    with fresh_database(tmp_path_factory.mktemp("plans")) as url:
        db = Database(url)
        recorded = Recorded()
        recorded.hook(db)
        upgrade(db)
        token, audience_id, contact_id = _seed(db)
        app = create_app(dataclasses.replace(settings, database_url=url), db)
        with TestClient(app, base_url="http://roster.test") as client:
            yield BigTeam(client, token, audience_id, contact_id, recorded, url)
        db.dispose()


def _scans_postgresql(url: str, statements: list[tuple[str, Any]]) -> list[str]:
    found = []
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        for query, params in statements:
            if not query.lstrip().upper().startswith(("SELECT", "INSERT", "UPDATE", "DELETE", "WITH")):
                continue
            plan = conn.execute("EXPLAIN (FORMAT JSON) " + query, params).fetchone()[0]  # type: ignore[index]
            nodes = [plan[0]["Plan"]]
            while nodes:
                node = nodes.pop()
                nodes.extend(node.get("Plans", []))
                if node["Node Type"] == "Seq Scan" and node.get("Relation Name") in WATCHED:
                    found.append(f"Seq Scan on {node['Relation Name']}: {query.strip()[:300]}")
    return found


def _scans_sqlite(db_url: str, statements: list[tuple[str, Any]]) -> list[str]:
    import sqlite3

    found = []
    conn = sqlite3.connect(db_url.removeprefix("sqlite:///"))
    for query, _ in statements:
        if not query.lstrip().upper().startswith(("SELECT", "INSERT", "UPDATE", "DELETE", "WITH")):
            continue
        for row in conn.execute("EXPLAIN QUERY PLAN " + query):
            detail = str(row[3])
            words = detail.split()
            if words[:1] == ["SCAN"] and words[1] in WATCHED:
                found.append(f"{detail}: {query.strip()[:300]}")
    conn.close()
    return found


def _calls(big: BigTeam) -> dict[str, tuple[str, str, dict[str, Any] | None]]:
    contact, audience = big.contact_id, big.audience_id
    return {
        "SendX get by ID": ("GET", f"/api/v1/rest/contact/{contact}", None),
        "SendX get by email": ("GET", "/api/v1/rest/contact/member50000@big.example", None),
        "SendX create": ("POST", "/api/v1/rest/contact", {"email": "new@big.example", "lists": [audience]}),
        "SendX update": ("PUT", f"/api/v1/rest/contact/{contact}", {"firstName": "Changed", "tags": ["vip"]}),
        "SendX identify": (
            "POST",
            "/api/v1/rest/contact/identify",
            {"email": "member7@big.example", "lastName": "Known", "lists": [audience]},
        ),
        "SendX track": (
            "POST",
            "/api/v1/rest/contact/track",
            {"email": "member8@big.example", "addTags": ["t"]},
        ),
        "SendX event": (
            "POST",
            "/api/v1/rest/events/custom",
            {"identifier": "member9@big.example", "name": "login"},
        ),
        "Sendex upsert member": (
            "POST",
            f"/api/v1/audiences/{audience}/contacts",
            {"email": "member11@big.example", "first_name": "Eleven"},
        ),
        "Sendex get member": ("GET", f"/api/v1/audiences/{audience}/contacts/{contact}", None),
        "Sendex unsubscribe member": (
            "PATCH",
            f"/api/v1/audiences/{audience}/contacts/{contact}",
            {"subscribed": False},
        ),
        "v1 get": ("GET", f"/v1/contacts/{contact}", None),
        "v1 update": ("PATCH", f"/v1/contacts/{contact}", {"firstName": "Again"}),
        "v1 remove from audience": (
            "POST",
            f"/v1/audiences/{audience}/contacts/remove",
            {"contactIds": [contact]},
        ),
        "v1 add to audience": ("POST", f"/v1/audiences/{audience}/contacts", {"contactIds": [contact]}),
        "SendX unsubscribe": ("POST", f"/api/v1/rest/contact/unsubscribe/{contact}", None),
        "SendX delete": ("DELETE", f"/api/v1/rest/contact/{contact}", None),
    }


def test_no_single_contact_route_scans_a_contact_table(big: BigTeam) -> None:
    headers = {"Authorization": f"Bearer {big.token}", "X-Team-ApiKey": big.token}
    scans: dict[str, list[str]] = {}
    for name, (method, path, body) in _calls(big).items():
        big.recorded.statements.clear()
        response = big.client.request(method, path, json=body, headers=headers)
        assert response.status_code in (200, 201), (name, response.text)
        statements = list(big.recorded.statements)
        assert statements, name
        found = (_scans_sqlite if big.url.startswith("sqlite") else _scans_postgresql)(big.url, statements)
        if found:
            scans[name] = found
    assert scans == {}, json.dumps(scans, indent=1)


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/rest/contact?search=member54321%40",  # one contact
        "/api/v1/rest/contact?search=Member9876",  # eleven
        "/api/v1/rest/contact?search=nobody-here",  # none
        "/v1/contacts?search=member54321%40",  # and how many, counted
        "/v1/contacts?search=nobody-here",
    ],
)
def test_a_rare_text_is_found_through_the_trigram_index_not_a_scan(big: BigTeam, path: str) -> None:
    big.recorded.statements.clear()
    response = big.client.get(
        path, headers={"Authorization": f"Bearer {big.token}", "X-Team-ApiKey": big.token}
    )
    assert response.status_code == 200, response.text
    check = _scans_sqlite if big.url.startswith("sqlite") else _scans_postgresql
    assert check(big.url, list(big.recorded.statements)) == []


def test_the_recorder_sees_a_scan_when_there_is_one(big: BigTeam) -> None:
    """The guard can fail: a search by first name reads the whole table."""
    query = "SELECT id FROM contacts WHERE first_name = 'First7'"
    check = _scans_sqlite if big.url.startswith("sqlite") else _scans_postgresql
    assert check(big.url, [(query, None)]) != []
