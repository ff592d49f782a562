"""contact search: a team's contacts' texts in blocks, so that a walk compares a block at once

Revision ID: 0014
Revises: 0013

A walk through a team's contacts cost a row of the walk index for each contact (PostgreSQL
0.25 µs, SQLite 0.3 µs at 1M contacts), most of it the row, not the comparison. A
``contact_blocks`` row holds the search texts of a run of consecutive contacts, joined by
newlines: the team's contacts with IDs after ``low`` up to ``high``, ``held`` of them when
it was made (``low`` is the previous block's ``high``; the first block's is empty). A walk
compares a block's text with the searched text, and reads the contacts of a block only
where it holds the text (``roster.storage.search``): 0.045 µs a contact on PostgreSQL,
0.06 on SQLite.

A block's text may hold more than its contacts' texts (a deleted contact's, a changed
contact's old one): a block that holds the text is only where to look, so it never answers
wrongly. It must never hold less, so the database keeps it whole:

- a contact added inside a block's range (an ID below the block's ``high``) or whose text
  changes has its text appended to the block (the triggers below);
- blocks are made only by ``roster.storage.search.fold``, for contacts after the team's last
  block, and made again there when changes have doubled a block's text. On PostgreSQL it
  holds an advisory lock on the team that each trigger takes shared, so that no write it
  cannot see yet lands in a block it is making; SQLite has one writer.

Contacts after the last block (the team's newest, and all of a team never searched) are
walked one by one, as before.

PostgreSQL: a block is kept under the size at which it would be compressed (2 kB), as the
walk reads each; SQLite keeps rows in a rowid table (an index's row over 1 kB spills onto
pages of its own).
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

POSTGRESQL = [
    """CREATE TABLE contact_blocks (
        team_id varchar(40) COLLATE "C" NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
        low varchar(40) COLLATE "C" NOT NULL,
        high varchar(40) COLLATE "C" NOT NULL,
        held integer NOT NULL,
        texts text NOT NULL,
        PRIMARY KEY (team_id, high)
    )""",
    # The first ``cap`` of the team's contacts holding ``needle``, in ID order, from its blocks
    # up to ``folded``, as far as the one holding ``bound``: each block holding the text read
    # in order, and its contacts. Sorting and the other scans are turned off for the
    # function's statement alone: a table as small as the blocks' was read whole and sorted
    # (57 ms at 1M contacts, instead of 5 to the first page of text 1 in 3,000 hold).
    r"""CREATE FUNCTION contacts_in_blocks(team text, folded text, bound text, needle text, cap integer)
    RETURNS SETOF text LANGUAGE plpgsql STABLE
    SET enable_sort = off SET enable_bitmapscan = off SET enable_seqscan = off SET jit = off
    AS $$
BEGIN
    RETURN QUERY SELECT found.id::text FROM (
        SELECT low, high FROM contact_blocks
        WHERE team_id = team AND strpos(texts, needle) > 0 AND high <= least(folded, coalesce(
            (SELECT min(high) FROM contact_blocks WHERE team_id = team AND high >= bound), folded
        ))
        ORDER BY high
    ) block CROSS JOIN LATERAL (
        SELECT contacts.id FROM contacts
        WHERE team_id = team AND contacts.id > block.low AND contacts.id <= block.high
            AND strpos(search_text, needle) > 0
        ORDER BY contacts.id
    ) found LIMIT cap;
END $$""",
    # Contacts added in one statement (an import's batch): the blocks that cover them, if any.
    r"""CREATE FUNCTION contact_blocks_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock_shared(hashtext('contact_blocks'), hashtext(team_id))
    FROM (SELECT DISTINCT team_id FROM added) teams;
    UPDATE contact_blocks SET texts = contact_blocks.texts || more.texts
    FROM (
        SELECT block.team_id, block.high, string_agg(E'\n' || added.search_text, '') AS texts
        FROM added CROSS JOIN LATERAL (
            SELECT team_id, high FROM contact_blocks
            WHERE team_id = added.team_id AND high >= added.id ORDER BY high LIMIT 1
        ) block
        GROUP BY block.team_id, block.high
    ) more
    WHERE contact_blocks.team_id = more.team_id AND contact_blocks.high = more.high;
    RETURN NULL;
END $$""",
    """CREATE TRIGGER contact_blocks_insert AFTER INSERT ON contacts
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION contact_blocks_added()""",
    r"""CREATE FUNCTION contact_blocks_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock_shared(hashtext('contact_blocks'), hashtext(NEW.team_id));
    UPDATE contact_blocks SET texts = texts || E'\n' || NEW.search_text
    WHERE team_id = NEW.team_id AND high = (
        SELECT min(high) FROM contact_blocks WHERE team_id = NEW.team_id AND high >= NEW.id
    );
    RETURN NULL;
END $$""",
    """CREATE TRIGGER contact_blocks_update AFTER UPDATE ON contacts FOR EACH ROW
    WHEN (OLD.search_text IS DISTINCT FROM NEW.search_text) EXECUTE FUNCTION contact_blocks_changed()""",
]

_SQLITE_APPEND = """UPDATE contact_blocks SET texts = texts || char(10) || new.search_text
    WHERE team_id = new.team_id AND high = (
        SELECT min(high) FROM contact_blocks WHERE team_id = new.team_id AND high >= new.id
    );"""
SQLITE = [
    """CREATE TABLE contact_blocks (
        team_id VARCHAR(40) NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
        low VARCHAR(40) NOT NULL,
        high VARCHAR(40) NOT NULL,
        held INTEGER NOT NULL,
        texts TEXT NOT NULL
    )""",
    "CREATE UNIQUE INDEX ix_contact_blocks ON contact_blocks (team_id, high)",
    f"""CREATE TRIGGER contact_blocks_insert AFTER INSERT ON contacts
    WHEN new.id <= (SELECT max(high) FROM contact_blocks WHERE team_id = new.team_id)
    BEGIN {_SQLITE_APPEND} END""",
    f"""CREATE TRIGGER contact_blocks_update AFTER UPDATE OF first_name, last_name, email_normalized
    ON contacts WHEN new.search_text IS NOT old.search_text
    BEGIN {_SQLITE_APPEND} END""",
]


def upgrade() -> None:
    for statement in SQLITE if op.get_bind().dialect.name == "sqlite" else POSTGRESQL:
        op.execute(statement)


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for trigger in ("contact_blocks_update", "contact_blocks_insert"):
        op.execute(f"DROP TRIGGER {trigger}" + ("" if sqlite else " ON contacts"))
    if not sqlite:
        op.execute("DROP FUNCTION contact_blocks_changed()")
        op.execute("DROP FUNCTION contact_blocks_added()")
        op.execute("DROP FUNCTION contacts_in_blocks(text, text, text, text, integer)")
    op.execute("DROP TABLE contact_blocks")
