"""Alembic environment: migrations run on the engine or connection Roster hands over."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from roster.storage.tables import declared_on, metadata

config = context.config


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_object=declared_on(connection.dialect.name),
    )
    with context.begin_transaction():
        context.run_migrations()


def _foreign_keys(conn: Connection, setting: str) -> None:
    """SQLite alters a table by copying it and dropping the old one, and dropping a table with
    foreign keys on deletes the rows that refer to it (``ON DELETE CASCADE``): altering
    ``campaigns`` emptied its recipients. The keys are off while migrations run (a pragma
    that only takes effect outside a transaction), and checked after."""
    driver = conn.connection.dbapi_connection
    assert driver is not None
    driver.execute(f"PRAGMA foreign_keys={setting}")


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    with config.attributes["engine"].connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            _foreign_keys(conn, "OFF")
        try:
            _run(conn)
            conn.commit()
            if sqlite and (broken := conn.exec_driver_sql("PRAGMA foreign_key_check").all()):
                raise RuntimeError(f"the migration left rows whose keys refer to nothing: {broken[:5]}")
        finally:
            if sqlite:
                conn.rollback()
                _foreign_keys(conn, "ON")
