"""The ``roster`` command, run as a user runs it: a process with ``--json`` output."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from roster import __version__
from roster.core import teams
from roster.storage.db import Database
from tests.dns_server import txt_server


def roster(database_url: str, *args: str, env: dict[str, str] | None = None, ok: bool = True) -> Any:
    result = subprocess.run(
        [sys.executable, "-m", "roster", *args, "--json"],
        env={**os.environ, "ROSTER_DATABASE_URL": database_url, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if ok:
        assert result.returncode == 0, result.stderr
        lines = result.stdout.strip().splitlines()
        assert len(lines) == 1, result.stdout
        return json.loads(lines[0])
    assert result.returncode != 0
    return result


def test_team_key_and_domain_commands(database_url: str, db: Database, live_server: str) -> None:
    assert roster(database_url, "migrate")["status"] == "ok"
    team = roster(database_url, "team", "create", "Acme")
    assert team["id"].startswith("team_")
    assert team["name"] == "Acme"

    key = roster(
        database_url, "key", "create", "--team", team["id"], "--permission", "full_access", "--name", "ops"
    )
    assert set(key) == {"id", "name", "permission", "token"}
    assert key["permission"] == "full_access"
    headers = {"Authorization": f"Bearer {key['token']}"}
    assert httpx.get(f"{live_server}/api/v1/domains", headers=headers).json() == {"data": []}

    listed = roster(database_url, "key", "list", "--team", team["id"])["keys"]
    assert [k["id"] for k in listed] == [key["id"]]
    assert key["token"] not in json.dumps(listed)

    domain = roster(database_url, "domain", "add", "--team", team["id"], "acme.test", "--verified")
    assert domain["status"] == "verified"
    created = httpx.post(
        f"{live_server}/api/v1/audiences", json={"name": "Main", "domain": "acme.test"}, headers=headers
    )
    assert created.status_code == 201

    revoked = roster(database_url, "key", "revoke", key["id"])
    assert revoked == {"id": key["id"], "revoked": True}
    assert httpx.get(f"{live_server}/api/v1/domains", headers=headers).status_code == 401

    bad = roster(database_url, "key", "create", "--team", team["id"], "--permission", "god", ok=False)
    assert "permission" in bad.stderr
    missing = roster(database_url, "key", "create", "--team", "team_0000000000000000000000", ok=False)
    assert "not found" in missing.stderr


def test_domain_verify_checks_the_txt_record(database_url: str) -> None:
    team = roster(database_url, "team", "create", "Verifiers")
    domain = roster(database_url, "domain", "add", "--team", team["id"], "proof.test")
    assert domain["status"] == "pending"
    record = domain["record"]
    assert record["name"] == "_roster.proof.test"

    with txt_server({record["name"]: ["v=spf1 -all"]}) as nameserver:
        still = roster(
            database_url,
            "domain",
            "verify",
            domain["id"],
            env={"ROSTER_DNS_NAMESERVER": nameserver},
            ok=False,
        )
        assert json.loads(still.stdout)["status"] == "pending"
    with txt_server({record["name"]: ["unrelated", record["value"]]}) as nameserver:
        verified = roster(
            database_url, "domain", "verify", domain["id"], env={"ROSTER_DNS_NAMESERVER": nameserver}
        )
    assert verified["status"] == "verified"


def test_member_add(database_url: str, live_server: str) -> None:
    team = roster(database_url, "team", "create", "Crew")
    key = roster(database_url, "key", "create", "--team", team["id"], "--permission", "full_access")
    added = roster(
        database_url, "member", "add", "--team", team["id"], "ada@crew.example", "--name", "Ada Lovelace"
    )
    assert added["id"].startswith("member_")
    assert (added["email"], added["full_name"], added["team_id"]) == (
        "ada@crew.example",
        "Ada Lovelace",
        team["id"],
    )
    headers = {"X-Team-ApiKey": key["token"]}
    shown = httpx.get(f"{live_server}/api/v1/rest/team/member/{added['id']}", headers=headers).json()
    assert (shown["email"], shown["fullName"]) == ("ada@crew.example", "Ada Lovelace")
    again = roster(
        database_url, "member", "add", "--team", team["id"], "ADA@crew.example", "--name", "Ada", ok=False
    )
    assert "already exists" in again.stderr
    missing = roster(
        database_url,
        "member",
        "add",
        "--team",
        "team_0000000000000000000000",
        "x@crew.example",
        "--name",
        "X",
        ok=False,
    )
    assert "not found" in missing.stderr


def test_campaign_commands_show_and_steer_sending(database_url: str, tenant: Any) -> None:
    from tests.jobs.test_sending import audience_with, send_now

    campaign = send_now(tenant, includedLists=[audience_with(tenant, "cli@example.net")])
    status = roster(database_url, "campaign", "status", campaign["id"], "--team", tenant.id)
    assert (status["status"], status["recipients"], status["sent"]) == ("sending", 1, 0)
    paused = roster(database_url, "campaign", "pause", campaign["id"], "--team", tenant.id)
    assert (paused["status"], paused["reason"]) == ("paused", "paused by a user")
    assert (
        roster(database_url, "campaign", "resume", campaign["id"], "--team", tenant.id)["status"] == "sending"
    )
    assert (
        roster(database_url, "campaign", "cancel", campaign["id"], "--team", tenant.id)["status"]
        == "cancelled"
    )
    listed = roster(database_url, "campaign", "list", "--team", tenant.id)["campaigns"]
    assert [(item["id"], item["status"]) for item in listed] == [(campaign["id"], "cancelled")]
    again = roster(database_url, "campaign", "resume", campaign["id"], "--team", tenant.id, ok=False)
    assert "only a paused campaign can be resumed" in again.stderr
    other_team = roster(
        database_url, "campaign", "status", campaign["id"], "--team", "team_0000000000000000000000", ok=False
    )
    assert "not found" in other_team.stderr


def run_roster(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "roster", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("ROSTER_PORT", "abc", "ROSTER_PORT must be a whole number"),
        ("ROSTER_RATE_LIMIT", "lots", "ROSTER_RATE_LIMIT must be a count per window"),
        ("ROSTER_WEBHOOK_ALLOW_PRIVATE", "maybe", "ROSTER_WEBHOOK_ALLOW_PRIVATE must be true or false"),
        ("ROSTER_DATABASE_URL", "mysql://roster@db/roster", "ROSTER_DATABASE_URL must be sqlite:///"),
        ("ROSTER_WORKER", "sometimes", "ROSTER_WORKER must be 'auto' or 'inline' or 'off'"),
        ("ROSTER_SEND_LEASE", "0", "ROSTER_SEND_LEASE must be a number above 0"),
    ],
)
def test_a_wrong_setting_is_one_line_and_exit_2(
    database_url: str, variable: str, value: str, says: str
) -> None:
    result = run_roster({"ROSTER_DATABASE_URL": database_url, variable: value}, "team", "list")
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert says in result.stderr


def test_serve_stops_at_a_wrong_setting_before_it_binds(database_url: str) -> None:
    result = run_roster({"ROSTER_DATABASE_URL": database_url, "ROSTER_PORT": "abc"}, "serve")
    assert (result.returncode, result.stderr.strip()) == (
        2,
        "error: ROSTER_PORT must be a whole number (it is 'abc')",
    )


def test_a_database_that_cannot_be_used_is_one_line_with_the_password_hidden(tmp_path: Path) -> None:
    for url, reason in (
        ("postgresql://roster:hunter2@127.0.0.1:1/roster", "Connection refused"),
        (f"sqlite:///{tmp_path}/missing/folder/roster.db", "unable to open database file"),
    ):
        result = run_roster({"ROSTER_DATABASE_URL": url}, "team", "list")
        assert result.returncode == 1
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert result.stderr.startswith("error: cannot use the database")
        assert reason in result.stderr
        assert "hunter2" not in result.stderr
    debug = run_roster(
        {"ROSTER_DATABASE_URL": f"sqlite:///{tmp_path}/missing/x.db"}, "--debug", "team", "list"
    )
    assert debug.returncode == 1
    assert "Traceback" in debug.stderr


def test_version_team_list_and_unknown_teams(database_url: str, db: Database, tmp_path: Path) -> None:
    env = {"ROSTER_DATABASE_URL": database_url}
    assert run_roster(env, "--version").stdout.strip() == f"roster {__version__}"
    team = db.run_write(lambda conn: teams.create_team(conn, "Listed").id)
    listed = [json.loads(line) for line in run_roster(env, "team", "list", "--json").stdout.splitlines()]
    assert {"id": team, "name": "Listed"}.items() <= next(row for row in listed if row["id"] == team).items()
    assert f"{team}\tListed" in run_roster(env, "team", "list").stdout.splitlines()
    people = tmp_path / "people.csv"
    people.write_text("email\na@example.net\n")
    for command in (("import", "contacts", str(people)), ("export", "contacts")):
        result = run_roster(env, *command, "--team", "team_bogus")
        assert result.returncode == 1
        assert result.stderr.strip() == "error: team `team_bogus` not found"


def test_serve_refuses_a_port_in_use(database_url: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_roster({"ROSTER_DATABASE_URL": database_url}, "serve", "--port", str(port))
    assert result.returncode == 1
    assert f"port {port} is in use" in result.stderr


def test_migrate_says_what_it_applied_and_lists_come_out_whole(tmp_path: Path, db: Database) -> None:
    env = {"ROSTER_DATABASE_URL": f"sqlite:///{tmp_path}/fresh.db"}
    first = json.loads(run_roster(env, "migrate", "--json").stdout)
    assert (first["from"], first["applied"][0], first["to"]) == (None, "0001", first["applied"][-1])
    again = json.loads(run_roster(env, "migrate", "--json").stdout)
    assert (again["from"], again["applied"]) == (first["to"], [])
    assert "nothing to apply" in run_roster(env, "migrate").stdout

    team = json.loads(run_roster(env, "team", "create", "Lists", "--json").stdout)["id"]
    made = json.loads(
        run_roster(env, "audience", "create", "Nyheter", "--team", team, "--double-opt-in", "--json").stdout
    )
    assert made["doubleOptIn"] is True
    listed = run_roster(env, "audience", "list", "--team", team).stdout.splitlines()
    assert listed == [f"{made['id']}\tNyheter\t0"]
    run_roster(env, "key", "create", "--team", team)
    keys = run_roster(env, "key", "list", "--team", team).stdout.splitlines()  # a pipe: whole IDs
    assert len(keys) == 1
    assert re.fullmatch(r"key_[0-9A-Za-z]{22}", keys[0].split("\t")[0])
    refused = run_roster(env, "audience", "list", "--team", "team_bogus")
    assert (refused.returncode, refused.stderr.strip()) == (1, "error: team `team_bogus` not found")


UNKNOWN = [
    ("key", "revoke", "key_bogus"),
    ("key", "list", "--team", "team_bogus"),
    ("audience", "list", "--team", "team_bogus"),
    ("campaign", "list", "--team", "team_bogus"),
    ("domain", "add", "--team", "team_bogus", "bogus.example"),
    ("domain", "verify", "domain_bogus"),
    ("suppression", "list", "--team", "team_bogus"),
    ("contact", "consent", "a@example.com", "--team", "team_bogus"),
]


def test_unknown_ids_are_one_line_errors_in_every_command(database_url: str) -> None:
    env = {"ROSTER_DATABASE_URL": database_url}
    for command in UNKNOWN:
        plain = run_roster(env, *command)
        assert plain.returncode == 1, (command, plain.stdout, plain.stderr)
        assert plain.stdout == ""
        assert len(plain.stderr.strip().splitlines()) == 1, plain.stderr
        assert plain.stderr.startswith("error: ")
        assert "not found" in plain.stderr
        if command[0] not in ("key", "campaign"):
            continue  # --json is the same code for every command: two of them show it
        as_json = run_roster(env, *command, "--json")
        assert as_json.returncode == 1
        assert json.loads(as_json.stderr) == {
            "error": plain.stderr.strip().removeprefix("error: "),
            "exit_code": 1,
        }
