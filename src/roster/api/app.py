"""The ASGI application: every dialect's router, the public pages, health checks, OpenAPI."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import anyio.to_thread
from litestar import Litestar, Response, get
from litestar.config.compression import CompressionConfig
from litestar.datastructures import CacheControlHeader, State
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.static_files import create_static_files_router

from roster import __version__, sealing
from roster.api import openapi, sendex, sendx, v1
from roster.api.clients import networks
from roster.api.common import Services
from roster.api.errors import exception_handler
from roster.api.observe import Observe
from roster.api.rate_limit import RateLimit
from roster.api.scrape import metrics
from roster.config import Settings, load_settings
from roster.core.preferences import PreferenceLinks
from roster.core.teams import instance_secret
from roster.core.tracking import Tracking
from roster.delivery import Worker
from roster.dispatch import Dispatcher
from roster.mail.sns import Sns
from roster.mailbox import poller
from roster.metrics import count_pool
from roster.storage.db import Database
from roster.web import confirm, pages, signup
from roster.web import inbound as inbound_routes
from roster.web import tracking as tracking_routes
from roster.web.signup import SignupLimits
from roster.web.tracking import HitRecorder


@get("/healthz", include_in_schema=False)
async def healthz() -> dict[str, str]:
    return {"status": "ok", "version": __version__}


@get("/readyz", include_in_schema=False)
async def readyz(state: State) -> Response[dict[str, str]]:
    services: Services = state.services
    try:
        await services.db.read(lambda conn: conn.exec_driver_sql("SELECT 1").scalar())
    except Exception as exc:
        return Response({"status": "unavailable", "database": type(exc).__name__}, status_code=503)
    return Response({"status": "ok", "database": "ok"})


# The docs UI's scripts and styles, shipped in the package so that /docs works offline.
DOCS_ASSETS = "/docs/assets"
docs_assets = create_static_files_router(
    path=DOCS_ASSETS,
    directories=[Path(__file__).parent.parent / "web" / "static" / "swagger-ui"],
    name="docs_assets",
    cache_control=CacheControlHeader(max_age=86400, public=True),
)


def running(
    *tasks: Callable[[], Coroutine[Any, Any, None]],
) -> Callable[[Litestar], AbstractAsyncContextManager[None]]:
    """A lifespan that runs ``tasks`` beside the server: the recorder of opens and clicks, and
    the webhook and campaign workers when the server is its own worker."""

    @asynccontextmanager
    async def lifespan(_app: Litestar) -> AsyncIterator[None]:
        async with anyio.create_task_group() as group:
            for task in tasks:
                group.start_soon(task)
            yield
            group.cancel_scope.cancel()

    return lifespan


# Worker threads a process runs database calls in at once (PostgreSQL's; SQLite's run inline).
# More only contend with the event loop for the interpreter lock: the loop answers late, and
# under load the slowest requests wait three times as long for a tenth more throughput
# (docs/benchmarks.md, "HTTP hot paths on PostgreSQL").
THREADS = 16


async def _limit_threads() -> None:
    anyio.to_thread.current_default_thread_limiter().total_tokens = THREADS


def create_app(settings: Settings | None = None, db: Database | None = None) -> Litestar:
    """Build the app for one process. The database must already be migrated."""
    settings = settings or load_settings()
    db = db or Database(settings.database_url)
    sealing.use(sealing.keyring_for(settings))
    db.run_write(sealing.seal_all)  # secrets written before sealing existed
    secret = settings.secret_key or db.run_write(instance_secret)
    db.run_write(instance_secret, "suppression_key")  # made here, so that no read has to write it
    links = PreferenceLinks(base_url=settings.base_url, secret=secret)
    rate_limit = RateLimit(settings.rate_limit, settings.redis_url, settings.auth_failure_limit)
    dispatcher = Dispatcher.from_settings(db, settings, secret)
    mailer = dispatcher.mailer
    hits = HitRecorder(db)
    tracking = Tracking(settings.base_url, secret)
    sns = Sns(settings.sns_topics)
    signup_limits = SignupLimits(settings.redis_url)
    services = Services(
        settings, db, links, rate_limit, mailer, tracking, hits, sns,
        dispatcher.confirm_links, timedelta(days=settings.confirm_days), signup_limits,
        networks(settings.trusted_proxies),
    )  # fmt: skip
    state = {"services": services}
    tasks = [hits.run]
    if settings.inline_worker:
        tasks += [Worker(db, settings).run, dispatcher.run]
        tasks += poller(db, settings.bounce_mailbox, settings.bounce_rules)
    count_pool(db.engine)
    app = Litestar(
        route_handlers=[
            healthz,
            readyz,
            metrics,
            sendex.router,
            sendx.router,
            v1.router,
            pages.router,
            tracking_routes.router,
            inbound_routes.router,
            confirm.router,
            signup.router,
            docs_assets,
            *openapi.routes,
        ],
        state=State(state),
        exception_handlers={Exception: exception_handler([sendex.errors, sendx.errors, v1.errors])},
        openapi_config=OpenAPIConfig(
            title="Roster",
            version=__version__,
            description=(
                "Sendex-compatible API at /api/v1 (`Authorization: Bearer sk_…`); "
                "SendX-compatible API at /api/v1/rest (`X-Team-ApiKey: sk_…`); "
                "Audiences v1 at /v1 (`Authorization: Bearer sk_…`)."
            ),
            path="/docs",
            render_plugins=[
                SwaggerRenderPlugin(
                    path=["/", "/swagger"],
                    js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
                    css_url=f"{DOCS_ASSETS}/swagger-ui.css",
                    standalone_preset_js_url=f"{DOCS_ASSETS}/swagger-ui-standalone-preset.js",
                    favicon=f"<link rel='icon' type='image/png' href='{DOCS_ASSETS}/favicon-32x32.png'>",
                )
            ],
            components=Components(security_schemes={"bearer": SecurityScheme(type="http", scheme="bearer")}),
            security=[{"bearer": []}],
        ),
        # Large lists and exports only: compressing a small answer costs more than it saves.
        compression_config=CompressionConfig(backend="gzip", minimum_size=2048, gzip_compress_level=6),
        lifespan=[running(*tasks)],
        on_startup=[_limit_threads],
        on_shutdown=[mailer.close, db.dispose, rate_limit.close, signup_limits.close],
        debug=False,
        logging_config=None,  # the process's logging is configured once (roster.logs)
    )
    # Around Litestar's own exception handling, so that answers without a route are seen too.
    app.asgi_handler = Observe(
        app.asgi_handler, access_log=settings.access_log, fields=settings.log_format == "json"
    )
    return app


def served_app() -> Litestar:
    """The app of one ``roster serve`` process (granian's factory). What it is built from —
    the app, its routes, the imported modules — is never garbage, so it is moved out of the
    cyclic collector's reach (``gc.freeze``): a full collection walking it measured 83 ms, a
    pause some request would wait through now and then."""
    app = create_app()
    gc.collect()
    gc.freeze()
    return app
