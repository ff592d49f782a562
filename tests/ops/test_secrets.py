"""Secrets at rest: a copy of the database holds no usable secret, secrets written before
sealing are sealed at start, ``roster secrets rotate`` seals all again under a new key, and a
process with the wrong key refuses to start instead of sealing with it."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient
from sqlalchemy import select, update

from roster import sealing
from roster.api.app import create_app
from roster.config import Settings
from roster.core import teams
from roster.storage.db import Database
from roster.storage.migrate import upgrade
from roster.storage.tables import domains, instance_settings, webhooks
from tests.conftest import BACKEND, Tenant, fresh_database, raw_bytes
from tests.test_cli import run_roster


def dump(db: Database, url: str) -> bytes:
    """Everything the database holds, as an attacker with a copy would read it."""
    if BACKEND == "sqlite":
        db.checkpoint()
        path = Path(url.removeprefix("sqlite:///"))
        return raw_bytes(path, path.with_name(path.name + "-wal"))
    return subprocess.run(["pg_dump", "--data-only", url], capture_output=True, check=True).stdout


def test_a_copy_of_the_database_holds_no_usable_secret(
    tenant: Tenant, db: Database, database_url: str
) -> None:
    created = tenant.sendx("POST", "/webhook", json={"url": "http://127.0.0.1:9/x", "contactCreated": True})
    assert created.status_code in (200, 201), created.text
    webhook_secret = created.json()["secret"]
    assert webhook_secret.startswith("whsec_")
    tenant.post("/api/v1/domains", json={"name": "sealed.example"})  # a new DKIM key pair
    signing = db.run_write(teams.instance_secret)

    copy = dump(db, database_url)
    assert webhook_secret.encode() not in copy
    assert webhook_secret.removeprefix("whsec_").encode() not in copy
    assert b"PRIVATE KEY" not in copy
    assert signing.encode() not in copy
    assert b"sealed:" in copy


@contextmanager
def other_instance(settings: Settings, tmp_path: Path) -> Iterator[tuple[Settings, Database]]:
    """A database and key file of its own, so that rotating its key leaves the session's alone."""
    before = sealing.current()
    with fresh_database(tmp_path) as url:
        own = replace(settings, database_url=url, key_file=str(tmp_path / "own.key"))
        db = Database(url)
        upgrade(db)
        try:
            yield own, db
        finally:
            db.dispose()
            sealing.use(before)


def stored(db: Database, table: Any, column: str) -> list[str]:
    return [row[0] for row in db.run_read(lambda conn: conn.execute(select(table.c[column])).all())]


def test_rotation_seals_everything_again_and_a_wrong_key_refuses(settings: Settings, tmp_path: Path) -> None:
    with other_instance(settings, tmp_path) as (own, db):
        with TestClient(create_app(own, db), base_url="http://roster.test") as client:

            def setup(conn: Any) -> str:
                team = teams.create_team(conn, "Sealed")
                return teams.create_key(conn, team.id, teams.FULL_ACCESS, "k")[1]

            token = db.run_write(setup)
            made = client.post(
                "/api/v1/rest/webhook",
                json={"url": "http://127.0.0.1:9/r", "contactCreated": True},
                headers={"X-Team-ApiKey": token},
            )
            secret = made.json()["secret"]
            client.post(
                "/api/v1/domains",
                json={"name": "rotate.example"},
                headers={"Authorization": f"Bearer {token}"},
            )
        old_keys = sealing.read_keys(Path(own.key_file or ""))
        before = stored(db, webhooks, "secret") + stored(db, domains, "dkim_private_key")

        env = {"ROSTER_DATABASE_URL": own.database_url, "ROSTER_KEY_FILE": str(own.key_file)}
        rotated = run_roster(env, "secrets", "rotate", "--json")
        assert rotated.returncode == 0, rotated.stderr
        assert json.loads(rotated.stdout)["sealed"] >= 5  # check, 2 instance secrets, webhook, DKIM key
        new_keys = sealing.read_keys(Path(own.key_file or ""))
        assert len(new_keys) == 1
        assert new_keys != old_keys

        after = stored(db, webhooks, "secret") + stored(db, domains, "dkim_private_key")
        assert all(value.startswith(sealing.PREFIX) for value in after)
        assert set(after).isdisjoint(before)
        assert sealing.Keyring(new_keys).unseal(stored(db, webhooks, "secret")[0]) == secret
        with pytest.raises(sealing.WrongKey):
            sealing.Keyring(old_keys).unseal(stored(db, webhooks, "secret")[0])

        # A process holding the old key stops at once, one line, before sealing anything.
        (tmp_path / "old.key").write_text(old_keys[0].decode() + "\n")
        refused = run_roster({**env, "ROSTER_KEY_FILE": str(tmp_path / "old.key")}, "team", "list")
        assert refused.returncode == 2
        assert refused.stderr.strip().count("\n") == 0
        assert "sealed with another key" in refused.stderr
        assert (tmp_path / "own.key").stat().st_mode & 0o077 == 0  # readable by its owner only


def test_secrets_from_before_sealing_are_sealed_at_start(settings: Settings, tmp_path: Path) -> None:
    with other_instance(settings, tmp_path) as (own, db):
        with TestClient(create_app(own, db), base_url="http://roster.test"):
            pass
        db.run_write(
            lambda conn: conn.execute(
                update(instance_settings)
                .where(instance_settings.c.key == "secret_key")
                .values(value="plain-old")
            )
        )
        with TestClient(create_app(own, db), base_url="http://roster.test"):
            pass
        kept = db.run_read(
            lambda conn: conn.execute(
                select(instance_settings.c.value).where(instance_settings.c.key == "secret_key")
            ).scalar_one()
        )
        assert kept.startswith(sealing.PREFIX)
        assert db.run_write(teams.instance_secret) == "plain-old"  # the same secret, now sealed
