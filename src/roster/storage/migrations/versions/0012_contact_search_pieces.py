"""contact search on PostgreSQL: the index asked for some of the text, each find checked

Revision ID: 0012
Revises: 0011

``contacts_holding`` takes two texts: ``pieces``, a ``LIKE`` pattern of the parts of the
searched text the trigram index is asked for (its rarest trigrams, as the team's sample
prices them: ``%aar%jac%`` for ``aarav.jackson``), and ``term``, the whole lower-cased text,
which each contact the index finds must hold. ``strpos`` is no operator of the trigram
index, so the planner cannot ask the index for the whole text's trigrams again (measured
at 1M contacts: 8.6 ms for the eleven trigrams of ``aarav.jackson``, 1.7 ms for two).
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UP = [
    "DROP FUNCTION contacts_holding(text, text, integer)",
    r"""CREATE FUNCTION contacts_holding(team text, pieces text, term text, cap integer)
    RETURNS SETOF text
    LANGUAGE plpgsql STABLE
    SET enable_seqscan = off
    SET enable_indexscan = off
    AS $$
    BEGIN
        RETURN QUERY SELECT id::text FROM contacts
        WHERE team_id = team AND search_text LIKE pieces AND strpos(search_text, term) > 0
        LIMIT cap;
    END
    $$""",
]

DOWN = [
    "DROP FUNCTION contacts_holding(text, text, text, integer)",
    r"""CREATE FUNCTION contacts_holding(team text, pattern text, cap integer) RETURNS SETOF text
    LANGUAGE plpgsql STABLE
    SET enable_seqscan = off
    SET enable_indexscan = off
    AS $$
    BEGIN
        RETURN QUERY SELECT id::text FROM contacts
        WHERE team_id = team AND search_text LIKE pattern ESCAPE '\'
        LIMIT cap;
    END
    $$""",
]


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in UP:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in DOWN:
            op.execute(statement)
