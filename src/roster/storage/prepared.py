"""Statements on the hot paths: written with SQLAlchemy Core, compiled once per database,
run on the driver's connection.

On the 2-core machines Roster is measured on, ``Connection.execute`` costs about 65 µs a
call before the database does any work, against about 5 µs for the same statement on the
driver (see docs/benchmarks.md). A ``Prepared`` statement keeps SQLAlchemy's SQL, dialect
rendering and type conversions (bind and result processors) and drops the per-call
machinery. It runs inside the caller's transaction, on the connection it is given. A
plan is kept per database and set of parameter names, so an INSERT names the columns it is
given and leaves the others to their defaults.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Dialect
from sqlalchemy.sql.compiler import Compiled
from sqlalchemy.sql.expression import Executable

Processor = Callable[[Any], Any] | None


@dataclass(frozen=True, slots=True)
class _Plan:
    sql: str
    positional: tuple[str, ...] | None  # parameter order for qmark drivers, else named
    defaults: dict[str, Any]  # values the statement carries itself, such as literals
    binds: dict[str, Callable[[Any], Any]]
    row: Any  # a namedtuple class for the result columns, or None
    results: tuple[Processor, ...] | None  # None when no column needs converting


def _plan(statement: Executable, dialect: Dialect, keys: tuple[str, ...]) -> _Plan:
    compiled: Compiled = statement.compile(dialect=dialect, column_keys=list(keys))  # type: ignore[attr-defined]
    binds = {}
    for name, bind in compiled.binds.items():  # type: ignore[attr-defined]
        processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if processor is not None:
            binds[name] = processor
    columns = getattr(compiled, "_result_columns", [])
    processors = tuple(
        column.type.dialect_impl(dialect).result_processor(dialect, None) for column in columns
    )
    results = processors if any(processors) else None
    row = namedtuple("Row", [column.keyname for column in columns]) if columns else None
    positional = getattr(compiled, "positiontup", None)
    defaults = {name: value for name, value in compiled.params.items() if value is not None}
    return _Plan(compiled.string, tuple(positional) if positional else None, defaults, binds, row, results)


class Prepared:
    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        self._plans: dict[tuple[str, tuple[str, ...]], _Plan] = {}

    def _bound(self, dialect: Dialect, params: Mapping[str, Any]) -> tuple[_Plan, Any]:
        """The plan for these parameter names, and the values as the driver takes them."""
        key = (dialect.name, tuple(params))
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plans[key] = _plan(self.statement, dialect, key[1])
        values = {**plan.defaults, **params} if plan.defaults else dict(params)
        for name, bind in plan.binds.items():
            if name in values:
                values[name] = bind(values[name])
        if plan.positional is not None:
            return plan, tuple(values[name] for name in plan.positional)
        return plan, values

    def _cursor(self, conn: Connection, params: Mapping[str, Any]) -> tuple[Any, _Plan]:
        plan, values = self._bound(conn.dialect, params)
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        cursor.execute(plan.sql, values)
        return cursor, plan

    def _row(self, plan: _Plan, raw: tuple[Any, ...]) -> Any:
        if plan.results is None:
            return plan.row._make(raw)
        converted = zip(raw, plan.results, strict=True)
        return plan.row._make([value if convert is None else convert(value) for value, convert in converted])

    def run(self, conn: Connection, params: Mapping[str, Any]) -> int:
        """Run a statement that returns no rows; how many rows it changed."""
        cursor, _ = self._cursor(conn, params)
        count = int(cursor.rowcount)
        cursor.close()
        return count

    def first(self, conn: Connection, params: Mapping[str, Any]) -> Any | None:
        cursor, plan = self._cursor(conn, params)
        raw = cursor.fetchone()
        cursor.close()
        return None if raw is None else self._row(plan, raw)

    def one(self, conn: Connection, params: Mapping[str, Any]) -> Any:
        row = self.first(conn, params)
        if row is None:
            raise LookupError("the statement returned no row")
        return row

    def all(self, conn: Connection, params: Mapping[str, Any]) -> list[Any]:
        cursor, plan = self._cursor(conn, params)
        rows = [self._row(plan, raw) for raw in cursor.fetchall()]
        cursor.close()
        return rows
