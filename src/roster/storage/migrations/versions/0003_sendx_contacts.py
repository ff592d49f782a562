"""team-wide contact attributes: company, flags, tracking, LTV; tags, custom values, events

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OBJECT_ID = sa.String(length=40).with_variant(sa.String(length=40, collation="C"), "postgresql")
TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "contact_events",
        sa.Column("id", OBJECT_ID, nullable=False),
        sa.Column("team_id", OBJECT_ID, nullable=False),
        sa.Column("contact_id", OBJECT_ID, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("data", sa.JSON(), nullable=True),
        sa.Column("amount_cents", sa.BigInteger(), nullable=True),
        sa.Column("occurred_at", TIMESTAMP, nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_contact_events_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_contact_events_team_id_teams"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_events")),
    )
    with op.batch_alter_table("contact_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_contact_events_contact_id"), ["contact_id"], unique=False)

    op.create_table(
        "contact_tags",
        sa.Column("tag_id", OBJECT_ID, nullable=False),
        sa.Column("contact_id", OBJECT_ID, nullable=False),
        sa.Column("team_id", OBJECT_ID, nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_contact_tags_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tag_id"], ["tags.id"], name=op.f("fk_contact_tags_tag_id_tags"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_contact_tags_team_id_teams"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("tag_id", "contact_id", name=op.f("pk_contact_tags")),
        sqlite_with_rowid=False,
    )
    with op.batch_alter_table("contact_tags", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_contact_tags_contact_id"), ["contact_id"], unique=False)

    op.create_table(
        "contact_values",
        sa.Column("field_id", OBJECT_ID, nullable=False),
        sa.Column("contact_id", OBJECT_ID, nullable=False),
        sa.Column("team_id", OBJECT_ID, nullable=False),
        sa.Column("text", sa.String(length=255), nullable=False),
        sa.Column("number", sa.Float(), nullable=True),
        sa.Column("day", sa.Date(), nullable=True),
        sa.Column("flag", sa.Boolean(), nullable=True),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_contact_values_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["field_id"],
            ["custom_fields.id"],
            name=op.f("fk_contact_values_field_id_custom_fields"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_contact_values_team_id_teams"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("field_id", "contact_id", name=op.f("pk_contact_values")),
        sqlite_with_rowid=False,
    )
    with op.batch_alter_table("contact_values", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_contact_values_contact_id"), ["contact_id"], unique=False)

    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("company", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("bounced", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column("spam", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column("blocked", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column("dropped", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column("track_data", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column("contact_source", sa.SmallInteger(), server_default="1", nullable=False)
        )
        batch_op.add_column(sa.Column("page_source", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("last_tracked_ip", sa.String(length=45), nullable=True))
        batch_op.add_column(sa.Column("ltv", sa.BigInteger(), server_default="0", nullable=False))
        batch_op.create_index(batch_op.f("ix_contacts_team_id_id"), ["team_id", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contacts_team_id_id"))
        batch_op.drop_column("ltv")
        batch_op.drop_column("last_tracked_ip")
        batch_op.drop_column("page_source")
        batch_op.drop_column("contact_source")
        batch_op.drop_column("track_data")
        batch_op.drop_column("dropped")
        batch_op.drop_column("blocked")
        batch_op.drop_column("spam")
        batch_op.drop_column("bounced")
        batch_op.drop_column("company")

    with op.batch_alter_table("contact_values", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contact_values_contact_id"))

    op.drop_table("contact_values")
    with op.batch_alter_table("contact_tags", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contact_tags_contact_id"))

    op.drop_table("contact_tags")
    with op.batch_alter_table("contact_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contact_events_contact_id"))

    op.drop_table("contact_events")
