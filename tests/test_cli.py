"""The ``roster`` command, run as a user runs it: a process with ``--json`` output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import httpx

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
