"""initial schema

Revision ID: 0001
Revises:
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Object IDs compare byte-wise so that ordering by ID is ordering by creation time.
OBJECT_ID = sa.String(length=40).with_variant(sa.String(length=40, collation="C"), "postgresql")
TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "instance_settings",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_instance_settings")),
    )
    op.create_table(
        "teams",
        sa.Column("id", OBJECT_ID, nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_teams")),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", OBJECT_ID, nullable=False),
        sa.Column("team_id", OBJECT_ID, nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("permission", sa.String(length=32), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("token_hint", sa.String(length=8), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("revoked_at", TIMESTAMP, nullable=True),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_api_keys_team_id_teams"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_keys_token_hash")),
    )
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_keys_team_id"), ["team_id"], unique=False)

    op.create_table(
        "contacts",
        sa.Column("id", OBJECT_ID, nullable=False),
        sa.Column("team_id", OBJECT_ID, nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("email_normalized", sa.String(length=254), nullable=False),
        sa.Column("first_name", sa.String(length=255), nullable=True),
        sa.Column("last_name", sa.String(length=255), nullable=True),
        sa.Column("unsubscribed", sa.Boolean(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_contacts_team_id_teams"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contacts")),
        sa.UniqueConstraint("team_id", "email_normalized", name=op.f("uq_contacts_team_id_email_normalized")),
    )
    op.create_table(
        "domains",
        sa.Column("id", OBJECT_ID, nullable=False),
        sa.Column("team_id", OBJECT_ID, nullable=False),
        sa.Column("name", sa.String(length=253), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("verification_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("verified_at", TIMESTAMP, nullable=True),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_domains_team_id_teams"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_domains")),
        sa.UniqueConstraint("team_id", "name", name=op.f("uq_domains_team_id_name")),
    )
    op.create_table(
        "audiences",
        sa.Column("id", OBJECT_ID, nullable=False),
        sa.Column("team_id", OBJECT_ID, nullable=False),
        sa.Column("domain_id", OBJECT_ID, nullable=True),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["domain_id"],
            ["domains.id"],
            name=op.f("fk_audiences_domain_id_domains"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_audiences_team_id_teams"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audiences")),
    )
    with op.batch_alter_table("audiences", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_audiences_team_id_domain_id"), ["team_id", "domain_id"], unique=False
        )

    op.create_table(
        "memberships",
        sa.Column("audience_id", OBJECT_ID, nullable=False),
        sa.Column("contact_id", OBJECT_ID, nullable=False),
        sa.Column("team_id", OBJECT_ID, nullable=False),
        sa.Column("subscribed", sa.Boolean(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["audience_id"],
            ["audiences.id"],
            name=op.f("fk_memberships_audience_id_audiences"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_memberships_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_memberships_team_id_teams"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("audience_id", "contact_id", name=op.f("pk_memberships")),
        sqlite_with_rowid=False,
    )
    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_memberships_contact_id"), ["contact_id"], unique=False)

    op.create_table(
        "audience_counts",
        sa.Column("audience_id", OBJECT_ID, nullable=False),
        sa.Column("slot", sa.SmallInteger(), nullable=False),
        sa.Column("team_id", OBJECT_ID, nullable=False),
        sa.Column("members", sa.Integer(), nullable=False),
        sa.Column("subscribed", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["audience_id"],
            ["audiences.id"],
            name=op.f("fk_audience_counts_audience_id_audiences"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_audience_counts_team_id_teams"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("audience_id", "slot", name=op.f("pk_audience_counts")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "topics",
        sa.Column("id", OBJECT_ID, nullable=False),
        sa.Column("team_id", OBJECT_ID, nullable=False),
        sa.Column("audience_id", OBJECT_ID, nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("default_subscribed", sa.String(length=16), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["audience_id"],
            ["audiences.id"],
            name=op.f("fk_topics_audience_id_audiences"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_topics_team_id_teams"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_topics")),
    )
    with op.batch_alter_table("topics", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_topics_audience_id"), ["audience_id"], unique=False)

    op.create_table(
        "topic_choices",
        sa.Column("topic_id", OBJECT_ID, nullable=False),
        sa.Column("contact_id", OBJECT_ID, nullable=False),
        sa.Column("team_id", OBJECT_ID, nullable=False),
        sa.Column("subscribed", sa.Boolean(), nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_topic_choices_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["team_id"],
            ["teams.id"],
            name=op.f("fk_topic_choices_team_id_teams"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["topic_id"],
            ["topics.id"],
            name=op.f("fk_topic_choices_topic_id_topics"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("topic_id", "contact_id", name=op.f("pk_topic_choices")),
        sqlite_with_rowid=False,
    )
    with op.batch_alter_table("topic_choices", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_topic_choices_contact_id"), ["contact_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("topic_choices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_topic_choices_contact_id"))

    op.drop_table("topic_choices")
    with op.batch_alter_table("topics", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_topics_audience_id"))

    op.drop_table("topics")
    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_memberships_contact_id"))

    op.drop_table("audience_counts")
    op.drop_table("memberships")
    with op.batch_alter_table("audiences", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audiences_team_id_domain_id"))

    op.drop_table("audiences")
    op.drop_table("domains")
    op.drop_table("contacts")
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_keys_team_id"))

    op.drop_table("api_keys")
    op.drop_table("teams")
    op.drop_table("instance_settings")
