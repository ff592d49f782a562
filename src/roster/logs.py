"""Log lines, on stderr: readable text, or one JSON object a line with ``ROSTER_LOG_FORMAT=json``.
Every line written while a request is answered carries its request ID."""

from __future__ import annotations

import logging
from contextvars import ContextVar
from typing import Any, Literal

REQUEST_ID: ContextVar[str | None] = ContextVar("roster_request_id", default=None)

LogFormat = Literal["text", "json"]


class RequestId(logging.Filter):
    """Adds ``request_id`` to every record: the request being answered, or ``-``."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get() or "-"
        return True


def config(form: LogFormat, level: str = "INFO") -> dict[str, Any]:
    """A ``logging.config.dictConfig`` for Roster's and granian's loggers alike."""
    formatter: dict[str, Any] = (
        {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(process)d %(request_id)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        }
        if form == "json"
        else {"format": "%(asctime)s %(levelname)-7s %(name)s [%(request_id)s] %(message)s"}
    )
    handler = {
        "class": "logging.StreamHandler",
        "stream": "ext://sys.stderr",
        "formatter": "roster",
        "filters": ["request_id"],
    }
    quiet = {"handlers": ["stderr"], "level": level, "propagate": False}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": RequestId}},
        "formatters": {"roster": formatter},
        "handlers": {"stderr": handler},
        "loggers": {"_granian": quiet, "granian.access": quiet},
        "root": {"handlers": ["stderr"], "level": level},
    }
