"""Campaigns sent by real ``roster worker`` and ``roster serve`` processes: a ``kill -9``
mid-campaign, two workers sharing one campaign, and the embedded default's mail folder."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email import policy
from email.parser import BytesParser
from pathlib import Path

import httpx

from tests.conftest import Tenant, serving
from tests.jobs.test_sending import audience_with, send_now
from tests.smtp_sink import smtp_sink


@contextmanager
def worker(database_url: str, **env: str) -> Iterator[subprocess.Popen[bytes]]:
    environment = {**os.environ, "ROSTER_DATABASE_URL": database_url, **env}
    process = subprocess.Popen(
        [sys.executable, "-m", "roster", "worker", "--json"], env=environment, stdout=subprocess.PIPE
    )
    try:
        assert process.stdout is not None
        started = json.loads(process.stdout.readline())
        assert started["status"] == "delivering"
        assert "***" in started["mail"] or "@" not in started["mail"]
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
        process.communicate(timeout=15)


def wait_until_sent(tenant: Tenant, campaign_id: str, timeout: float = 30.0) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while True:
        report = dict(tenant.sendx("GET", f"/report/campaign/{campaign_id}").json())
        if report["status"] == "sent" or time.monotonic() > deadline:
            return report
        time.sleep(0.1)


def test_a_worker_killed_mid_campaign_loses_nobody(database_url: str, tenant: Tenant) -> None:
    emails = [f"k{i:02}@example.net" for i in range(60)]
    campaign = send_now(tenant, includedLists=[audience_with(tenant, *emails)])
    with smtp_sink(query="rate=20&connections=4") as sink:
        env = {"ROSTER_SMTP_URL": sink.url, "ROSTER_SEND_LEASE": "2"}
        with worker(database_url, **env) as first:
            sink.wait_for(campaign["id"], 15)
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=15)
        at_kill = len(sink.of(campaign["id"]))
        assert 15 <= at_kill < 60
        with worker(database_url, **env):
            report = wait_until_sent(tenant, campaign["id"])
        received = [item.recipient for item in sink.of(campaign["id"])]
    assert sorted(set(received)) == emails  # nobody skipped
    assert len(received) - len(set(received)) <= 4  # at most one per open connection twice
    assert (report["status"], report["sentContactCount"]) == ("sent", 60)


def test_two_workers_share_a_campaign_and_nobody_gets_it_twice(database_url: str, tenant: Tenant) -> None:
    emails = [f"w{i:03}@example.net" for i in range(300)]
    campaign = send_now(tenant, includedLists=[audience_with(tenant, *emails)])
    with smtp_sink(query="rate=0&connections=4") as sink:
        env = {"ROSTER_SMTP_URL": sink.url}
        with worker(database_url, **env), worker(database_url, **env):
            report = wait_until_sent(tenant, campaign["id"], timeout=60)
        received = [item.recipient for item in sink.of(campaign["id"])]
    assert sorted(received) == emails  # each exactly once
    assert (report["status"], report["sentContactCount"]) == ("sent", 300)


def test_the_embedded_default_writes_each_message_into_the_mail_folder(
    database_url: str, tenant: Tenant, tmp_path: Path
) -> None:
    folder = tmp_path / "mail"
    log = tmp_path / "serve.log"
    env = {"ROSTER_WORKER": "inline", "ROSTER_MAIL_DIR": str(folder)}
    headers = {"X-Team-ApiKey": tenant.token}
    with serving(database_url, log, **env) as base:

        def call(method: str, path: str, body: dict[str, object]) -> dict[str, object]:
            response = httpx.request(method, f"{base}/api/v1/rest{path}", json=body, headers=headers)
            assert response.status_code in (200, 201), response.text
            return dict(response.json())

        audience = call("POST", "/list", {"name": "Readers"})["id"]
        call("POST", "/contact", {"email": "reader@example.net", "firstName": "Rea", "lists": [audience]})
        sender = call("POST", "/sender", {"name": "Roster", "email": "hello@example.com"})["id"]
        campaign = call(
            "POST",
            "/campaign",
            {
                "name": "First",
                "subject": "Hello {{ contact.firstName }}",
                "sender": sender,
                "htmlCode": "<p>It works.</p>",
                "scheduleType": 1,
                "includedLists": [audience],
            },
        )
        deadline = time.monotonic() + 20
        while not list(folder.glob("*.eml")) and time.monotonic() < deadline:
            time.sleep(0.1)
        report = wait_until_sent(tenant, str(campaign["id"]))
    assert f"Sending campaigns to files in {folder}" in log.read_text()
    messages = [
        BytesParser(policy=policy.default).parsebytes(path.read_bytes()) for path in folder.glob("*.eml")
    ]
    ours = [item for item in messages if str(campaign["id"]) in str(item["X-Roster-Recipient"])]
    assert [str(item["Subject"]) for item in ours] == ["Hello Rea"]
    assert report["sentContactCount"] == 1
