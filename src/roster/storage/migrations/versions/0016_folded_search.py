"""one contact search: text folded by Roster, the databases' own trigram indexes

Revision ID: 0016
Revises: 0015

``contacts.search_text`` was folded by the database's ``lower()`` (ASCII only on SQLite),
so that no search could find ``Öberg``; now Roster writes it, Unicode case-folded
(``roster.core.search``): first name, last name, email and company, joined by tabs. Custom
field values get their folded text too (``contact_values.folded``), for segment rules.
Every contact and value is folded here, a batch at a time (about 30 s per million contacts).

What the old search kept goes: ``contact_blocks``, its triggers and functions, and
``contacts_holding``. On PostgreSQL the generated column becomes a plain one and keeps its
indexes (the GIN trigram index, the unique index that carries the text). On SQLite the
virtual column and its index are made again as a stored column (SQLite cannot add a NOT
NULL column without a default: it has an empty one), and the FTS5 table is made again on
that column alone, matching case-sensitively: the text is folded already.

There is no way back: the old search's objects are not made again. Restore a backup taken
before upgrading instead.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op
from sqlalchemy import Connection, text

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 10_000


def _fold(raw: str | None) -> str:
    """As ``roster.core.search.fold`` does, written here so that this revision stays what it was."""
    return (raw or "").casefold().replace("\t", " ")


def _fill(conn: Connection, select: str, update: str, keys: int) -> None:
    """Fold the texts of every row ``select`` reads (its ``keys`` first columns, then the
    texts, in key order after ``:k0``, ``:k1``…), writing each through ``update``
    (``:k0``…, ``:folded``), a batch at a time."""
    after = dict.fromkeys((f"k{i}" for i in range(keys)), "")
    while True:
        rows = conn.execute(text(select), {**after, "batch": BATCH}).all()
        if not rows:
            return
        folded = [
            {
                **{f"k{i}": row[i] for i in range(keys)},
                "folded": "\t".join(_fold(part) for part in row[keys:]),
            }
            for row in rows
        ]
        conn.execute(text(update), folded)
        after = {f"k{i}": rows[-1][i] for i in range(keys)}


SELECT_CONTACTS = """SELECT id, first_name, last_name, email_normalized, company FROM contacts
    WHERE id > :k0 ORDER BY id LIMIT :batch"""
UPDATE_CONTACTS = "UPDATE contacts SET search_text = :folded WHERE id = :k0"
SELECT_VALUES = """SELECT field_id, contact_id, text FROM contact_values
    WHERE (field_id, contact_id) > (:k0, :k1) ORDER BY field_id, contact_id LIMIT :batch"""
UPDATE_VALUES = "UPDATE contact_values SET folded = :folded WHERE field_id = :k0 AND contact_id = :k1"

SQLITE_BEFORE = [
    "DROP TRIGGER contact_blocks_insert",
    "DROP TRIGGER contact_blocks_update",
    "DROP TABLE contact_blocks",
    "DROP TRIGGER contacts_search_insert",
    "DROP TRIGGER contacts_search_delete",
    "DROP TRIGGER contacts_search_update",
    "DROP TABLE contacts_search",
    "DROP INDEX ix_contacts_walk",
    "ALTER TABLE contacts DROP COLUMN search_text",
    "ALTER TABLE contacts ADD COLUMN search_text TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE contact_values ADD COLUMN folded TEXT NOT NULL DEFAULT ''",
]
SQLITE_AFTER = [
    "CREATE INDEX ix_contacts_walk ON contacts (team_id, id, search_text)",
    """CREATE VIRTUAL TABLE contacts_search USING fts5(
        search_text, content='contacts', content_rowid='rowid', tokenize='trigram case_sensitive 1')""",
    """CREATE TRIGGER contacts_search_insert AFTER INSERT ON contacts BEGIN
        INSERT INTO contacts_search(rowid, search_text) VALUES (new.rowid, new.search_text);
    END""",
    """CREATE TRIGGER contacts_search_delete AFTER DELETE ON contacts BEGIN
        INSERT INTO contacts_search(contacts_search, rowid, search_text)
        VALUES ('delete', old.rowid, old.search_text);
    END""",
    """CREATE TRIGGER contacts_search_update AFTER UPDATE OF search_text ON contacts BEGIN
        INSERT INTO contacts_search(contacts_search, rowid, search_text)
        VALUES ('delete', old.rowid, old.search_text);
        INSERT INTO contacts_search(rowid, search_text) VALUES (new.rowid, new.search_text);
    END""",
    "INSERT INTO contacts_search(contacts_search) VALUES ('rebuild')",
]

POSTGRESQL_BEFORE = [
    "DROP TRIGGER contact_blocks_insert ON contacts",
    "DROP TRIGGER contact_blocks_update ON contacts",
    "DROP FUNCTION contact_blocks_added()",
    "DROP FUNCTION contact_blocks_changed()",
    "DROP FUNCTION contacts_in_blocks(text, text, text, text, integer)",
    "DROP FUNCTION contacts_holding(text, text, text, integer)",
    "DROP TABLE contact_blocks",
    "ALTER TABLE contacts ALTER COLUMN search_text DROP EXPRESSION",
    "ALTER TABLE contact_values ADD COLUMN folded text",
]
POSTGRESQL_AFTER = [
    "ALTER TABLE contacts ALTER COLUMN search_text SET NOT NULL",
    "ALTER TABLE contact_values ALTER COLUMN folded SET NOT NULL",
]


def upgrade() -> None:
    conn = op.get_bind()
    sqlite = conn.dialect.name == "sqlite"
    for statement in SQLITE_BEFORE if sqlite else POSTGRESQL_BEFORE:
        op.execute(statement)
    _fill(conn, SELECT_CONTACTS, UPDATE_CONTACTS, keys=1)
    _fill(conn, SELECT_VALUES, UPDATE_VALUES, keys=2)
    for statement in SQLITE_AFTER if sqlite else POSTGRESQL_AFTER:
        op.execute(statement)


def downgrade() -> None:
    raise NotImplementedError("revision 0016 cannot be undone: restore a backup taken before upgrading")
