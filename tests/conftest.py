"""Test fixtures: one fresh, migrated database per run, chosen by ``ROSTER_TEST_DATABASE``.

``sqlite`` (default): a new file in a temporary directory. ``postgresql``: a new database
on ``ROSTER_TEST_PG_URL`` (default ``postgresql://postgres@127.0.0.1:5432/postgres``),
dropped at the end. Tests isolate themselves by making their own teams, as tenants do.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from litestar import Litestar
from litestar.testing import TestClient
from sqlalchemy.engine import make_url

from roster import sealing
from roster.api.app import create_app
from roster.config import Settings
from roster.core import domains, teams
from roster.storage.db import Database
from roster.storage.migrate import upgrade

BACKEND = os.environ.get("ROSTER_TEST_DATABASE", "sqlite")
PG_URL = os.environ.get("ROSTER_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
PUBLIC_URL = "http://roster.test"


def pytest_report_header() -> str:
    return f"roster test database: {BACKEND}"


@contextmanager
def fresh_database(directory: Path) -> Iterator[str]:
    """The URL of a new, empty database of the kind under test, dropped afterwards."""
    if BACKEND == "sqlite":
        yield f"sqlite:///{directory / 'roster.db'}"
        return
    if BACKEND != "postgresql":
        raise pytest.UsageError(f"ROSTER_TEST_DATABASE must be sqlite or postgresql, not {BACKEND}")
    name = f"roster_test_{uuid.uuid4().hex[:12]}"
    admin = PG_URL.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with fresh_database(tmp_path_factory.mktemp("db")) as url:
        yield url


COUNTS_DRIFT = """
SELECT a.id, coalesce(kept.members, 0), coalesce(real.members, 0), coalesce(kept.subscribed, 0),
       coalesce(real.subscribed, 0)
FROM audiences a
LEFT JOIN (SELECT audience_id, sum(members) AS members, sum(subscribed) AS subscribed
           FROM audience_counts GROUP BY audience_id) kept ON kept.audience_id = a.id
LEFT JOIN (SELECT audience_id, count(*) AS members, sum(CASE WHEN subscribed THEN 1 ELSE 0 END) AS subscribed
           FROM memberships GROUP BY audience_id) real ON real.audience_id = a.id
WHERE coalesce(kept.members, 0) != coalesce(real.members, 0)
   OR coalesce(kept.subscribed, 0) != coalesce(real.subscribed, 0)
"""


TEAM_COUNTS_DRIFT = """
SELECT t.id, coalesce(kept.contacts, 0), coalesce(real.contacts, 0)
FROM teams t
LEFT JOIN (SELECT team_id, sum(contacts) AS contacts FROM team_counts GROUP BY team_id) kept
       ON kept.team_id = t.id
LEFT JOIN (SELECT team_id, count(*) AS contacts FROM contacts GROUP BY team_id) real ON real.team_id = t.id
WHERE coalesce(kept.contacts, 0) != coalesce(real.contacts, 0)
"""


def counts_drift(db: Database) -> list[tuple[Any, ...]]:
    """Audiences and teams whose kept counters differ from a fresh count of what they count."""

    def drift(conn: Any) -> list[tuple[Any, ...]]:
        rows = conn.exec_driver_sql(COUNTS_DRIFT).all() + conn.exec_driver_sql(TEAM_COUNTS_DRIFT).all()
        return [tuple(row) for row in rows]

    return db.run_read(drift)


@pytest.fixture(scope="session")
def db(database_url: str, key_file: Path) -> Iterator[Database]:
    database = Database(database_url)
    upgrade(database)
    # Tests that call the core directly seal secrets as the servers do.
    sealing.use(sealing.keyring_for(Settings(database_url, "127.0.0.1", 8000, key_file=str(key_file))))
    yield database
    # Every path that changed a membership during the run kept the counters exact.
    assert counts_drift(database) == []
    database.dispose()


@pytest.fixture(scope="session", autouse=True)
def key_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The key that seals the run's secrets, for this process and every server and worker it
    starts (roster.sealing): never a file in the repository or the home folder."""
    path = tmp_path_factory.mktemp("keys") / "roster.key"
    os.environ["ROSTER_KEY_FILE"] = str(path)
    return path


