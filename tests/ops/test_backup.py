"""``roster backup`` and the restore docs/operations.md describes, on the database under test:
the restored copy answers the API as the original did, search included."""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import psycopg
from litestar.testing import TestClient
from sqlalchemy.engine import make_url

from roster.api.app import create_app
from roster.config import Settings
from roster.storage.db import Database
from tests.conftest import BACKEND, PG_URL, Tenant
from tests.test_cli import run_roster


@contextmanager
def restored(backup: Path, tmp_path: Path) -> Iterator[str]:
    """The restore of docs/operations.md, "Backups": the URL of the restored database."""
    if BACKEND == "sqlite":
        target = tmp_path / "restored.db"
        shutil.copyfile(backup, target)
        yield f"sqlite:///{target}"
        return
    name = f"roster_restored_{uuid.uuid4().hex[:8]}"
    admin = PG_URL.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    try:
        subprocess.run(["pg_restore", "--no-owner", f"--dbname={url}", str(backup)], check=True)
        yield url
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_a_backup_restores_to_a_working_copy(
    tenant: Tenant, database_url: str, settings: Settings, tmp_path: Path
) -> None:
    audience = tenant.audience("Kept safe")
    for index in range(5):
        tenant.contact(audience["id"], f"keeper{index}@example.com", first_name=f"Keeper{index}")
    before = tenant.sendx("GET", "/contact", params={"search": "keeper", "limit": 50}).json()
    assert len(before) == 5

    backup = tmp_path / "roster.backup"
    made = run_roster({"ROSTER_DATABASE_URL": database_url}, "backup", str(backup), "--json")
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["bytes"] == backup.stat().st_size > 0
    again = run_roster({"ROSTER_DATABASE_URL": database_url}, "backup", str(backup))
    assert again.returncode == 1
    assert "exists" in again.stderr

    with restored(backup, tmp_path) as url:
        migrated = run_roster({"ROSTER_DATABASE_URL": url}, "migrate")
        assert "nothing to apply" in migrated.stdout, migrated.stdout + migrated.stderr
        db = Database(url)
        try:
            with TestClient(create_app(replace(settings, database_url=url), db)) as client:
                headers = {"X-Team-ApiKey": tenant.token}  # the key's hash came along
                after = client.get(
                    "/api/v1/rest/contact", params={"search": "keeper", "limit": 50}, headers=headers
                )
                assert after.status_code == 200
                assert _by_id(after.json()) == _by_id(before)
                members = client.get(
                    f"/v1/audiences/{audience['id']}", headers={"Authorization": f"Bearer {tenant.token}"}
                )
                assert members.json()["contactCount"] == 5
        finally:
            db.dispose()


def _by_id(contacts: list[dict[str, Any]]) -> dict[str, Any]:
    return {contact["id"]: contact for contact in contacts}
