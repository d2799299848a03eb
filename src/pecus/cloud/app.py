"""The cloud API application: `create_app()` builds it, `pecus serve` runs it with uvicorn.

The connection pool lives on `app.state.pool`, opened and closed by the lifespan. It opens without
waiting for the database, so the process serves `/healthz` (and a 503 from `/readyz`) while the
database is down, and recovers by itself when it comes back.

`app.state.ingest_hooks` is the post-commit seam: append an `IngestHook` to have every ingested
batch's new sessions handed to it in the background (see `pecus.cloud.ingest_hooks`).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

import pecus
from pecus.ai.live import score_ingested
from pecus.cloud.agent_keys import KeyChecker
from pecus.cloud.api_settings import ApiSettings
from pecus.cloud.auth.config import AuthSettings
from pecus.cloud.auth.verify import TokenVerifier
from pecus.cloud.background import BackgroundJobs
from pecus.cloud.cors import cors_origins, install_cors
from pecus.cloud.database import database_url as default_database_url
from pecus.cloud.errors import install_error_handlers
from pecus.cloud.ingest_hooks import HookRunner, IngestHook
from pecus.cloud.migrations import load_migrations
from pecus.cloud.notify.config import JobSettings, NotifySettings
from pecus.cloud.routes import alerts, auth, dashboard, farm_admin, health, sync
from pecus.cloud.tenancy import make_pool
from pecus.cloud.web import mount_dashboard
from pecus.contract import IngestBatch, MilkingSession

log = logging.getLogger(__name__)

HOOK_DRAIN_TIMEOUT_S = 30.0
JOBS_STOP_TIMEOUT_S = 20.0


def create_app(
    database_url: str | None = None,
    settings: ApiSettings | None = None,
    auth_settings: AuthSettings | None = None,
) -> FastAPI:
    settings = settings or ApiSettings.from_env()
    auth_settings = auth_settings or AuthSettings.from_env()
    url = database_url or default_database_url()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = make_pool(url, min_size=settings.pool_min_size, max_size=settings.pool_max_size)
        pool.timeout = settings.db_timeout_s
        await pool.open(wait=False)
        app.state.pool = pool
        jobs = BackgroundJobs(url, app.state.notify_settings, JobSettings.from_env())
        jobs.start()
        try:
            yield
        finally:
            await jobs.stop(JOBS_STOP_TIMEOUT_S)
            await app.state.hook_runner.drain(HOOK_DRAIN_TIMEOUT_S)
            await pool.close()

    app = FastAPI(
        title="Pecus Chain API",
        version=getattr(pecus, "__version__", "0"),
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.notify_settings = NotifySettings.from_env()
    app.state.key_checker = KeyChecker()
    app.state.hook_runner = HookRunner()
    # Live mastitis scoring of every batch's new milkings (pecus.ai.live).
    hooks: list[IngestHook] = [score_ingested] if settings.ai_enabled else []
    app.state.ingest_hooks = hooks
    app.state.migration_versions = [m.version for m in load_migrations()]
    install_error_handlers(app)
    # Users: the verifier (and its JWKS cache) lives as long as the app.
    app.state.auth_settings = auth_settings
    app.state.token_verifier = TokenVerifier.from_settings(auth_settings)
    app.include_router(health.router)
    app.include_router(sync.router)
    app.include_router(auth.router)
    if auth_settings.mode == "local":
        app.include_router(auth.local_router)
    app.include_router(dashboard.router)
    app.include_router(farm_admin.router)
    app.include_router(alerts.router)
    install_cors(app, cors_origins())
    _document_batch_schema(app)
    mount_dashboard(app)
    return app


def _document_batch_schema(app: FastAPI) -> None:
    """The ingest route reads its body itself (gzip, size limits), so FastAPI does not see the
    IngestBatch model: add it (and the session row) to the OpenAPI components by hand."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, routes=app.routes)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        template = "#/components/schemas/{model}"
        for model in (IngestBatch, MilkingSession):
            doc = model.model_json_schema(ref_template=template)
            components.update(doc.pop("$defs", {}))
            components[model.__name__] = doc
        batch = components["IngestBatch"]["properties"]
        batch["rows"] = {
            "anyOf": [
                {"type": "array", "items": {"$ref": template.format(model="MilkingSession")}},
                {"type": "null"},
            ],
            "description": "Row-oriented: one object per milking session.",
        }
        batch["columns"]["description"] = "Column-oriented: {column name: [one value per row]}."
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
