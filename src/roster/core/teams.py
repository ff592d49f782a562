"""Teams and their API keys. A key is stored only as a SHA-256 hash; its token is shown once."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import Connection, bindparam, insert, select, update

from roster import sealing
from roster.core.clock import now
from roster.core.errors import Forbidden, Invalid, NotFound, Unauthorized
from roster.ids import new_id, random_token
from roster.storage.db import Database, Record
from roster.storage.prepared import Prepared
from roster.storage.tables import api_keys, instance_settings, teams
from roster.storage.upsert import upsert_statement

FULL_ACCESS = "full_access"
SENDING_ACCESS = "sending_access"
PERMISSIONS = (FULL_ACCESS, SENDING_ACCESS)
TOKEN_PREFIX = "sk_"  # noqa: S105 - the public prefix of every token


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the team a key belongs to, and what the key may do."""

    team_id: str
    key_id: str
    permission: str

    def require_full_access(self) -> None:
        if self.permission != FULL_ACCESS:
            raise Forbidden("this API key has sending access only; this call needs full access")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_team(conn: Connection, name: str) -> Record:
    name = name.strip()
    if not name:
        raise Invalid("name", "is required")
    team_id = new_id("team")
    conn.execute(insert(teams).values(id=team_id, name=name, created_at=now()))
    return conn.execute(select(teams).where(teams.c.id == team_id)).one()


def any_team(conn: Connection) -> bool:
    return conn.execute(select(teams.c.id).limit(1)).first() is not None


def get_team(conn: Connection, team_id: str) -> Record:
    row = conn.execute(select(teams).where(teams.c.id == team_id)).first()
    if row is None:
        raise NotFound("team", team_id)
    return row


_KEY_COLUMNS = (
    api_keys.c.id,
    api_keys.c.name,
    api_keys.c.permission,
    api_keys.c.token_hint,
    api_keys.c.created_at,
    api_keys.c.revoked_at,
)


def create_key(conn: Connection, team_id: str, permission: str, name: str | None) -> tuple[Record, str]:
    """Create a key and return it with its token, which is not stored and cannot be shown again."""
    if permission not in PERMISSIONS:
        raise Invalid("permission", f"must be one of {', '.join(PERMISSIONS)}")
    name = (name or "").strip() or "API key"
    if len(name) > 255:
        raise Invalid("name", "must be at most 255 characters")
    get_team(conn, team_id)
    token = TOKEN_PREFIX + random_token(40)
    key_id = new_id("key")
    conn.execute(
        insert(api_keys).values(
            id=key_id,
            team_id=team_id,
            name=name,
            permission=permission,
            token_hash=hash_token(token),
            token_hint=token[-4:],
            created_at=now(),
        )
    )
    return get_key(conn, team_id, key_id), token


def get_key(conn: Connection, team_id: str, key_id: str) -> Record:
    row = conn.execute(
        select(*_KEY_COLUMNS).where(api_keys.c.team_id == team_id, api_keys.c.id == key_id)
    ).first()
    if row is None:
        raise NotFound("api_key", key_id)
    return row


def list_teams(conn: Connection) -> list[Record]:
    """Every team, oldest first."""
    return list(conn.execute(select(teams.c.id, teams.c.name, teams.c.created_at).order_by(teams.c.id)))


def list_keys(conn: Connection, team_id: str) -> list[Record]:
    get_team(conn, team_id)
    query = select(*_KEY_COLUMNS).where(api_keys.c.team_id == team_id).order_by(api_keys.c.id)
    return list(conn.execute(query))


def revoke_key(conn: Connection, key_id: str, team_id: str | None = None) -> Record:
    """Revoke a key (scoped to ``team_id`` when called through the API)."""
    query = select(api_keys.c.team_id).where(api_keys.c.id == key_id)
    if team_id is not None:
        query = query.where(api_keys.c.team_id == team_id)
    owner = conn.execute(query).scalar()
    if owner is None:
        raise NotFound("api_key", key_id)
    conn.execute(
        update(api_keys)
        .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
        .values(revoked_at=now())
    )
    return get_key(conn, owner, key_id)


_KEY_BY_HASH = Prepared(
    select(api_keys.c.id, api_keys.c.team_id, api_keys.c.permission).where(
        api_keys.c.token_hash == bindparam("token_hash"), api_keys.c.revoked_at.is_(None)
    )
)


async def authenticate(db: Database, token: str | None) -> Principal:
    """Who presents ``token``: checked against the database on every request, so a revoked
    key is refused on the next one. One statement, read as any other (on PostgreSQL in a
    worker thread: on a connection of the event loop's own, shared by every request, they
    waited for each other's key checks; docs/architecture.md)."""
    if not token:
        raise Unauthorized("missing API key", missing=True)
    row = await db.read(_KEY_BY_HASH.first, {"token_hash": hash_token(token)})
    if row is None:
        raise Unauthorized("invalid API key")
    return Principal(team_id=row.team_id, key_id=row.id, permission=row.permission)


def instance_secret(conn: Connection, name: str = "secret_key") -> str:
    """A secret kept in the database (sealed), generated on first use (by whichever process
    asks first): the signing secret, or the key of the suppression list's hashes."""
    query = select(instance_settings.c.value).where(instance_settings.c.key == name)
    value = conn.execute(query).scalar()
    if value is None:
        sealed = sealing.seal(secrets.token_urlsafe(48))
        made = upsert_statement(conn, instance_settings).values(key=name, value=sealed)
        conn.execute(made.on_conflict_do_nothing(index_elements=[instance_settings.c.key]))
        value = conn.execute(query).scalar_one()
    return sealing.unseal(str(value))
