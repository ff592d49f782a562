"""``roster``: serve, deliver webhooks and campaigns, migrate, and manage teams, members, keys,
domains and campaigns.

Every command that reports takes ``--json`` and then prints exactly one JSON object on stdout;
an error is one line on stderr (a JSON object ``{"error", "exit_code"}`` with ``--json``).
``export contacts`` and ``mail show`` print the data itself.
"""

from __future__ import annotations

import json
import logging.config
import multiprocessing
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated, Any, Concatenate, NoReturn, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.table import Column, Table
from sqlalchemy import Connection
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from roster import __version__, logs, metrics, sealing
from roster.config import Settings, SettingsError, load_settings
from roster.core import (
    audiences,
    campaigns,
    consent,
    domains,
    exports,
    imports,
    inbound,
    members,
    persons,
    suppression,
    teams,
)
from roster.core.errors import RosterError
from roster.storage import migrate as migrations
from roster.storage.db import MMAP_BYTES, Database, Record

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
audience_app = typer.Typer(help="Lists (audiences).", no_args_is_help=True)
app.add_typer(audience_app, name="audience")
app.add_typer(key_app, name="key")
app.add_typer(domain_app, name="domain")
import_app = typer.Typer(help="Bulk imports.", no_args_is_help=True)
export_app = typer.Typer(help="Bulk exports.", no_args_is_help=True)
app.add_typer(import_app, name="import")
app.add_typer(export_app, name="export")
campaign_app = typer.Typer(help="Campaigns: see and steer their sending.", no_args_is_help=True)
app.add_typer(campaign_app, name="campaign")
contact_app = typer.Typer(help="One person: consent history, data export, erasure.", no_args_is_help=True)
app.add_typer(contact_app, name="contact")
suppression_app = typer.Typer(
    help="The team's suppression list: addresses never mailed.", no_args_is_help=True
)
app.add_typer(suppression_app, name="suppression")
secrets_app = typer.Typer(help="The key sealing the secrets kept in the database.", no_args_is_help=True)
app.add_typer(secrets_app, name="secrets")
mail_app = typer.Typer(help="Bounce and complaint reports received.", no_args_is_help=True)
app.add_typer(mail_app, name="mail")

console = Console(soft_wrap=True)
errors = Console(stderr=True, soft_wrap=True)  # an error is one line, however long

Json = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]
TeamId = Annotated[str, typer.Option("--team", help="Team ID (team_…).")]


def _database(*, bulk: bool = False) -> Database:
    """The configured database, with the keys of its sealed secrets; ``bulk`` for commands
    that read it whole (no memory map)."""
    settings = load_settings()
    sealing.use(sealing.keyring_for(settings))
    return Database(settings.database_url, mmap_bytes=0 if bulk else MMAP_BYTES)


def _say_error(message: str, code: int) -> None:
    """One line on stderr: ``error: …``, or a JSON object when the command was given --json."""
    if "--json" in sys.argv[1:]:
        print(json.dumps({"error": message, "exit_code": code}), file=sys.stderr, flush=True)
    else:
        errors.print(f"error: {message}", markup=False, highlight=False)


def _fail(message: str, code: int = 1) -> NoReturn:
    """End the command: ``message`` as one line on stderr, exit status ``code``."""
    _say_error(message, code)
    raise typer.Exit(code)


