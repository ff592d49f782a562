"""The database handle: a PostgreSQL connection the server dropped is replaced unseen; the key
check reads the database on every request."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from sqlalchemy import func, select

from roster.core import contacts, teams
from roster.core.errors import Unauthorized
from roster.storage.db import Database
from roster.storage.prepared import Prepared


@pytest.fixture
def fresh(db: Database, database_url: str) -> Iterator[Database]:
    """A second handle on the test database (``db`` has migrated it), with a pool of one."""
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL: SQLite has no server to drop connections")
    handle = Database(database_url, pool_size=1)
    yield handle
    handle.dispose()


def terminate(database_url: str, pid: int) -> None:
    with psycopg.connect(database_url, autocommit=True) as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone() == (True,)


def dropped_by_the_server(db: Database, database_url: str) -> None:
    """Terminate the server process behind the pool's one connection, as a restart does."""
    terminate(
        database_url, db.run_read(lambda conn: conn.exec_driver_sql("SELECT pg_backend_pid()").scalar())
    )


def test_reads_and_writes_go_on_after_the_server_drops_the_connection(
    fresh: Database, database_url: str
) -> None:
    team = fresh.run_write(teams.create_team, "Before")

    dropped_by_the_server(fresh, database_url)
    assert fresh.run_read(teams.get_team, team.id).name == "Before"  # through SQLAlchemy

    dropped_by_the_server(fresh, database_url)
    assert fresh.run_read(contacts.page_profiles, team.id, 0, 10, None) == []  # on the driver

    dropped_by_the_server(fresh, database_url)
    made = fresh.run_write(teams.create_team, "After")
    assert fresh.run_read(teams.get_team, made.id).name == "After"


def test_a_write_that_lost_its_connection_midway_is_not_run_again(fresh: Database, database_url: str) -> None:
    """Its caller may have kept what the first statements gave (the importer keeps the IDs of
    the lists and tags it made): the error is raised, and nothing of it is stored."""
    made: list[str] = []

    def interrupted(conn: Any) -> None:
        made.append(teams.create_team(conn, "Half done").id)
        terminate(database_url, conn.exec_driver_sql("SELECT pg_backend_pid()").scalar())
        conn.exec_driver_sql("SELECT 1")

    with pytest.raises(Exception, match=r"terminat|closed|lost"):
        fresh.run_write(interrupted)
    assert len(made) == 1
    stored = fresh.run_read(
        lambda conn: conn.exec_driver_sql(
            "SELECT count(*) FROM teams WHERE id = %(id)s", {"id": made[0]}
        ).scalar()
    )
    assert stored == 0


def test_an_error_that_is_not_a_lost_connection_is_not_retried(fresh: Database) -> None:
    calls: list[int] = []

    def failing(conn: Any) -> None:
        calls.append(1)
        conn.exec_driver_sql("SELECT 1 / 0")

    with pytest.raises(Exception, match="division by zero"):
        fresh.run_write(failing)
    assert len(calls) == 1


def test_the_key_check_goes_on_after_the_server_drops_its_connection(
    fresh: Database, database_url: str
) -> None:
    """The key check reads through the pool like any read, and runs again on a new connection."""
    team = fresh.run_write(teams.create_team, "Keys")
    _, token = fresh.run_write(teams.create_key, team.id, teams.FULL_ACCESS, "checked")
    backend = Prepared(select(func.pg_backend_pid().label("pid")))

    async def checks() -> list[teams.Principal]:
        seen = [await teams.authenticate(fresh, token)]
        first = await fresh.read(backend.first, {})
        terminate(database_url, first.pid)
        seen.append(await teams.authenticate(fresh, token))
        second = await fresh.read(backend.first, {})
        assert second.pid != first.pid
        return seen

    before, after = asyncio.run(checks())
    assert before == after
    assert after.team_id == team.id


def test_every_request_checks_its_key_again(db: Database) -> None:
    """A key revoked between two checks on the same connection is refused by the second."""
    team = db.run_write(teams.create_team, "Revoked")
    key, token = db.run_write(teams.create_key, team.id, teams.FULL_ACCESS, "soon revoked")

    async def checks() -> None:
        await teams.authenticate(db, token)
        db.run_write(teams.revoke_key, key.id)
        with pytest.raises(Unauthorized):
            await teams.authenticate(db, token)

    asyncio.run(checks())
