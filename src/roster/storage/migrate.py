"""Schema migrations (Alembic), run programmatically: ``roster migrate`` and ``roster serve``."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

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


def revision(db: Database) -> str | None:
    """The schema revision the database is at; ``None`` for an empty one."""
    with db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def between(db: Database, old: str | None, new: str | None) -> list[str]:
    """The revisions after ``old`` up to ``new``, oldest first."""
    if new is None or old == new:
        return []
    script = ScriptDirectory.from_config(alembic_config(db))
    return [step.revision for step in reversed(list(script.iterate_revisions(new, old or "base")))]