@pytest.fixture(scope="session", autouse=True)
def mail_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where campaign mail goes with no SMTP relay, for this process and the servers and
    workers it starts: never the repository."""
    folder = tmp_path_factory.mktemp("mail")
    os.environ["ROSTER_MAIL_DIR"] = str(folder)
    return folder


@pytest.fixture(scope="session")
def settings(database_url: str, mail_folder: Path, key_file: Path) -> Settings:
    return Settings(
        database_url=database_url,
        host="127.0.0.1",
        port=8000,
        public_url=PUBLIC_URL,
        secret_key=None,
        dns_nameserver=None,
        webhook_allow_private=True,
        worker="off",  # webhook and sending tests run the workers themselves, on their own clock
        auth_failure_limit="off",  # the suite tries many wrong keys from one client on purpose
        key_file=str(key_file),
        mail_dir=str(mail_folder),
    )


@pytest.fixture(scope="session")
def app(settings: Settings, db: Database) -> Litestar:
    return create_app(settings, db)


@pytest.fixture(scope="session")
def client(app: Litestar) -> Iterator[TestClient[Litestar]]:
    with TestClient(app, base_url="http://roster.test") as test_client:
        yield test_client


@dataclass
class Tenant:
    """A team with a full-access key and the verified domain ``example.com``."""

    id: str
    token: str
    domain_id: str
    client: TestClient[Litestar]

    def request(self, method: str, path: str, *, token: str | None = None, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token or self.token}", **kwargs.pop("headers", {})}
        return self.client.request(method, path, headers=headers, **kwargs)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", path, **kwargs)

    def sendx(self, method: str, path: str, *, token: str | None = None, **kwargs: Any) -> httpx.Response:
        """A raw call to the SendX dialect (``/api/v1/rest`` + ``path``) with this team's key."""
        headers = {"X-Team-ApiKey": token or self.token, **kwargs.pop("headers", {})}
        return self.client.request(method, f"/api/v1/rest{path}", headers=headers, **kwargs)

    def v1(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """A call to the Audiences v1 dialect (``/v1`` + ``path``) with this team's key."""
        return self.request(method, f"/v1{path}", **kwargs)

    def key(self, permission: str) -> str:
        response = self.post("/api/v1/api-keys", json={"permission": permission})
        assert response.status_code == 201, response.text
        return str(response.json()["token"])

    def audience(self, name: str = "Newsletter", domain: str = "example.com") -> dict[str, Any]:
        response = self.post("/api/v1/audiences", json={"name": name, "domain": domain})
        assert response.status_code == 201, response.text
        return dict(response.json())

    def contact(self, audience_id: str, email: str, **fields: Any) -> dict[str, Any]:
        response = self.post(f"/api/v1/audiences/{audience_id}/contacts", json={"email": email, **fields})
        assert response.status_code in (200, 201), response.text
        return dict(response.json())


def make_tenant(db: Database, client: TestClient[Litestar]) -> Tenant:
    def setup(conn: Any) -> Tenant:
        team = teams.create_team(conn, "Test team")
        _, token = teams.create_key(conn, team.id, teams.FULL_ACCESS, "test")
        domain = domains.add_domain(conn, team.id, "example.com", verified=True)
        return Tenant(id=team.id, token=token, domain_id=domain.id, client=client)

    return db.run_write(setup)


@pytest.fixture
def tenant(db: Database, client: TestClient[Litestar]) -> Tenant:
    return make_tenant(db, client)


@pytest.fixture
def other(db: Database, client: TestClient[Litestar]) -> Tenant:
    """A second, unrelated team."""
    return make_tenant(db, client)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serving(database_url: str, log: Path, *args: str, **env: str) -> Iterator[str]:
    """``roster serve`` in a real process (granian) on the test database; yields its base URL."""
    port = free_port()
    environment = {
        **os.environ,
        "ROSTER_DATABASE_URL": database_url,
        "ROSTER_PORT": str(port),
        "ROSTER_AUTH_FAILURE_LIMIT": "off",  # as in the app of the suite (settings)
        **env,
    }
    environment.pop("ROSTER_PUBLIC_URL", None)
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "roster", "serve", "--host", "127.0.0.1", "--port", str(port), *args],
            env=environment,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"roster serve did not start:\n{log.read_text()}")
            time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=15)


@pytest.fixture(scope="session")
def live_server(database_url: str, db: Database, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server shared by the session. It delivers no webhooks: the webhook tests run their own
    worker, so that nothing else takes their deliveries."""
    log = tmp_path_factory.mktemp("server") / "serve.log"
    with serving(database_url, log, ROSTER_WORKER="off", ROSTER_WEBHOOK_ALLOW_PRIVATE="1") as base:
        yield base


def raw_bytes(*paths: Path) -> bytes:
    """The bytes of files of the live SQLite database, read by another process. Opening and
    closing one of them here would drop every POSIX lock this process holds on it, SQLite's
    included: another process would then take itself for the database's last user, remove
    its write-ahead log, and the writes of this process's connections would vanish from it."""
    existing = [str(path) for path in paths if path.exists()]
    return subprocess.run(["cat", *existing], capture_output=True, check=True).stdout if existing else b""
