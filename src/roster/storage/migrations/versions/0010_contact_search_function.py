"""contact search on PostgreSQL: a function that always asks the trigram index

Revision ID: 0010
Revises: 0009

``contacts_holding(team, pattern, cap)`` returns the IDs of at most ``cap`` of the team's
contacts whose names or email match ``pattern``, always through ``ix_contacts_search`` (a
bitmap scan): the function runs with sequential and plain index scans turned off, for its
own statement only. Left to itself, the planner chose between the index and a walk in ID
order from a sampled estimate of how many contacts match, and a wrong guess on rare text
walked 100,000 rows (measured: 15–130 ms instead of 1–3 ms). SQLite needs nothing: its
FTS5 table is asked directly.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CREATE = r"""
CREATE FUNCTION contacts_holding(team text, pattern text, cap integer) RETURNS SETOF text
LANGUAGE sql STABLE
SET enable_seqscan = off
SET enable_indexscan = off
AS $$
    SELECT id FROM contacts
    WHERE team_id = team
      AND lower(coalesce(first_name, '') || E'\t' || coalesce(last_name, '') || E'\t' || email_normalized)
          LIKE pattern ESCAPE '\'
    LIMIT cap
$$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(CREATE)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION contacts_holding(text, text, integer)")
