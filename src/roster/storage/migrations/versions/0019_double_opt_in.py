"""double opt-in: pending memberships, their confirmation mail, each list's template, and
the lists that take sign-ups from a public form

Revision ID: 0019
Revises: 0018
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OBJECT_ID = sa.String(length=40).with_variant(sa.String(length=40, collation="C"), "postgresql")
TIMESTAMP = sa.DateTime(timezone=True)
MEMBERSHIP = ("pending_since", "confirm_due_at", "confirm_sent_at")


def upgrade() -> None:
    with op.batch_alter_table("audiences") as batch:
        batch.add_column(sa.Column("confirm_subject", sa.String(length=255), nullable=True))
        batch.add_column(sa.Column("confirm_html", sa.Text(), nullable=True))
        batch.add_column(sa.Column("confirm_sender_id", OBJECT_ID, nullable=True))
        batch.add_column(sa.Column("public_form", sa.Boolean(), server_default=sa.false(), nullable=False))
    with op.batch_alter_table("memberships") as batch:
        for column in MEMBERSHIP:
            batch.add_column(sa.Column(column, TIMESTAMP, nullable=True))
    op.create_index(op.f("ix_memberships_confirm_due_at"), "memberships", ["confirm_due_at"])
    op.create_index(op.f("ix_memberships_pending_since"), "memberships", ["pending_since"])
    with op.batch_alter_table("audience_counts") as batch:
        batch.add_column(sa.Column("pending", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("audience_counts") as batch:
        batch.drop_column("pending")
    op.drop_index(op.f("ix_memberships_pending_since"), table_name="memberships")
    op.drop_index(op.f("ix_memberships_confirm_due_at"), table_name="memberships")
    with op.batch_alter_table("memberships") as batch:
        for column in MEMBERSHIP:
            batch.drop_column(column)
    with op.batch_alter_table("audiences") as batch:
        for column in ("public_form", "confirm_sender_id", "confirm_html", "confirm_subject"):
            batch.drop_column(column)
