"""The migrations build exactly the schema the code declares, on the database under test."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from unittest import mock

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from roster.core import search, tallies
from roster.ids import new_id
from roster.storage import tables
from roster.storage.db import Database
from roster.storage.migrate import alembic_config, upgrade
from roster.storage.tables import declared_on, metadata
from tests.conftest import fresh_database


def test_migrated_schema_matches_the_tables(db: Database) -> None:
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_object": declared_on(conn.dialect.name)})
        differences = compare_metadata(context, metadata)
    assert differences == []


NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def _team_with_a_contact(conn: Connection, name: str, **columns: str) -> tuple[str, str]:
    """A team and a contact; ``columns`` those only some revisions have (``search_text``)."""
    team_id, contact_id = new_id("team"), new_id("contact")
    conn.execute(insert(tables.teams).values(id=team_id, name=name, created_at=NOW))
    conn.execute(
        insert(tables.contacts).values(
            id=contact_id,
            team_id=team_id,
            email=f"{name}@example.com",
            email_normalized=f"{name}@example.com",
            unsubscribed=False,
            created_at=NOW,
            updated_at=NOW,
            **columns,
        )
    )
    return team_id, contact_id


def _text_field(conn: Connection, team_id: str) -> str:
    field_id = new_id("field")
    conn.execute(
        insert(tables.custom_fields).values(
            id=field_id,
            team_id=team_id,
            name="Plan",
            name_normalized="plan",
            field_type=0,
            created_at=NOW,
            updated_at=NOW,
        )
    )
    return field_id


def _tag(conn: Connection, team_id: str) -> str:
    tag_id = new_id("tag")
    conn.execute(
        insert(tables.tags).values(
            id=tag_id, team_id=team_id, name="vip", name_normalized="vip", created_at=NOW, updated_at=NOW
        )
    )
    return tag_id


def test_a_row_of_a_contact_is_held_to_the_contacts_team(db: Database) -> None:
    with db.engine.begin() as conn:
        team_a, contact_a = _team_with_a_contact(conn, "held-a", search_text="")
        team_b, _ = _team_with_a_contact(conn, "held-b", search_text="")
        tag_b = _tag(conn, team_b)
    with pytest.raises(IntegrityError), db.engine.begin() as conn:
        conn.execute(insert(tables.contact_tags).values(tag_id=tag_b, contact_id=contact_a, team_id=team_b))
    with db.engine.begin() as conn:
        conn.execute(delete(tables.teams).where(tables.teams.c.id.in_([team_a, team_b])))


def test_migration_0009_keeps_every_row_of_a_contact(tmp_path: Path) -> None:
    children = ("memberships", "contact_tags", "contact_values", "contact_events", "topic_choices")
    with fresh_database(tmp_path) as url:
        database = Database(url)
        command.upgrade(alembic_config(database), "0008")
        with database.engine.begin() as conn:
            team_id, contact_id = _team_with_a_contact(conn, "kept")
            audience_id, topic_id = new_id("audience"), new_id("topic")
            conn.execute(
                insert(tables.audiences).values(
                    id=audience_id, team_id=team_id, name="News", created_at=NOW, updated_at=NOW
                )
            )
            field_id = _text_field(conn, team_id)
            conn.execute(
                insert(tables.topics).values(
                    id=topic_id,
                    team_id=team_id,
                    audience_id=audience_id,
                    name="Weekly",
                    default_subscribed="opt_in",
                    created_at=NOW,
                    updated_at=NOW,
                )
            )
            owned = {"team_id": team_id, "contact_id": contact_id}
            conn.execute(
                insert(tables.memberships).values(
                    audience_id=audience_id, subscribed=True, created_at=NOW, updated_at=NOW, **owned
                )
            )
            conn.execute(insert(tables.contact_tags).values(tag_id=_tag(conn, team_id), **owned))
            conn.execute(insert(tables.contact_values).values(field_id=field_id, text="pro", **owned))
            conn.execute(
                insert(tables.contact_events).values(
                    id=new_id("event"), kind="custom", name="login", occurred_at=NOW, created_at=NOW, **owned
                )
            )
            conn.execute(
                insert(tables.topic_choices).values(
                    topic_id=topic_id, subscribed=False, updated_at=NOW, **owned
                )
            )
        upgrade(database)
        with database.engine.connect() as conn:
            kept = {
                name: conn.execute(select(tables.metadata.tables[name])).mappings().all() for name in children
            }
        assert {
            name: [(row["team_id"], row["contact_id"]) for row in rows] for name, rows in kept.items()
        } == {name: [(team_id, contact_id)] for name in children}
        assert kept["contact_values"][0]["text"] == "pro"
        with database.engine.begin() as conn:  # deleting the contact still takes its rows with it
            conn.execute(delete(tables.contacts).where(tables.contacts.c.id == contact_id))
            left = [
                conn.execute(select(func.count()).select_from(tables.metadata.tables[name])).scalar()
                for name in children
            ]
        assert left == [0] * len(children)
        database.dispose()


def test_migration_0016_folds_the_contacts_there_were_so_that_search_finds_them(tmp_path: Path) -> None:
    with fresh_database(tmp_path) as url:
        database = Database(url)
        command.upgrade(alembic_config(database), "0015")
        with database.engine.begin() as conn:
            team_id, contact_id = _team_with_a_contact(conn, "searched")
            conn.execute(
                update(tables.contacts)
                .where(tables.contacts.c.id == contact_id)
                .values(first_name="Öberg", last_name="Straße", company="Älg AB")
            )
            field_id = _text_field(conn, team_id)
            conn.execute(  # as revision 0015 has them: without ``folded``
                insert(tables.contact_values).values(
                    field_id=field_id, contact_id=contact_id, team_id=team_id, text="PRÖ"
                )
            )
        upgrade(database)
        with database.engine.connect() as conn:
            stored = conn.execute(select(tables.contacts.c.search_text)).scalar_one()
            folded = conn.execute(select(tables.contact_values.c.folded)).scalar_one()
        assert stored == "öberg\tstrasse\tsearched@example.com\tälg ab"
        assert folded == "prö"
        with mock.patch.multiple(search, WINDOW=0):  # the trigram index asked, not the walk
            found = [
                database.run_read(search.contact_ids, team_id, term, 0, 10) for term in ("ÖBERG", "STRASSE")
            ]
        assert found == [[contact_id], [contact_id]]
        with pytest.raises(NotImplementedError):
            command.downgrade(alembic_config(database), "0015")
        database.dispose()


def test_migration_0015_gives_existing_domains_a_dkim_key_and_goes_back(tmp_path: Path) -> None:
    with fresh_database(tmp_path) as url:
        database = Database(url)
        command.upgrade(alembic_config(database), "0014")
        with database.engine.begin() as conn:
            team_id, _ = _team_with_a_contact(conn, "older")
            conn.execute(
                insert(tables.domains).values(
                    id=new_id("domain"),
                    team_id=team_id,
                    name="older.example",
                    status="verified",
                    verification_token="t" * 32,
                    created_at=NOW,
                )
            )
        command.upgrade(alembic_config(database), "0015")
        with database.engine.connect() as conn:
            domain = conn.execute(select(tables.domains)).one()
        assert domain.dkim_selector.startswith("roster")
        assert domain.dkim_private_key.startswith("-----BEGIN RSA PRIVATE KEY-----")
        assert len(domain.dkim_public_key) > 300
        command.downgrade(alembic_config(database), "0014")
        database.dispose()


def test_migration_0017_counts_the_campaigns_there_were_and_goes_back(tmp_path: Path) -> None:
    with fresh_database(tmp_path) as url:
        database = Database(url)
        command.upgrade(alembic_config(database), "0016")
        with database.engine.begin() as conn:
            team_id, _ = _team_with_a_contact(conn, "counted", search_text="counted@example.com")
            sender_id, campaign_id = new_id("sender"), new_id("campaign")
            conn.execute(
                insert(tables.senders).values(
                    id=sender_id, team_id=team_id, name="News", email="news@example.com",
                    email_normalized="news@example.com", domain="example.com", created_at=NOW, updated_at=NOW,
                )
            )  # fmt: skip
            conn.execute(
                insert(tables.campaigns).values(
                    id=campaign_id, team_id=team_id, name="Sent", subject="Hi", sender_id=sender_id,
                    html_code="<p>Hi</p>", status="sent", created_at=NOW, updated_at=NOW,
                )
            )  # fmt: skip
            states = [
                ("sent", False),
                ("sent", False),
                ("failed", True),
                ("failed", False),
                ("skipped", False),
            ]
            conn.execute(
                insert(tables.campaign_recipients),
                [
                    {"campaign_id": campaign_id, "contact_id": f"contact_{index:022d}", "team_id": team_id,
                     "state": state, "attempts": 1, "next_attempt_at": NOW, "bounced": bounced}
                    for index, (state, bounced) in enumerate(states)
                ],
            )  # fmt: skip
        upgrade(database)
        figures = database.run_read(tallies.totals, campaign_id)
        assert {name: figures[name] for name in ("recipients", "sent", "failed", "bounced", "skipped")} == {
            "recipients": 5,
            "sent": 2,
            "failed": 2,
            "bounced": 1,
            "skipped": 1,
        }
        assert figures["opened"] == figures["clicked"] == 0
        command.downgrade(alembic_config(database), "0016")
        with database.engine.connect() as conn:
            assert (
                conn.execute(select(func.count()).select_from(tables.campaign_recipients)).scalar_one() == 5
            )
        database.dispose()
