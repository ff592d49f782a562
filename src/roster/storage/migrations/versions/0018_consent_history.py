"""consent: the history of every change of a person's subscription state, the
suppression list, and the record of erasures

Revision ID: 0018
Revises: 0017

Changes made before this revision were not recorded; the history starts here.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OBJECT_ID = sa.String(length=40).with_variant(sa.String(length=40, collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "consent_events",
        sa.Column("id", OBJECT_ID, nullable=False),
        sa.Column("team_id", OBJECT_ID, nullable=False),
        sa.Column("contact_id", OBJECT_ID, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("change", sa.String(length=16), nullable=False),
        sa.Column("audience_id", OBJECT_ID, nullable=True),
        sa.Column("topic_id", OBJECT_ID, nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("source_id", sa.String(length=64), nullable=True),
        sa.Column("detail", sa.String(length=255), nullable=True),
        sa.ForeignKeyConstraint(
            ["team_id", "contact_id"],
            ["contacts.team_id", "contacts.id"],
            name=op.f("fk_consent_events_team_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_events")),
    )
    op.create_index(
        op.f("ix_consent_events_team_id_contact_id_at"), "consent_events", ["team_id", "contact_id", "at"]
    )
    op.create_table(
        "suppressions",
        sa.Column("team_id", OBJECT_ID, nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("source_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        _team_key("suppressions"),
        sa.PrimaryKeyConstraint("team_id", "digest", name=op.f("pk_suppressions")),
    )
    op.create_table(
        "erasures",
        sa.Column("id", OBJECT_ID, nullable=False),
        sa.Column("team_id", OBJECT_ID, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("source_id", sa.String(length=64), nullable=True),
        _team_key("erasures"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erasures")),
    )
    op.create_index(op.f("ix_erasures_team_id_at"), "erasures", ["team_id", "at"])


def _team_key(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["team_id"], ["teams.id"], name=op.f(f"fk_{table}_team_id_teams"), ondelete="CASCADE"
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_erasures_team_id_at"), table_name="erasures")
    op.drop_table("erasures")
    op.drop_table("suppressions")
    op.drop_index(op.f("ix_consent_events_team_id_contact_id_at"), table_name="consent_events")
    op.drop_table("consent_events")
