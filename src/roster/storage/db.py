"""The database handle: one engine, transactions, and how they meet the event loop.

SQLite statements take microseconds, so on SQLite a transaction runs inline on the event
loop (measured faster than a thread hop; see docs/architecture.md). On PostgreSQL a
transaction waits on the network, so it runs in a worker thread.

A service is a plain function ``fn(conn, *args)``; it never commits. ``read`` and ``write``
open the one transaction it runs in, commit on return and roll back on an exception.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Concatenate, ParamSpec, TypeAlias, TypeVar

import anyio.to_thread
from sqlalchemy import Connection, Engine, Row, create_engine, event, text
from sqlalchemy.engine import make_url

Record: TypeAlias = Row[*tuple[Any, ...]]
"""A result row of any shape: services return rows, dialects render them."""

P = ParamSpec("P")
T = TypeVar("T")


def normalize_url(url: str) -> str:
    """Accept ``postgresql://`` and ``postgres://`` and use psycopg 3 for them."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.execute("PRAGMA cache_size=-65536")
        cursor.execute("PRAGMA temp_store=MEMORY")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # A writer takes the write lock up front, so that concurrent processes wait on
        # busy_timeout instead of failing when a read lock cannot be upgraded.
        immediate = conn.get_execution_options().get("roster_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


class Database:
    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = normalize_url(url)
        self.is_sqlite = self.url.startswith("sqlite")
        if self.is_sqlite:
            self.engine = create_engine(self.url, pool_size=pool_size, max_overflow=20)
            _configure_sqlite(self.engine)
        else:
            self.engine = create_engine(self.url, pool_size=pool_size, max_overflow=20, pool_pre_ping=True)

    @contextmanager
    def transaction(self, *, write: bool) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            if write:
                conn = conn.execution_options(roster_write=True)
            with conn.begin():
                yield conn

    def run_read(self, fn: Callable[Concatenate[Connection, P], T], *a: P.args, **k: P.kwargs) -> T:
        with self.transaction(write=False) as conn:
            return fn(conn, *a, **k)

    def run_write(self, fn: Callable[Concatenate[Connection, P], T], *a: P.args, **k: P.kwargs) -> T:
        with self.transaction(write=True) as conn:
            return fn(conn, *a, **k)

    async def read(self, fn: Callable[Concatenate[Connection, P], T], *a: P.args, **k: P.kwargs) -> T:
        if self.is_sqlite:
            return self.run_read(fn, *a, **k)
        return await anyio.to_thread.run_sync(lambda: self.run_read(fn, *a, **k))

    async def write(self, fn: Callable[Concatenate[Connection, P], T], *a: P.args, **k: P.kwargs) -> T:
        if self.is_sqlite:
            return self.run_write(fn, *a, **k)
        return await anyio.to_thread.run_sync(lambda: self.run_write(fn, *a, **k))

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()
