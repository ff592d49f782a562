"""contact search: FTS5 trigram index on SQLite, pg_trgm on PostgreSQL

Revision ID: 0004
Revises: 0003

Both index lower-cased first name, last name and email for substring search. Neither is
declared in ``roster.storage.tables``: they are dialect-specific, and the code reaches them
only through ``roster.core.search``.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SQLITE_UP = [
    """CREATE VIRTUAL TABLE contacts_search USING fts5(
        email_normalized, first_name, last_name,
        content='contacts', content_rowid='rowid', tokenize='trigram')""",
    """CREATE TRIGGER contacts_search_insert AFTER INSERT ON contacts BEGIN
        INSERT INTO contacts_search(rowid, email_normalized, first_name, last_name)
        VALUES (new.rowid, new.email_normalized, new.first_name, new.last_name);
    END""",
    """CREATE TRIGGER contacts_search_delete AFTER DELETE ON contacts BEGIN
        INSERT INTO contacts_search(contacts_search, rowid, email_normalized, first_name, last_name)
        VALUES ('delete', old.rowid, old.email_normalized, old.first_name, old.last_name);
    END""",
    """CREATE TRIGGER contacts_search_update AFTER UPDATE OF email_normalized, first_name, last_name
    ON contacts BEGIN
        INSERT INTO contacts_search(contacts_search, rowid, email_normalized, first_name, last_name)
        VALUES ('delete', old.rowid, old.email_normalized, old.first_name, old.last_name);
        INSERT INTO contacts_search(rowid, email_normalized, first_name, last_name)
        VALUES (new.rowid, new.email_normalized, new.first_name, new.last_name);
    END""",
    "INSERT INTO contacts_search(contacts_search) VALUES ('rebuild')",
]

POSTGRESQL_UP = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    """CREATE INDEX ix_contacts_search ON contacts USING gin (
        (lower(coalesce(first_name, '') || E'\\t' || coalesce(last_name, '') || E'\\t' || email_normalized))
        gin_trgm_ops)""",
]


def upgrade() -> None:
    for statement in SQLITE_UP if op.get_bind().dialect.name == "sqlite" else POSTGRESQL_UP:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER contacts_search_{trigger}")
        op.execute("DROP TABLE contacts_search")
    else:
        op.execute("DROP INDEX ix_contacts_search")
