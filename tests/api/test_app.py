"""The app as a server process runs it."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from litestar.testing import TestClient

from roster.api.app import served_app


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


@pytest.mark.usefixtures("unfrozen", "db")
def test_a_server_process_keeps_its_start_up_heap_from_the_cyclic_collector(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full collection of an app's start-up objects takes tens of milliseconds: a pause a
    request would wait through, now and then (p99.9 107 → 8 ms over HTTP, benchmarks.md)."""
    monkeypatch.setenv("ROSTER_DATABASE_URL", database_url)
    assert gc.get_freeze_count() == 0
    with TestClient(served_app()) as client:
        assert gc.get_freeze_count() > 10_000
        assert client.get("/healthz").status_code == 200
