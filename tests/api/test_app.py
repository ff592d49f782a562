"""The app as a server process runs it."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from litestar.testing import TestClient

from roster.api.app import create_app
from roster.config import Settings
from roster.storage.db import Database


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


@pytest.mark.usefixtures("unfrozen")
def test_the_start_up_heap_is_kept_from_the_cyclic_collector(settings: Settings, db: Database) -> None:
    """A full collection of an app's start-up objects takes tens of milliseconds: a pause a
    request would wait through, now and then (p99.9 107 → 8 ms over HTTP, benchmarks.md)."""
    assert gc.get_freeze_count() == 0
    with TestClient(create_app(settings, db)) as client:
        assert client.get("/healthz").status_code == 200
        assert gc.get_freeze_count() > 10_000
