"""A longer schemathesis run over the three dialects' OpenAPI documents than CI's.

    .venv/bin/python bench/openapi_fuzz.py [--examples 100] [--database sqlite|postgresql]

Starts `roster serve` on a fresh database (the first start's key), then has schemathesis
generate --examples requests per operation of /api/v1/openapi.json, /api/v1/rest/openapi.json
and /v1/openapi.json with every check (tests/schemathesis.toml), and prints each operation
that failed with why. Exit status 1 if any did.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.api.test_openapi import DOCUMENTS, fuzz  # noqa: E402

from bench.http_bench import free_port, fresh_database  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--examples", type=int, default=100)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, fresh_database(args.database, Path(tmp)) as url:
        port = free_port()
        env = {
            **os.environ,
            "ROSTER_DATABASE_URL": url,
            "ROSTER_PORT": str(port),
            "ROSTER_KEY_FILE": f"{tmp}/roster.key",
            "ROSTER_RATE_LIMIT": "off",
            "ROSTER_AUTH_FAILURE_LIMIT": "off",
            "ROSTER_ACCESS_LOG": "0",
            "ROSTER_WORKER": "off",
        }
        server = subprocess.Popen(
            [sys.executable, "-m", "roster", "serve", "--json"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert server.stdout is not None
        token = json.loads(server.stdout.readline())["created"]["token"]
        base = f"http://127.0.0.1:{port}"
        while True:
            try:
                httpx.get(f"{base}/healthz", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        failed = 0
        try:
            for dialect in DOCUMENTS:
                started = time.monotonic()
                failures = fuzz(base, dialect, token, args.examples)
                took = time.monotonic() - started
                print(f"{dialect}: {len(failures)} failing operations in {took:.0f} s", flush=True)
                for line in failures:
                    print(f"  {line}")
                failed += len(failures)
        finally:
            server.terminate()
            server.wait(timeout=30)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
