"""campaign feedback: report counters, link clicks, tracking, received bounce reports

Revision ID: 0017
Revises: 0016

Campaigns sent before this revision get their report counters from their recipients here.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OBJECT_ID = sa.String(length=40).with_variant(sa.String(length=40, collation="C"), "postgresql")
TIMESTAMP = sa.DateTime(timezone=True)
COUNTERS = (
    "recipients", "sent", "failed", "skipped", "bounced", "soft_bounced", "opened",
    "opened_unique", "clicked", "clicked_unique", "unsubscribed", "spam",
)  # fmt: skip
RECIPIENT_FLAGS = ("soft_bounced", "complained", "unsubscribed")


def _campaign_key(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["campaign_id"], ["campaigns.id"], name=op.f(f"fk_{table}_campaign_id_campaigns"), ondelete="CASCADE"
    )


def _team_key(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["team_id"], ["teams.id"], name=op.f(f"fk_{table}_team_id_teams"), ondelete="CASCADE"
    )


def upgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.add_column(sa.Column("tracking", sa.Boolean(), server_default=sa.true(), nullable=False))
    with op.batch_alter_table("contact_events") as batch:
        batch.add_column(sa.Column("campaign_id", OBJECT_ID, nullable=True))
    with op.batch_alter_table("campaign_recipients") as batch:
        batch.add_column(sa.Column("opened_at", TIMESTAMP, nullable=True))
        batch.add_column(sa.Column("clicked_at", TIMESTAMP, nullable=True))
        for flag in RECIPIENT_FLAGS:
            batch.add_column(sa.Column(flag, sa.Boolean(), server_default=sa.false(), nullable=False))
    op.create_table(
        "campaign_counts",
        sa.Column("campaign_id", OBJECT_ID, nullable=False),
        sa.Column("slot", sa.SmallInteger(), nullable=False),
        sa.Column("team_id", OBJECT_ID, nullable=False),
        *(sa.Column(name, sa.Integer(), server_default="0", nullable=False) for name in COUNTERS),
        _campaign_key("campaign_counts"),
        _team_key("campaign_counts"),
        sa.PrimaryKeyConstraint("campaign_id", "slot", name=op.f("pk_campaign_counts")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "campaign_links",
        sa.Column("campaign_id", OBJECT_ID, nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("team_id", OBJECT_ID, nullable=False),
        sa.Column("clicks", sa.Integer(), nullable=False),
        _campaign_key("campaign_links"),
        _team_key("campaign_links"),
        sa.PrimaryKeyConstraint("campaign_id", "url", name=op.f("pk_campaign_links")),
    )
    op.create_table(
        "inbound_messages",
        sa.Column("id", OBJECT_ID, nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("team_id", OBJECT_ID, nullable=True),
        sa.Column("campaign_id", OBJECT_ID, nullable=True),
        sa.Column("contact_id", OBJECT_ID, nullable=True),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.Column("received_at", TIMESTAMP, nullable=False),
        _team_key("inbound_messages"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_messages")),
        sa.UniqueConstraint("digest", name=op.f("uq_inbound_messages_digest")),
    )
    op.create_index(
        op.f("ix_inbound_messages_state_received_at"), "inbound_messages", ["state", "received_at"]
    )
    _count_existing_campaigns()


def _count_existing_campaigns() -> None:
    recipients = sa.table(
        "campaign_recipients",
        sa.column("campaign_id", sa.String),
        sa.column("team_id", sa.String),
        sa.column("state", sa.String),
        sa.column("bounced", sa.Boolean),
    )
    counts = sa.table("campaign_counts", *(sa.column(name) for name in ("campaign_id", "slot", "team_id")),
                      *(sa.column(name, sa.Integer) for name in COUNTERS[:5]))  # fmt: skip
    op.get_bind().execute(
        sa.insert(counts).from_select(
            ["campaign_id", "slot", "team_id", *COUNTERS[:5]],
            sa.select(
                recipients.c.campaign_id,
                sa.literal(0),
                sa.func.min(recipients.c.team_id),
                sa.func.count(),
                *(
                    sa.func.count().filter(recipients.c.state == state)
                    for state in ("sent", "failed", "skipped")
                ),
                sa.func.count().filter(recipients.c.bounced),
            ).group_by(recipients.c.campaign_id),
        )
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_inbound_messages_state_received_at"), table_name="inbound_messages")
    op.drop_table("inbound_messages")
    op.drop_table("campaign_links")
    op.drop_table("campaign_counts")
    with op.batch_alter_table("campaign_recipients") as batch:
        for column in ("opened_at", "clicked_at", *RECIPIENT_FLAGS):
            batch.drop_column(column)
    with op.batch_alter_table("contact_events") as batch:
        batch.drop_column("campaign_id")
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_column("tracking")
