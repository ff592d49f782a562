"""``roster serve`` on a fresh SQLite database: migrates, creates a team and prints a usable key once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import free_port


def start(db_path: Path, port: int) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "roster", "serve", "--port", str(port), "--json"],
        env={**os.environ, "ROSTER_DATABASE_URL": f"sqlite:///{db_path}"},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    announced = json.loads(process.stdout.readline())
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
            break
        except httpx.TransportError:
            time.sleep(0.1)
    return process, announced


def stop(process: subprocess.Popen[str]) -> None:
    process.terminate()
    process.wait(timeout=15)
    assert process.stdout is not None
    assert process.stdout.read() == ""  # --json: one object on stdout, logs elsewhere
    process.stdout.close()


def test_first_start_prints_a_working_key_and_later_starts_do_not(tmp_path: Path) -> None:
    port = free_port()
    process, announced = start(tmp_path / "fresh.db", port)
    try:
        assert announced["url"] == f"http://127.0.0.1:{port}"
        created = announced["created"]
        assert created["token"].startswith("sk_")
        response = httpx.get(
            f"http://127.0.0.1:{port}/api/v1/domains", headers={"Authorization": f"Bearer {created['token']}"}
        )
        assert response.status_code == 200
        assert response.json() == {"data": []}
    finally:
        stop(process)

    process, again = start(tmp_path / "fresh.db", port)
    try:
        assert again["created"] is None
    finally:
        stop(process)
