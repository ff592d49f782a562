"""``roster``: serve, deliver webhooks, migrate, and manage teams, members, keys and domains.

Every command takes ``--json`` and then prints exactly one JSON object on stdout.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Annotated, Any, Concatenate, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import Connection

from roster.config import load_settings
from roster.core import domains, members, teams
from roster.core.errors import RosterError
from roster.storage import migrate as migrations
from roster.storage.db import Database, Record

P = ParamSpec("P")
T = TypeVar("T")

app = typer.Typer(
    help="Roster: contacts, audiences and consent behind three email APIs.", no_args_is_help=True
)
team_app = typer.Typer(help="Teams (tenants).", no_args_is_help=True)
key_app = typer.Typer(help="API keys.", no_args_is_help=True)
domain_app = typer.Typer(help="Sending domains.", no_args_is_help=True)
member_app = typer.Typer(help="Team members.", no_args_is_help=True)
app.add_typer(team_app, name="team")
app.add_typer(member_app, name="member")
app.add_typer(key_app, name="key")
app.add_typer(domain_app, name="domain")

console = Console(soft_wrap=True)
errors = Console(stderr=True)

Json = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]
TeamId = Annotated[str, typer.Option("--team", help="Team ID (team_…).")]


def _database() -> Database:
    return Database(load_settings().database_url)


def _write(fn: Callable[Concatenate[Connection, P], T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run one core call in a transaction of a migrated database; errors end the command."""
    db = _database()
    try:
        migrations.upgrade(db)
        return db.run_write(fn, *args, **kwargs)
    except RosterError as exc:
        errors.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(1) from None
    finally:
        db.dispose()


def _emit(as_json: bool, payload: dict[str, Any], human: str) -> None:
    if as_json:
        print(json.dumps(payload, default=str))
    else:
        console.print(human)


def _domain_payload(row: Record) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "status": row.status,
        "record": domains.verification_record(row),
    }


# The server's own log lines go to stderr: stdout carries the command's output (--json).
SERVER_LOGS_TO_STDERR = {
    "handlers": {
        name: {
            "formatter": name if name == "access" else "generic",
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stderr",
        }
        for name in ("console", "access")
    }
}


def _bootstrap(conn: Connection) -> dict[str, Any] | None:
    """On a database with no team: a default team with a full-access key, shown once."""
    if teams.any_team(conn):
        return None
    team = teams.create_team(conn, "Default team")
    key, token = teams.create_key(conn, team.id, teams.FULL_ACCESS, "Default key")
    return {"team_id": team.id, "key_id": key.id, "token": token}


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind (ROSTER_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (ROSTER_PORT).")] = None,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
    as_json: Json = False,
) -> None:
    """Migrate the database, then serve every API and the preference pages."""
    from granian import Granian
    from granian.constants import Interfaces

    if host is not None:
        os.environ["ROSTER_HOST"] = host
    if port is not None:
        os.environ["ROSTER_PORT"] = str(port)
    settings = load_settings()
    created = _write(_bootstrap)
    url = settings.base_url
    payload = {"url": url, "database": settings.database_url, "created": created}
    if as_json:
        print(json.dumps(payload), flush=True)
    else:
        console.print(
            f"Roster serving on [bold]http://{settings.host}:{settings.port}[/bold]  (docs: {url}/docs)"
        )
        if created:
            console.print(
                f"Created team [bold]{created['team_id']}[/bold] and a full-access API key "
                "(shown only now, keep it safe):"
            )
            console.print(f"  [bold green]{created['token']}[/bold green]")
    Granian(
        "roster.api.app:create_app",
        address=settings.host,
        port=settings.port,
        interface=Interfaces.ASGI,
        workers=workers,
        factory=True,
        log_access=False,
        log_dictconfig=SERVER_LOGS_TO_STDERR,
    ).serve()


@app.command()
def worker(as_json: Json = False) -> None:
    """Deliver webhooks until stopped. Run one or more beside the servers on PostgreSQL;
    on SQLite the server delivers them itself (ROSTER_WORKER)."""
    import anyio

    from roster.delivery import Worker

    settings = load_settings()
    db = _database()
    migrations.upgrade(db)
    if as_json:
        print(json.dumps({"status": "delivering", "database": db.url}), flush=True)
    else:
        console.print(f"Delivering webhooks from {db.url}")
    try:
        anyio.run(Worker(db, settings).run)
    except KeyboardInterrupt:
        pass
    finally:
        db.dispose()


