"""campaign sending: recipients, sending state on campaigns, DKIM keys on domains

Revision ID: 0015
Revises: 0014

Domains added before this revision get their DKIM key pair here, as new ones do when they
are added (``roster.core.dkim``).
"""

from __future__ import annotations

from base64 import b64encode
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OBJECT_ID = sa.String(length=40).with_variant(sa.String(length=40, collation="C"), "postgresql")
TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("domains") as batch:
        batch.add_column(sa.Column("dkim_selector", sa.String(length=63), nullable=True))
        batch.add_column(sa.Column("dkim_private_key", sa.Text(), nullable=True))
        batch.add_column(sa.Column("dkim_public_key", sa.Text(), nullable=True))
    _give_existing_domains_dkim_keys()
    with op.batch_alter_table("campaigns") as batch:
        batch.add_column(sa.Column("reply_to", sa.String(length=254), nullable=True))
        batch.add_column(sa.Column("status_reason", sa.String(length=500), nullable=True))
        batch.add_column(sa.Column("resolved_through", OBJECT_ID, nullable=True))
        batch.add_column(sa.Column("resolved_at", TIMESTAMP, nullable=True))
        batch.add_column(sa.Column("failures_in_row", sa.Integer(), server_default="0", nullable=False))
        batch.add_column(sa.Column("sent_at", TIMESTAMP, nullable=True))
        batch.create_index(op.f("ix_campaigns_status_scheduled_at"), ["status", "scheduled_at"])
    op.create_table(
        "campaign_recipients",
        sa.Column("campaign_id", OBJECT_ID, nullable=False),
        sa.Column("contact_id", OBJECT_ID, nullable=False),
        sa.Column("team_id", OBJECT_ID, nullable=False),
        sa.Column("audience_id", OBJECT_ID, nullable=True),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("attempts", sa.SmallInteger(), nullable=False),
        sa.Column("next_attempt_at", TIMESTAMP, nullable=False),
        sa.Column("reply", sa.String(length=500), nullable=True),
        sa.Column("bounced", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("done_at", TIMESTAMP, nullable=True),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_campaign_recipients_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_campaign_recipients_team_id_teams"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("campaign_id", "contact_id", name=op.f("pk_campaign_recipients")),
        sqlite_with_rowid=False,
    )
    op.create_index(
        op.f("ix_campaign_recipients_campaign_id_state_next_attempt_at"),
        "campaign_recipients",
        ["campaign_id", "state", "next_attempt_at"],
    )


def _give_existing_domains_dkim_keys() -> None:
    domains = sa.table(
        "domains",
        sa.column("id", sa.String),
        sa.column("dkim_selector", sa.String),
        sa.column("dkim_private_key", sa.Text),
        sa.column("dkim_public_key", sa.Text),
    )
    bind = op.get_bind()
    selector = f"roster{datetime.now(UTC):%Y%m}"
    for (domain_id,) in bind.execute(sa.select(domains.c.id)).all():
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        private = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
        public = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        bind.execute(
            sa.update(domains)
            .where(domains.c.id == domain_id)
            .values(
                dkim_selector=selector,
                dkim_private_key=private.decode(),
                dkim_public_key=b64encode(public).decode(),
            )
        )


def downgrade() -> None:
    op.drop_table("campaign_recipients")
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_index(op.f("ix_campaigns_status_scheduled_at"))
        for column in (
            "sent_at",
            "failures_in_row",
            "resolved_at",
            "resolved_through",
            "status_reason",
            "reply_to",
        ):
            batch.drop_column(column)
    with op.batch_alter_table("domains") as batch:
        for column in ("dkim_public_key", "dkim_private_key", "dkim_selector"):
            batch.drop_column(column)