def _write(fn: Callable[Concatenate[Connection, P], T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run one core call in a transaction of a migrated database; errors end the command."""
    db = _database()
    try:
        migrations.upgrade(db)

        def checked(conn: Connection) -> T:
            sealing.check(conn)  # never seal with a key the servers lack
            return fn(conn, *args, **kwargs)

        with consent.acting(consent.Source(consent.CLI)):
            return db.run_write(checked)
    except RosterError as exc:
        _fail(exc.message, 1)
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
        "dkim": domains.dkim_record(row),
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
    share_port: Annotated[
        bool,
        typer.Option(help="Share the port with servers already on it (SO_REUSEPORT) instead of refusing."),
    ] = False,
    as_json: Json = False,
) -> None:
    """Migrate the database, then serve every API and the preference pages."""
    from granian import Granian
    from granian.constants import Interfaces
    from granian.log import LogLevels

    if host is not None:
        os.environ["ROSTER_HOST"] = host
    if port is not None:
        os.environ["ROSTER_PORT"] = str(port)
    settings = load_settings()
    if not share_port and _port_in_use(settings.host, settings.port):
        _fail(
            f"port {settings.port} is in use on {settings.host}: stop what listens there, choose "
            "another (--port, ROSTER_PORT), or add --share-port to split requests with it",
            1,
        )
    created = _write(_bootstrap)
    url = settings.base_url
    transport = _transport(settings) if settings.inline_worker else None
    _mailbox(settings)
    payload = {"url": url, "database": settings.database_url, "created": created, "mail": transport}
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
        if transport:
            console.print(f"Sending campaigns to {transport}")
    # Every process writes its metrics into one folder a scrape adds up. The processes are
    # started fresh (spawn, not fork) so that each takes the folder before its first metric.
    folder = os.environ.setdefault(metrics.MULTIPROCESS_FOLDER, tempfile.mkdtemp(prefix="roster-metrics-"))
    multiprocessing.set_start_method("spawn", force=True)
    try:
        Granian(
            "roster.api.app:served_app",
            address=settings.host,
            port=settings.port,
            interface=Interfaces.ASGI,
            workers=workers,
            factory=True,
            log_access=False,
            log_level=LogLevels(settings.log_level),
            log_dictconfig=logs.config(settings.log_format, settings.log_level.upper()),
        ).serve()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _port_in_use(host: str, port: int) -> bool:
    """Whether something listens on the address. granian binds with SO_REUSEPORT, so a second
    server on a port in use would start and silently take half of its requests."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a closed socket in TIME_WAIT is free
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False


def _transport(settings: Settings) -> str:
    """Where campaign mail goes, password hidden; the command ends if the SMTP URL is wrong."""
    from roster.mail.transport import mailer_from

    try:
        return mailer_from(settings.smtp_url, settings.mail_folder).description
    except ValueError as exc:
        _fail(f"ROSTER_SMTP_URL: {exc}", 2)


def _mailbox(settings: Settings) -> None:
    """The command ends if ``ROSTER_BOUNCE_MAILBOX`` is wrong."""
    from roster.mailbox import Mailbox

    try:
        if settings.bounce_mailbox:
            Mailbox.parse(settings.bounce_mailbox)
    except ValueError as exc:
        _fail(str(exc), 2)


@app.command()
def worker(
    metrics_port: Annotated[
        int | None,
        typer.Option(help="Serve this worker's Prometheus metrics on ROSTER_HOST at this port."),
    ] = None,
    as_json: Json = False,
) -> None:
    """Deliver webhooks and send campaigns until stopped. Run one or more beside the servers
    on PostgreSQL; on SQLite the server does it itself (ROSTER_WORKER)."""
    import anyio
    from prometheus_client import start_http_server

    from roster.core.teams import instance_secret
    from roster.delivery import Worker
    from roster.dispatch import Dispatcher
    from roster.mailbox import poller

    settings = load_settings()
    logging.config.dictConfig(logs.config(settings.log_format, settings.log_level.upper()))
    _transport(settings)  # a wrong SMTP URL ends the command before the database is touched
    _mailbox(settings)
    if metrics_port is not None:
        if _port_in_use(settings.host, metrics_port):
            _fail(f"port {metrics_port} is in use on {settings.host}", 1)
        start_http_server(metrics_port, addr=settings.host)
    db = _database(bulk=True)  # resolving a campaign reads a team's contacts whole
    migrations.upgrade(db)
    db.run_write(sealing.seal_all)
    secret = settings.secret_key or db.run_write(instance_secret)
    dispatcher = Dispatcher.from_settings(db, settings, secret)
    transport = dispatcher.mailer.description
    if as_json:
        print(json.dumps({"status": "delivering", "database": db.url, "mail": transport}), flush=True)
    else:
        console.print(f"Delivering webhooks from {db.url}; sending campaigns to {transport}")

    mailbox = poller(db, settings.bounce_mailbox, settings.bounce_rules)

    async def work() -> None:
        async with anyio.create_task_group() as group:
            group.start_soon(Worker(db, settings).run)
            group.start_soon(dispatcher.run)
            for task in mailbox:
                group.start_soon(task)

    try:
        anyio.run(work)
    except KeyboardInterrupt:
        pass
    finally:
        db.dispose()


@app.command()
def migrate(as_json: Json = False) -> None:
    """Upgrade the schema to the latest version, saying what was applied."""
    db = _database()
    try:
        before = migrations.revision(db)
        migrations.upgrade(db)
        after = migrations.revision(db)
        applied = migrations.between(db, before, after)
    finally:
        db.dispose()
    if applied:
        start = f"revision {before}" if before else "an empty database"
        human = f"Migrated {db.url} from {start} to {after}: applied {', '.join(applied)}."
    else:
        human = f"{db.url} is at revision {after}, the latest: nothing to apply."
    _emit(
        as_json, {"status": "ok", "database": db.url, "from": before, "to": after, "applied": applied}, human
    )


@app.command()
def backup(
    path: Annotated[Path, typer.Argument(help="The file to write; it must not exist yet.")],
    as_json: Json = False,
) -> None:
    """Copy the whole database into one file, consistent while servers run: on SQLite a copy
    of the database (SQLite's online backup), on PostgreSQL a pg_dump archive (custom format).
    docs/operations.md says how to restore either."""
    settings = load_settings()
    if path.exists():
        _fail(f"{path} exists; choose a new file", 1)
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite":
        source = sqlite3.connect(f"file:{url.database}?mode=ro", uri=True)
        try:
            with sqlite3.connect(path) as target:
                source.backup(target)
            target.close()
        finally:
            source.close()
    else:
        pg_dump = shutil.which("pg_dump")
        if pg_dump is None:
            _fail("pg_dump is not installed (Debian: postgresql-client)", 1)
        # The password goes in the environment, not on a command line others can list.
        libpq = url.set(drivername="postgresql", password=None).render_as_string()
        env = {**os.environ, **({"PGPASSWORD": str(url.password)} if url.password else {})}
        done = subprocess.run(  # noqa: S603 - the operator's own database URL, no shell
            [pg_dump, "--format=custom", "--no-owner", f"--file={path}", libpq],
            capture_output=True,
            text=True,
            check=False,
            env=env,
        )
        if done.returncode != 0:
            path.unlink(missing_ok=True)
            reason = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed"
            _fail(f"pg_dump: {reason}", 1)
    size = path.stat().st_size
    _emit(as_json, {"path": str(path), "bytes": size}, f"Wrote {path} ({size:,} bytes).")


@secrets_app.command("rotate")
def secrets_rotate(as_json: Json = False) -> None:
    """Seal every secret in the database again under a new key. With a key file: a new key is
    made, and the file keeps it alone once all is sealed. With ROSTER_SECRET_KEY: under its
    current value, opening what the old one sealed with ROSTER_PREVIOUS_SECRET_KEY. Restart
    the servers and workers afterwards: they keep the key they started with."""
    settings = load_settings()
    db = _database()
    try:
        migrations.upgrade(db)
        if settings.secret_key:
            count = db.run_write(sealing.seal_all, sealing.keyring_for(settings), again=True)
            where = "ROSTER_SECRET_KEY"
        else:
            path = sealing.key_file(settings)
            old = sealing.read_keys(path)
            new = sealing.new_key()
            sealing.write_keys(path, [new, *old])  # should this stop midway, both keys still open
            count = db.run_write(sealing.seal_all, sealing.Keyring([new, *old]), again=True)
            sealing.write_keys(path, [new])
            where = str(path)
    finally:
        db.dispose()
    _emit(
        as_json,
        {"sealed": count, "key": where},
        f"Sealed {count} secrets again under the new key in {where}; restart the servers and workers.",
    )


@audience_app.command("create")
def audience_create(
    name: Annotated[str, typer.Argument(help="The list's name.")],
    team: TeamId,
    domain: Annotated[
        str | None, typer.Option(help="A verified domain of the team (a Sendex audience).")
    ] = None,
    double_opt_in: Annotated[bool, typer.Option(help="New members confirm by mail.")] = False,
    as_json: Json = False,
) -> None:
    """Create a list (an audience in every dialect)."""

    def create(conn: Connection) -> Record:
        teams.get_team(conn, team)
        if domain:
            return audiences.create_audience(conn, team, name, domain, double_opt_in)
        return audiences.create_list(conn, team, {"name": name, "list_type": int(double_opt_in)})

    row = _write(create)
    _emit(
        as_json,
        {"id": row.id, "name": row.name, "doubleOptIn": row.list_type == 1},
        f"Created {row.id} ({row.name})",
    )


@audience_app.command("list")
def audience_list(team: TeamId, as_json: Json = False) -> None:
    """The team's lists with their full IDs and member counts, oldest first."""

    def read(conn: Connection) -> list[Record]:
        teams.get_team(conn, team)
        return audiences.page_audiences(conn, team, 0, 1_000_000, None)

    for row in _write(read):
        entry = {"id": row.id, "name": row.name, "contacts": row.contact_count, "pending": row.pending_count}
        print(json.dumps(entry) if as_json else f"{row.id}\t{row.name}\t{row.contact_count}")


@team_app.command("list")
def team_list(as_json: Json = False) -> None:
    """Every team with its full ID (for --team), oldest first."""
    rows = _write(teams.list_teams)
    for row in rows:
        entry = {"id": row.id, "name": row.name, "created": row.created_at.isoformat()}
        print(json.dumps(entry) if as_json else f"{row.id}\t{row.name}")


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
    if not sys.stdout.isatty():  # a pipe gets whole IDs, one key a line, to paste into `key revoke`
        for key in keys:
            fields = (
                key["id"],
                key["name"],
                key["permission"],
                key["token_hint"],
                "revoked" if key["revoked"] else "",
            )
            print("\t".join(fields))
        return
    table = Table(Column("id", no_wrap=True), "name", "permission", "ends with", "revoked")
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
    row = _write(_team_then(domains.add_domain), team, name, verified=verified)
    record, dkim = domains.verification_record(row), domains.dkim_record(row)
    human = f"Added {row.name} ({row.id}), {row.status}."
    if row.status != domains.VERIFIED:
        human += (
            f"\nPublish this TXT record, then run `roster domain verify {row.id}`:"
            f'\n  {record["name"]}  TXT  "{record["value"]}"'
        )
    human += (
        "\nPublish this TXT record so that receivers can check the DKIM signature of its mail:"
        f'\n  {dkim["name"]}  TXT  "{dkim["value"]}"'
    )
    _emit(as_json, _domain_payload(row), human)


@domain_app.command("verify")
def domain_verify(domain_id: str, as_json: Json = False) -> None:
    """Look up the domain's TXT record now and mark it verified if it is there."""
    row = _write(domains.get_domain, None, domain_id)
    lookup = domains.lookup_txt(domains.verification_record(row)["name"], load_settings().dns_nameserver)
    row = _write(domains.record_verification, None, domain_id, lookup)
    problem = domains.verification_problem(row, lookup)
    payload = {**_domain_payload(row), "reason": problem}
    _emit(as_json, payload, f"{row.name}: {row.status}" + (f" ({problem})" if problem else ""))
    if row.status != domains.VERIFIED:
        raise typer.Exit(1)


def _campaign_payload(report: campaigns.Report) -> dict[str, Any]:
    row = report.campaign.row
    return {
        "id": row.id,
        "name": row.name,
        "status": row.status,
        "reason": row.status_reason,
        **report.figures,
        "links": [{"url": url, "clicks": clicks} for url, clicks in report.links],
    }


def _campaign_line(payload: dict[str, Any]) -> str:
    reason = f" ({payload['reason']})" if payload["reason"] else ""
    return (
        f"{payload['id']} {payload['name']!r}: {payload['status']}{reason}; {payload['sent']} of "
        f"{payload['recipients']} sent, {payload['failed']} failed ({payload['bounced']} bounced), "
        f"{payload['skipped']} skipped; opened by {payload['opened_unique']}, clicked by "
        f"{payload['clicked_unique']}, {payload['unsubscribed']} unsubscribed, {payload['spam']} complained"
    )


@campaign_app.command("list")
def campaign_list(team: TeamId, as_json: Json = False) -> None:
    """A team's campaigns, oldest first, with what their sending did so far."""

    def reports(conn: Connection) -> list[dict[str, Any]]:
        teams.get_team(conn, team)
        rows = campaigns.page_campaigns(conn, team, 0, 1000)
        return [_campaign_payload(campaigns.campaign_report(conn, team, view.row.id)) for view in rows]

    payloads = _write(reports)
    if as_json:
        print(json.dumps({"campaigns": payloads}))
        return
    table = Table(
        Column("id", no_wrap=True, min_width=31),  # whole, to paste into a command
        "name", "status", "recipients", "sent", "failed", "skipped", "reason",
    )  # fmt: skip
    for item in payloads:
        table.add_row(
            item["id"],
            item["name"],
            item["status"],
            *(str(item[name]) for name in ("recipients", "sent", "failed", "skipped")),
            item["reason"] or "",
        )
    console.print(table)


CampaignId = Annotated[str, typer.Argument(help="Campaign ID (campaign_…).")]


@campaign_app.command("status")
def campaign_status(campaign: CampaignId, team: TeamId, as_json: Json = False) -> None:
    """One campaign's state and counts."""
    payload = _campaign_payload(_write(campaigns.campaign_report, team, campaign))
    _emit(as_json, payload, _campaign_line(payload))


@campaign_app.command("pause")
def campaign_pause(campaign: CampaignId, team: TeamId, as_json: Json = False) -> None:
    """Pause sending; every worker stops within a second."""
    _steered(campaigns.pause_campaign, team, campaign, as_json)


@campaign_app.command("resume")
def campaign_resume(campaign: CampaignId, team: TeamId, as_json: Json = False) -> None:
    """Resume a paused campaign where it stopped."""
    _steered(campaigns.resume_campaign, team, campaign, as_json)


@campaign_app.command("cancel")
def campaign_cancel(campaign: CampaignId, team: TeamId, as_json: Json = False) -> None:
    """Cancel a scheduled, sending or paused campaign for good."""
    _steered(campaigns.cancel_campaign, team, campaign, as_json)


def _steered(
    change: Callable[[Connection, str, str], campaigns.Campaign], team: str, campaign: str, as_json: bool
) -> None:
    def changed(conn: Connection) -> campaigns.Report:
        change(conn, team, campaign)
        return campaigns.campaign_report(conn, team, campaign)

    payload = _campaign_payload(_write(changed))
    _emit(as_json, payload, _campaign_line(payload))


def _show_version(asked: bool) -> None:
    if asked:
        print(f"roster {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool, typer.Option("--version", callback=_show_version, is_eager=True, help="Print the version.")
    ] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks (also ROSTER_DEBUG=1).")] = False,
) -> None:
    """Roster: contacts, audiences and consent behind three email APIs."""
    if debug:
        os.environ["ROSTER_DEBUG"] = "1"


def main() -> None:
    """The ``roster`` command. A wrong setting (exit 2) or a database that cannot be used
    (exit 1) is one line on stderr; ``--debug`` shows the traceback instead."""
    try:
        app()
    except (SettingsError, DBAPIError) as exc:
        if os.environ.get("ROSTER_DEBUG", "") not in ("", "0"):
            raise
        if isinstance(exc, SettingsError):
            _say_error(str(exc), 2)
            sys.exit(2)
        url = make_url(load_settings().database_url).render_as_string(hide_password=True)
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        _say_error(f"cannot use the database {url}: {reason}", 1)
        sys.exit(1)


def _format_of(path: Path, given: str | None) -> str:
    if given is not None:
        return given
    return "ndjson" if path.suffix.lower() in (".ndjson", ".jsonl") else "csv"


def _column_map(pairs: list[str]) -> dict[str, str]:
    mapped = {}
    for pair in pairs:
        column, sep, target = pair.rpartition("=")
        if not sep or not column.strip() or not target.strip():
            _fail(f"--column takes COLUMN=FIELD, not `{pair}`", 2)
        mapped[column.strip()] = target.strip()
    return mapped


@import_app.command("contacts")
def import_contacts(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="A CSV or NDJSON file.")],
    team: TeamId,
    audience: Annotated[str | None, typer.Option(help="Add every contact to this list/audience.")] = None,
    tag: Annotated[list[str] | None, typer.Option(help="Tag every contact (repeatable).")] = None,
    on_conflict: Annotated[str, typer.Option(help="update or skip contacts that exist.")] = "update",
    create_fields: Annotated[bool, typer.Option(help="Make unknown columns text custom fields.")] = False,
    column: Annotated[
        list[str] | None, typer.Option(help="COLUMN=FIELD: what a column feeds (repeatable).")
    ] = None,
    file_format: Annotated[
        str | None, typer.Option("--format", help="csv or ndjson (default: by suffix).")
    ] = None,
    resume: Annotated[str | None, typer.Option(help="Finish an interrupted import (its ID).")] = None,
    double_opt_in: Annotated[
        str | None, typer.Option(help="Into a double opt-in list: send (confirmation mails) or confirmed.")
    ] = None,
    confirmed_reason: Annotated[
        str | None, typer.Option(help="With --double-opt-in confirmed: how these people confirmed.")
    ] = None,
    as_json: Json = False,
) -> None:
    """Import contacts from a file, in batches of 10,000 rows, each committed whole."""
    _write(teams.get_team, team)  # an unknown team is an error before the file is read
    options = imports.Options(
        on_conflict=on_conflict,
        audience_id=audience,
        tags=tuple(tag or ()),
        create_fields=create_fields,
        columns=_column_map(column or []),
        double_opt_in=double_opt_in,
        confirmed_reason=confirmed_reason,
    )
    fmt = _format_of(file, file_format)
    db = _database(bulk=True)
    try:
        migrations.upgrade(db)
        if resume is not None:
            job = db.run_read(imports.get_job, team, resume)
        else:
            job = db.run_write(imports.create_job, team, file.name, fmt, options, "running")
        with file.open("rb") as stream:
            if as_json or not console.is_terminal:
                job = imports.run_job(db, team, job.id, stream)
            else:
                job = _import_with_progress(db, team, job.id, stream, file.stat().st_size)
        shown = db.run_read(imports.job_errors, team, job.id, imports.MAX_ERRORS_SHOWN)
    except RosterError as exc:
        _fail(exc.message, 1)
    finally:
        db.dispose()
    payload = imports.describe(job, shown)
    _emit(
        as_json,
        payload,
        f"Import {job.id} {job.state}: {job.rows_read:,} rows — {job.created_count:,} created, "
        f"{job.updated_count:,} updated, {job.skipped_count:,} skipped, {job.failed_count:,} failed"
        + (f"\n{job.error}" if job.error else "")
        + "".join(f"\n  line {row.line}: {row.reason}" for row in shown)
        + (
            f"\nUnknown columns (not imported): {', '.join(job.unknown_columns)}"
            if job.unknown_columns
            else ""
        ),
    )
    if job.state != "done":
        raise typer.Exit(1)


