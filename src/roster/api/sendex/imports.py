"""Bulk import jobs and exports (extensions in Sendex's conventions):

- ``POST /api/v1/audiences/{id}/imports`` — a CSV or NDJSON body, streamed to disk as it
  arrives, imported in the background; answers 202 with the job.
- ``GET /api/v1/audiences/{id}/imports/{import_id}`` — its state, counts and first errors;
  ``…/errors`` — every refused row as CSV.
- ``GET /api/v1/audiences/{id}/export`` and ``GET /api/v1/exports/contacts`` — the audience's
  or the team's (or a segment's) contacts, streamed.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from collections.abc import Iterator
from typing import Annotated, Any

import anyio.to_thread
from litestar import Controller, Request, get, post
from litestar.params import FromQuery, QueryParameter
from litestar.response import Stream

from roster.api.common import Ctx, PathId
from roster.core import exports, imports, tabular
from roster.core.errors import Invalid, NotFound
from roster.metrics import IMPORT_ROWS
from roster.storage.db import Database

MEDIA_TYPES = {"csv": "text/csv", "ndjson": "application/x-ndjson"}  # Litestar adds text's charset
Format = Annotated[str, QueryParameter(name="format", description="csv or ndjson")]
_running: set[asyncio.Task[None]] = set()  # jobs in flight, held so that they are not collected


def _format(request: Request[Any, Any, Any], given: str | None) -> str:
    if given is not None:
        if given not in tabular.FORMATS:
            raise Invalid("format", "must be `csv` or `ndjson`")
        return given
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return "ndjson" if kind in ("application/x-ndjson", "application/ndjson", "application/jsonl") else "csv"


async def _run_in_background(db: Database, team_id: str, job_id: str, path: str) -> None:
    def work() -> None:
        try:
            with open(path, "rb") as stream:
                job = imports.run_job(db, team_id, job_id, stream)
            for outcome in ("created", "updated", "skipped", "failed"):
                IMPORT_ROWS.labels(outcome).inc(getattr(job, f"{outcome}_count"))
        finally:
            os.unlink(path)

    await anyio.to_thread.run_sync(work)


def _errors_csv(rows: list[Any]) -> Iterator[str]:
    yield tabular.csv_line(["line", "email", "reason"])
    for row in rows:
        yield tabular.csv_line([row.line, row.email or "", row.reason])


class ImportController(Controller):
    path = "/audiences/{audience_id:str}"
    tags = ["Imports and exports"]

    @post(
        "/imports",
        status_code=202,
        summary="Import contacts into an audience (CSV or NDJSON body)",
        request_max_body_size=None,
    )
    async def create_import(
        self,
        ctx: Ctx,
        request: Request[Any, Any, Any],
        audience_id: PathId,
        on_conflict: FromQuery[str] = "update",
        tags: FromQuery[list[str] | None] = None,
        create_fields: FromQuery[bool] = False,
        double_opt_in: FromQuery[str | None] = None,
        confirmed_reason: FromQuery[str | None] = None,
        file_format: Annotated[
            str | None, QueryParameter(name="format", description="csv or ndjson (default: by Content-Type)")
        ] = None,
    ) -> dict[str, Any]:
        options = imports.Options(
            on_conflict=on_conflict,
            audience_id=audience_id,
            tags=tuple(tags or ()),
            create_fields=create_fields,
            double_opt_in=double_opt_in,
            confirmed_reason=confirmed_reason,
        )
        fmt = _format(request, file_format)
        source = request.headers.get("x-filename", f"upload.{fmt}")
        job = await ctx.db.write(imports.create_job, ctx.team_id, source, fmt, options, "queued")
        handle, path = tempfile.mkstemp(prefix="roster-import-", suffix=f".{fmt}")
        try:
            with os.fdopen(handle, "wb") as spool:
                beat = time.monotonic()
                async for chunk in request.stream():
                    spool.write(chunk)
                    if time.monotonic() - beat > imports.BEAT.total_seconds():
                        await ctx.db.write(imports.touch, job.id)
                        beat = time.monotonic()
        except BaseException:
            os.unlink(path)
            await ctx.db.write(imports.set_state, job.id, "failed", "the upload did not complete")
            raise
        task = asyncio.get_running_loop().create_task(_run_in_background(ctx.db, ctx.team_id, job.id, path))
        _running.add(task)
        task.add_done_callback(_running.discard)
        return imports.describe(job)

    @get("/imports/{import_id:str}", summary="An import's state, counts and first errors")
    async def get_import(self, ctx: Ctx, audience_id: PathId, import_id: PathId) -> dict[str, Any]:
        job = await ctx.db.read(_job_of, ctx.team_id, audience_id, import_id)
        shown = await ctx.db.read(imports.job_errors, ctx.team_id, import_id, imports.MAX_ERRORS_SHOWN)
        return imports.describe(job, shown)

    @get("/imports/{import_id:str}/errors", summary="Every row an import refused, as CSV")
    async def import_errors(self, ctx: Ctx, audience_id: PathId, import_id: PathId) -> Stream:
        await ctx.db.read(_job_of, ctx.team_id, audience_id, import_id)
        rows = await ctx.db.read(imports.job_errors, ctx.team_id, import_id)
        return Stream(_errors_csv(rows), media_type=MEDIA_TYPES["csv"])

    @get("/export", summary="Export an audience's contacts (CSV or NDJSON)", sync_to_thread=True)
    def export_audience(self, ctx: Ctx, audience_id: PathId, file_format: Format = "csv") -> Stream:
        chunks = exports.export(ctx.db, ctx.team_id, file_format, audience_id=audience_id)
        return _download(chunks, file_format, audience_id)


class ExportController(Controller):
    path = "/exports"
    tags = ["Imports and exports"]

    @get("/contacts", summary="Export the team's contacts, or a segment's", sync_to_thread=True)
    def export_contacts(
        self, ctx: Ctx, segment_id: FromQuery[str | None] = None, file_format: Format = "csv"
    ) -> Stream:
        chunks = exports.export(ctx.db, ctx.team_id, file_format, segment_id=segment_id)
        return _download(chunks, file_format, segment_id or "contacts")


def _download(chunks: Iterator[str], fmt: str, name: str) -> Stream:
    return Stream(
        (chunk.encode() for chunk in chunks),
        media_type=MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="{name}.{fmt}"'},
    )


def _job_of(conn: Any, team_id: str, audience_id: str, import_id: str) -> Any:
    job = imports.get_job(conn, team_id, import_id)
    if job.audience_id != audience_id:
        raise NotFound("import", import_id)
    return job
