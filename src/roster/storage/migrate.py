"""Schema migrations (Alembic), run programmatically: ``roster migrate`` and ``roster serve``."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from roster.storage.db import Database


def alembic_config(db: Database) -> Config:
    config = Config()
    config.set_main_option("script_location", "roster.storage:migrations")
    config.attributes["engine"] = db.engine
    return config


def upgrade(db: Database) -> None:
    config = alembic_config(db)
    if not db.is_sqlite:
        # Several `roster serve` processes may start at once: one migrates, the others wait.
        with db.engine.begin() as conn:
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(5746312)")
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
        return
    command.upgrade(config, "head")
