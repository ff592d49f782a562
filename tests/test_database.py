"""The database handle: a PostgreSQL connection the server dropped is replaced unseen."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from roster.core import contacts, teams
from roster.storage.db import Database


@pytest.fixture
def fresh(db: Database, database_url: str) -> Iterator[Database]:
    """A second handle on the test database (``db`` has migrated it), with a pool of one."""
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL: SQLite has no server to drop connections")
    handle = Database(database_url, pool_size=1)
    yield handle
    handle.dispose()


def dropped_by_the_server(db: Database, database_url: str) -> None:
    """Terminate the server process behind the pool's one connection, as a restart does."""
    pid = db.run_read(lambda conn: conn.exec_driver_sql("SELECT pg_backend_pid()").scalar())
    with psycopg.connect(database_url, autocommit=True) as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone() == (True,)


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


def test_an_error_that_is_not_a_lost_connection_is_not_retried(fresh: Database) -> None:
    calls: list[int] = []

    def failing(conn: Any) -> None:
        calls.append(1)
        conn.exec_driver_sql("SELECT 1 / 0")

    with pytest.raises(Exception, match="division by zero"):
        fresh.run_write(failing)
    assert len(calls) == 1
