"""The migrations build exactly the schema the code declares, on the database under test."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from roster.storage.db import Database
from roster.storage.search import declared_elsewhere
from roster.storage.tables import metadata


def test_migrated_schema_matches_the_tables(db: Database) -> None:
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_object": declared_elsewhere})
        differences = compare_metadata(context, metadata)
    assert differences == []
