"""lists (audience type), tags, custom fields

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OBJECT_ID = sa.String(length=40).with_variant(sa.String(length=40, collation="C"), "postgresql")
TIMESTAMP = sa.DateTime(timezone=True)


def _named(table: str, *extra: sa.Column[object]) -> None:
    op.create_table(
        table,
        sa.Column("id", OBJECT_ID, nullable=False),
        sa.Column("team_id", OBJECT_ID, nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("name_normalized", sa.String(length=255), nullable=False),
        *extra,
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f(f"fk_{table}_team_id_teams"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
        sa.UniqueConstraint("team_id", "name_normalized", name=op.f(f"uq_{table}_team_id_name_normalized")),
    )


def upgrade() -> None:
    with op.batch_alter_table("audiences") as batch:
        batch.add_column(sa.Column("list_type", sa.SmallInteger(), server_default="0", nullable=False))
    _named("tags")
    _named(
        "custom_fields",
        sa.Column("field_type", sa.SmallInteger(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("custom_fields")
    op.drop_table("tags")
    with op.batch_alter_table("audiences") as batch:
        batch.drop_column("list_type")