def _import_with_progress(db: Database, team: str, job_id: str, stream: Any, size: int) -> Record:
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (
        TextColumn("[bold]Importing"),
        BarColumn(),
        TextColumn("{task.fields[rows]:>12,} rows  {task.fields[rate]:>9,.0f} rows/s"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("import", total=size or None, rows=0, rate=0.0)
        started = progress.get_time()

        def advance(tally: imports.Tally) -> None:
            elapsed = max(progress.get_time() - started, 1e-6)
            progress.update(
                task, completed=stream.tell(), rows=tally.rows_read, rate=tally.rows_read / elapsed
            )

        job = imports.run_job(db, team, job_id, stream, progress=advance)
        progress.update(task, completed=size)
    return job


@export_app.command("contacts")
def export_contacts(
    team: TeamId,
    audience: Annotated[str | None, typer.Option(help="Only this list/audience's contacts.")] = None,
    segment: Annotated[str | None, typer.Option(help="Only this segment's contacts.")] = None,
    file_format: Annotated[str, typer.Option("--format", help="csv or ndjson.")] = "csv",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write here, not to stdout.")] = None,
) -> None:
    """Write contacts with every field, their lists, tags and custom fields, oldest first."""
    _write(teams.get_team, team)
    db = _database(bulk=True)
    try:
        migrations.upgrade(db)
        chunks = exports.export(db, team, file_format, audience_id=audience, segment_id=segment)
        with output.open("w", encoding="utf-8", newline="") if output else nullcontext(sys.stdout) as out:
            for chunk in chunks:
                out.write(chunk)
    except RosterError as exc:
        _fail(exc.message, 1)
    finally:
        db.dispose()


def _received_payload(received: inbound.Received) -> dict[str, Any]:
    return {
        "id": received.id,
        "state": received.state,
        "kind": received.kind,
        "reason": received.reason,
        "campaignId": received.campaign_id,
        "contactId": received.contact_id,
        "duplicate": received.duplicate,
    }


@mail_app.command("ingest")
def mail_ingest(as_json: Json = False) -> None:
    """Read one bounce or complaint message on stdin (an MTA pipe, a fetched mailbox) and
    apply it, or keep it aside saying why. Exits 0 either way: the message is kept."""
    raw = sys.stdin.buffer.read()
    settings = load_settings()
    db = _database()
    try:
        migrations.upgrade(db)
        received = inbound.receive(db, raw, "cli", settings.bounce_rules)
    finally:
        db.dispose()
    payload = _received_payload(received)
    if received.duplicate:
        human = f"{received.id}: received before ({received.state})"
    elif received.state == inbound.APPLIED:
        human = f"{received.id}: {received.kind} for {received.contact_id} of {received.campaign_id}"
    else:
        human = f"{received.id}: kept aside: {received.reason}"
    _emit(as_json, payload, human)


@mail_app.command("aside")
def mail_aside(
    limit: Annotated[int, typer.Option(min=1, max=1000, help="How many, the latest first.")] = 50,
    as_json: Json = False,
) -> None:
    """The reports that could not be applied, with why (see one whole with ``mail show``)."""
    rows = _write(inbound.aside, limit)
    if as_json:
        for row in rows:
            print(json.dumps({"id": row.id, "receivedAt": row.received_at.isoformat(), "source": row.source,
                              "kind": row.kind, "reason": row.reason}))  # fmt: skip
        return
    for row in rows:
        print(f"{row.id}\t{row.received_at:%Y-%m-%d %H:%M:%S}\t{row.source}\t{row.reason}")


@mail_app.command("show")
def mail_show(message: Annotated[str, typer.Argument(help="inbound_… ID")]) -> None:
    """Print a received report as it came."""
    row = _write(inbound.get, message)
    if row is None:
        _fail(f"report `{message}` not found", 1)
    sys.stdout.buffer.write(bytes(row.raw))


@contact_app.command("consent")
def contact_consent(
    identifier: Annotated[str, typer.Argument(help="The contact's email or ID.")],
    team: TeamId,
    as_json: Json = False,
) -> None:
    """Every change of the contact's subscription state, oldest first, and who made it."""
    rows = _write(_team_then(persons.consent_history), team, identifier)
    if as_json:
        print(json.dumps({"contact": identifier, "history": [consent.as_dict(row) for row in rows]}))
        return
    for row in rows:
        change = consent.as_dict(row)
        scope = change["topicId"] or change["audienceId"] or "team-wide"
        by = f"{change['source']} {change['sourceId']}" if change["sourceId"] else change["source"]
        print(f"{change['at']}\t{change['change']}\t{scope}\t{by}")


def _team_then(fn: Callable[..., T]) -> Callable[..., T]:
    """``fn`` called for an existing team only (an unknown team is an error, not nothing)."""

    def run(conn: Connection, team_id: str, *args: Any, **kwargs: Any) -> T:
        teams.get_team(conn, team_id)
        return fn(conn, team_id, *args, **kwargs)

    return run


@suppression_app.command("add")
def suppression_add(
    emails: Annotated[list[str], typer.Argument(help="Addresses to suppress.")],
    team: TeamId,
    as_json: Json = False,
) -> None:
    """Never mail these addresses again, whatever their contacts' state."""
    added = _write(_team_then(suppression.add), team, emails)
    _emit(as_json, {"added": added, "given": len(emails)}, f"{added} of {len(emails)} addresses added")


@suppression_app.command("remove")
def suppression_remove(
    email: Annotated[str, typer.Argument(help="The address to take off the list.")],
    team: TeamId,
    as_json: Json = False,
) -> None:
    """Take an address off the list: it may be mailed again if its contact is subscribed."""
    _write(_team_then(suppression.remove), team, email)
    _emit(as_json, {"removed": email}, f"{email} removed")


@suppression_app.command("list")
def suppression_list(team: TeamId, as_json: Json = False) -> None:
    """Every entry, the latest first; erased people show as a hash only."""
    rows = _write(_team_then(suppression.page), team, 0, 1_000_000)
    for row in rows:
        entry = {"email": row.email, "reason": row.reason, "source": row.source, "sourceId": row.source_id,
                 "created": row.created_at.isoformat()}  # fmt: skip
        print(
            json.dumps(entry)
            if as_json
            else f"{row.email or '(erased) ' + row.digest[:12]}\t{row.reason}\t{row.created_at:%Y-%m-%d}"
        )


@contact_app.command("export")
def contact_export(
    identifier: Annotated[str, typer.Argument(help="The contact's email or ID.")], team: TeamId
) -> None:
    """Everything held about the contact, as one JSON document on stdout (GDPR art. 15, 20)."""
    print(json.dumps(_write(_team_then(persons.export), team, identifier), indent=2, ensure_ascii=False))


@contact_app.command("erase")
def contact_erase(
    identifier: Annotated[str, typer.Argument(help="The contact's email or ID.")],
    team: TeamId,
    yes: Annotated[bool, typer.Option("--yes", help="Confirm: erasure cannot be undone.")] = False,
    as_json: Json = False,
) -> None:
    """Erase the contact and everything about it (GDPR art. 17); only a hash of the address
    stays, on the suppression list."""
    if not yes:
        _fail("erasure cannot be undone: add --yes to confirm", 1)
    contact_id = _write(_team_then(persons.erase), team, identifier, yes)
    db = _database()
    try:
        db.checkpoint()
    finally:
        db.dispose()
    _emit(as_json, {"erased": contact_id}, f"{contact_id} erased")