@app.command()
def migrate(as_json: Json = False) -> None:
    """Upgrade the schema to the latest version."""
    db = _database()
    try:
        migrations.upgrade(db)
    finally:
        db.dispose()
    _emit(as_json, {"status": "ok", "database": db.url}, "Database is up to date.")


@team_app.command("create")
def team_create(name: str, as_json: Json = False) -> None:
    """Create a team."""
    team = _write(teams.create_team, name)
    _emit(as_json, {"id": team.id, "name": team.name}, f"Created team {team.id} ({team.name})")


@member_app.command("add")
def member_add(
    team: TeamId,
    email: str,
    name: Annotated[str, typer.Option("--name", help="The member's full name.")],
    as_json: Json = False,
) -> None:
    """Add a member to a team (they are read through the SendX API's /team/member)."""
    row = _write(members.add_member, team, email, name)
    payload = {"id": row.id, "team_id": row.team_id, "email": row.email, "full_name": row.full_name}
    _emit(as_json, payload, f"Added member {row.id} ({row.full_name} <{row.email}>)")


@key_app.command("create")
def key_create(
    team: TeamId,
    permission: Annotated[str, typer.Option(help="full_access or sending_access")] = teams.FULL_ACCESS,
    name: Annotated[str | None, typer.Option(help="A name to recognise the key by.")] = None,
    as_json: Json = False,
) -> None:
    """Create an API key. Its token is printed now and never again."""
    key, token = _write(teams.create_key, team, permission, name)
    payload = {"id": key.id, "name": key.name, "permission": key.permission, "token": token}
    _emit(
        as_json,
        payload,
        f"Created key {key.id} ({key.permission}). Token, shown only now:\n  {token}",
    )


@key_app.command("list")
def key_list(team: TeamId, as_json: Json = False) -> None:
    """List a team's API keys (never their tokens)."""
    rows = _write(teams.list_keys, team)
    keys = [
        {
            "id": row.id,
            "name": row.name,
            "permission": row.permission,
            "token_hint": row.token_hint,
            "created_at": row.created_at.isoformat(),
            "revoked": row.revoked_at is not None,
        }
        for row in rows
    ]
    if as_json:
        print(json.dumps({"keys": keys}))
        return
    table = Table("id", "name", "permission", "ends with", "revoked")
    for key in keys:
        table.add_row(
            key["id"],
            key["name"],
            key["permission"],
            key["token_hint"],
            "yes" if key["revoked"] else "",
        )
    console.print(table)


@key_app.command("revoke")
def key_revoke(key_id: str, as_json: Json = False) -> None:
    """Revoke an API key; requests with it are refused from now on."""
    key = _write(teams.revoke_key, key_id)
    _emit(as_json, {"id": key.id, "revoked": True}, f"Revoked key {key.id}")


@domain_app.command("add")
def domain_add(
    name: str,
    team: TeamId,
    verified: Annotated[bool, typer.Option("--verified", help="Trust it without a DNS check.")] = False,
    as_json: Json = False,
) -> None:
    """Add a sending domain (pending until its TXT record is found, unless --verified)."""
    row = _write(domains.add_domain, team, name, verified=verified)
    record = domains.verification_record(row)
    human = f"Added {row.name} ({row.id}), {row.status}."
    if row.status != domains.VERIFIED:
        human += (
            f"\nPublish this TXT record, then run `roster domain verify {row.id}`:"
            f'\n  {record["name"]}  TXT  "{record["value"]}"'
        )
    _emit(as_json, _domain_payload(row), human)


@domain_app.command("verify")
def domain_verify(domain_id: str, as_json: Json = False) -> None:
    """Look up the domain's TXT record now and mark it verified if it is there."""
    row = _write(domains.get_domain, None, domain_id)
    txt = domains.lookup_txt(domains.verification_record(row)["name"], load_settings().dns_nameserver)
    row = _write(domains.record_verification, None, domain_id, txt)
    _emit(as_json, _domain_payload(row), f"{row.name}: {row.status}")
    if row.status != domains.VERIFIED:
        raise typer.Exit(1)


def main() -> None:
    app()
