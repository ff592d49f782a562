"""The database handle: one engine, transactions, and how they meet the event loop.

SQLite statements take microseconds, so on SQLite a transaction runs inline on the event
loop (measured faster than a thread hop; see docs/architecture.md). On PostgreSQL a
transaction waits on the network, so it runs in a worker thread.

A service is a plain function ``fn(conn, *args)``; it never commits. ``read`` and ``write``
open the one transaction it runs in, commit on return and roll back on an exception.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Concatenate, ParamSpec, TypeAlias, TypeVar

import anyio.to_thread
import psycopg
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

Record: TypeAlias = Any
"""A result row, read by column name (``row.email``): a SQLAlchemy ``Row`` or a ``Prepared`` row.
Services return rows; dialects render them."""

P = ParamSpec("P")
T = TypeVar("T")


def normalize_url(url: str) -> str:
    """Accept ``postgresql://`` and ``postgres://`` and use psycopg 3 for them."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


# SQLite reads the database file through a memory map of up to this many bytes: a page
# that is not in a connection's own cache is then read from the operating system's page
# cache without a system call and a copy (rare-text contact search at 1M contacts, p99
# 5.5 → 1.5 ms). Mapped pages count in the process's resident memory, so the bulk
# commands, which read every page once, turn it off (``mmap_bytes=0``).
MMAP_BYTES = 1 << 30


def _configure_sqlite(engine: Engine, mmap_bytes: int) -> None:
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
        cursor.execute(f"PRAGMA mmap_size={int(mmap_bytes)}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        if conn.connection.dbapi_connection.in_transaction:  # type: ignore[union-attr]
            return  # Database.transaction began it on the driver
        conn.exec_driver_sql("BEGIN")


def _lost(conn: Connection, exc: Exception) -> bool:
    """Whether ``exc`` says the server connection is gone, whether it came through SQLAlchemy
    or from a statement run on the driver (``Prepared``)."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    driver = conn.connection.dbapi_connection if not conn.invalidated else None
    return isinstance(exc, psycopg.OperationalError) and bool(getattr(driver, "broken", False))


class Database:
    def __init__(self, url: str, *, pool_size: int = 10, mmap_bytes: int = MMAP_BYTES) -> None:
        self.url = normalize_url(url)
        self.is_sqlite = self.url.startswith("sqlite")
        if self.is_sqlite:
            self.engine = create_engine(self.url, pool_size=pool_size, max_overflow=20)
            _configure_sqlite(self.engine, mmap_bytes)
        else:
            self.engine = create_engine(self.url, pool_size=pool_size, max_overflow=20)
        # PostgreSQL reads run without a transaction (see _run), from the same pool.
        self._reader = self.engine.execution_options(isolation_level="AUTOCOMMIT")

        self._local = threading.local()
        self._kept: list[Connection] = []

    def _kept_connection(self) -> Connection:
        """SQLite: one connection per thread, kept open (a pool checkout costs more than a query)."""
        conn: Connection | None = getattr(self._local, "conn", None)
        if conn is None or conn.closed:
            conn = self.engine.connect()
            self._local.conn = conn
            self._kept.append(conn)
        return conn

    def _postgresql(self, write: bool, fn: Callable[..., T], args: Any, kwargs: Any) -> T:
        """Run ``fn`` on a pooled connection. Connections are not pinged on checkout (a round
        trip, about 0.25 ms a request): one the server has dropped (a restart, a failover,
        an idle timeout) fails at its first statement instead, the pool is emptied and the
        work runs once more on a new connection. A read may always run again: it changes
        nothing. A write begins with ``SELECT 1`` in its transaction and runs again only if
        that fails, before ``fn`` could change anything, here or in its caller's memory (the
        importer keeps the IDs of the lists and tags it made); a lost COMMIT never runs again."""
        for attempt in range(2):
            # Under READ COMMITTED every statement takes its own snapshot, in a transaction
            # or not: a read sees the same without BEGIN and COMMIT, and saves their two
            # round trips (about 0.1 ms, measured).
            with (self.engine if write else self._reader).connect() as conn:
                transaction = conn.begin() if write else None
                again = attempt == 0
                try:
                    if transaction is not None:
                        conn.exec_driver_sql("SELECT 1")
                        again = False
                    result = fn(conn, *args, **kwargs)
                except Exception as exc:
                    if again and _lost(conn, exc):
                        conn.invalidate()
                        self.engine.dispose()  # the others are most likely gone too
                        continue
                    raise
                if transaction is not None:
                    transaction.commit()
                return result
        raise AssertionError("unreachable: the second attempt returns or raises")

    def _run(self, write: bool, fn: Callable[..., T], args: Any, kwargs: Any) -> T:
        if not self.is_sqlite:
            return self._postgresql(write, fn, args, kwargs)
        # SQLite: BEGIN and COMMIT on the driver, a fifth of the cost of SQLAlchemy's
        # transaction. A writer takes the write lock up front (BEGIN IMMEDIATE), so that
        # concurrent processes wait on busy_timeout instead of failing when a read lock
        # cannot be upgraded. Statements run through SQLAlchemy join it (see _on_begin).
        conn = self._kept_connection()
        driver = conn.connection.dbapi_connection
        assert driver is not None
        driver.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        try:
            result = fn(conn, *args, **kwargs)
        except BaseException:
            if conn.in_transaction():
                conn.rollback()
            if driver.in_transaction:
                driver.execute("ROLLBACK")
            raise
        if conn.in_transaction():
            conn.commit()
        if driver.in_transaction:
            driver.execute("COMMIT")
        return result

    def run_read(self, fn: Callable[Concatenate[Connection, P], T], *a: P.args, **k: P.kwargs) -> T:
        """Run ``fn(conn, …)`` in a read transaction, here and now."""
        return self._run(False, fn, a, k)

    def run_write(self, fn: Callable[Concatenate[Connection, P], T], *a: P.args, **k: P.kwargs) -> T:
        """Run ``fn(conn, …)`` in a write transaction, here and now."""
        return self._run(True, fn, a, k)

    async def read(self, fn: Callable[Concatenate[Connection, P], T], *a: P.args, **k: P.kwargs) -> T:
        if self.is_sqlite:
            return self.run_read(fn, *a, **k)
        return await anyio.to_thread.run_sync(lambda: self.run_read(fn, *a, **k))

    async def write(self, fn: Callable[Concatenate[Connection, P], T], *a: P.args, **k: P.kwargs) -> T:
        if self.is_sqlite:
            return self.run_write(fn, *a, **k)
        return await anyio.to_thread.run_sync(lambda: self.run_write(fn, *a, **k))

    def checkpoint(self) -> None:
        """SQLite: copy the write-ahead log into the database file and empty it, so that what
        was overwritten (an erasure) is gone from both files; best effort while others read.
        PostgreSQL: nothing to do."""
        if self.is_sqlite:
            driver = self._kept_connection().connection.dbapi_connection
            assert driver is not None
            driver.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def dispose(self) -> None:
        for conn in self._kept:
            conn.close()
        self._kept.clear()
        self.engine.dispose()
