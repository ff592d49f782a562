"""kept count of each team's contacts

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OBJECT_ID = sa.String(length=40).with_variant(sa.String(length=40, collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "team_counts",
        sa.Column("team_id", OBJECT_ID, nullable=False),
        sa.Column("slot", sa.SmallInteger(), nullable=False),
        sa.Column("contacts", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_team_counts_team_id_teams"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("team_id", "slot", name=op.f("pk_team_counts")),
        sqlite_with_rowid=False,
    )
    op.execute(
        "INSERT INTO team_counts (team_id, slot, contacts) "
        "SELECT team_id, 0, count(*) FROM contacts GROUP BY team_id"
    )


def downgrade() -> None:
    op.drop_table("team_counts")
