"""rows of a contact refer to it by (team_id, contact_id)

Revision ID: 0009
Revises: 0008

Memberships, tags, custom values, topic choices and events each had one foreign key to
``teams`` and one to ``contacts``; one composite key to ``contacts (team_id, id)`` replaces
both. The database then holds every such row to its contact's team, and checks one key per
write instead of two. ``contacts (team_id, id)`` becomes a unique index to be referred to.

PostgreSQL alters the constraints in place. SQLite cannot, so each table is copied into its
new shape (Alembic's batch mode), its rows and indexes kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OBJECT_ID = sa.String(length=40).with_variant(sa.String(length=40, collation="C"), "postgresql")
TIMESTAMP = sa.DateTime(timezone=True)
CHILDREN = ("memberships", "contact_tags", "contact_values", "contact_events", "topic_choices")


def _columns(name: str) -> list[sa.Column[Any]]:
    """Each table's own columns, as migrations 0001–0003 made them."""
    contact_id = sa.Column("contact_id", OBJECT_ID, nullable=False)
    team_id = sa.Column("team_id", OBJECT_ID, nullable=False)
    if name == "memberships":
        return [
            sa.Column("audience_id", OBJECT_ID, nullable=False),
            contact_id,
            team_id,
            sa.Column("subscribed", sa.Boolean(), nullable=False),
            sa.Column("created_at", TIMESTAMP, nullable=False),
            sa.Column("updated_at", TIMESTAMP, nullable=False),
        ]
    if name == "contact_tags":
        return [sa.Column("tag_id", OBJECT_ID, nullable=False), contact_id, team_id]
    if name == "contact_values":
        return [
            sa.Column("field_id", OBJECT_ID, nullable=False),
            contact_id,
            team_id,
            sa.Column("text", sa.String(length=255), nullable=False),
            sa.Column("number", sa.Float(), nullable=True),
            sa.Column("day", sa.Date(), nullable=True),
            sa.Column("flag", sa.Boolean(), nullable=True),
        ]
    if name == "contact_events":
        return [
            sa.Column("id", OBJECT_ID, nullable=False),
            team_id,
            contact_id,
            sa.Column("kind", sa.String(length=16), nullable=False),
            sa.Column("name", sa.String(length=255), nullable=False),
            sa.Column("data", sa.JSON(), nullable=True),
            sa.Column("amount_cents", sa.BigInteger(), nullable=True),
            sa.Column("occurred_at", TIMESTAMP, nullable=False),
            sa.Column("created_at", TIMESTAMP, nullable=False),
        ]
    return [
        sa.Column("topic_id", OBJECT_ID, nullable=False),
        contact_id,
        team_id,
        sa.Column("subscribed", sa.Boolean(), nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
    ]


PARENTS = {
    "memberships": ("audience_id", "audiences"),
    "contact_tags": ("tag_id", "tags"),
    "contact_values": ("field_id", "custom_fields"),
    "topic_choices": ("topic_id", "topics"),
}


Key = tuple[str, str, list[str], list[str]]  # name, referred table, its columns here and there


def _contact_keys(name: str, *, by_team: bool) -> list[Key]:
    if by_team:
        return [(f"fk_{name}_team_id_contacts", "contacts", ["team_id", "contact_id"], ["team_id", "id"])]
    return [
        (f"fk_{name}_contact_id_contacts", "contacts", ["contact_id"], ["id"]),
        (f"fk_{name}_team_id_teams", "teams", ["team_id"], ["id"]),
    ]


def _shape(name: str, *, by_team: bool) -> sa.Table:
    """The table with its contact keys as they are (``by_team=False``) or as they become;
    SQLite copies it into the new shape from this, keeping ``WITHOUT ROWID``."""
    parts: list[Any] = [*_columns(name)]
    if name == "contact_events":
        parts.append(sa.PrimaryKeyConstraint("id", name=f"pk_{name}"))
    else:
        column, parent = PARENTS[name]
        parts.append(sa.PrimaryKeyConstraint(column, "contact_id", name=f"pk_{name}"))
        parts.append(
            sa.ForeignKeyConstraint(
                [column], [f"{parent}.id"], name=f"fk_{name}_{column}_{parent}", ondelete="CASCADE"
            )
        )
    for key, referred, here, there in _contact_keys(name, by_team=by_team):
        parts.append(
            sa.ForeignKeyConstraint(here, [f"{referred}.{c}" for c in there], name=key, ondelete="CASCADE")
        )
    parts.append(sa.Index(f"ix_{name}_contact_id", "contact_id"))
    return sa.Table(name, sa.MetaData(), *parts)


def _contacts_index(*, unique: bool) -> None:
    op.drop_index("ix_contacts_team_id_id", table_name="contacts")
    op.create_index("ix_contacts_team_id_id", "contacts", ["team_id", "id"], unique=unique)


def _rekey(*, by_team: bool) -> None:
    for name in CHILDREN:
        with op.batch_alter_table(
            name,
            copy_from=_shape(name, by_team=not by_team),
            table_kwargs={} if name == "contact_events" else {"sqlite_with_rowid": False},
        ) as batch:
            for key, _, _, _ in _contact_keys(name, by_team=not by_team):
                batch.drop_constraint(key, type_="foreignkey")
            for key, referred, here, there in _contact_keys(name, by_team=by_team):
                batch.create_foreign_key(key, referred, here, there, ondelete="CASCADE")


def upgrade() -> None:
    _contacts_index(unique=True)
    _rekey(by_team=True)


def downgrade() -> None:
    _rekey(by_team=False)
    _contacts_index(unique=False)
