"""The one place that reads the time, so that every row written in a call shares it."""

from __future__ import annotations

from datetime import UTC, datetime


def now() -> datetime:
    return datetime.now(UTC)
