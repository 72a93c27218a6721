"""The Headway read API (FastAPI): the warehouse the pipeline fills, served to the product frontend.

Start it on the embedded default (SQLite under data/, a JWT secret generated into data/jwt-secret):

    .venv/bin/uvicorn headway_api.main:app --host 127.0.0.1 --port 8000

`app` is built on first access (so importing this module for `create_app` has no side effects).
"""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Literal

import fastapi_offline
from alembic.config import Config
from alembic.script import ScriptDirectory
from fastapi import FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from headway_api.api.deps import TOKEN_URL, AppState, StateDep, get_context
from headway_api.api.routes import (
    auth,
    calls,
    catalogue,
    competitors,
    customers,
    feature_requests,
    insights,
    integrations,
    messages,
    notifications,
    organization,
    stats,
    sync,
    themes,
)
from headway_api.core.config import ApiSettings, get_api_settings
from headway_api.core.errors import install_error_handlers
from headway_api.core.principal import PrincipalCache, PrincipalInvalidation, PrincipalResolver
from headway_api.core.security import TokenCodec, dummy_password_hash
from headway_api.db import BlockingRunner, Database, Reader
from headway_api.pagination import configure_cursor_key, derive_cursor_key
from headway_assets.core.settings import PROJECT_ROOT, HeadwaySettings, get_settings
from headway_assets.core.warehouse.database import ALEMBIC_INI

LOGGER = logging.getLogger("headway_api")
# The busiest listings first: routes are matched in order.
ROUTERS = tuple(
    module.router
    for module in (
        messages,
        feature_requests,
        catalogue,
        customers,
        competitors,
        calls,
        stats,
        themes,
        insights,
        sync,
        auth,
        integrations,
        notifications,
        organization,
    )
)
VERSION = "0.1.0"
DESCRIPTION = """
Product feedback from Slack, Gmail, Gong and Fathom, as a de-duplicated catalogue of feature
requests with the customers' own words as evidence.

**Authentication.** Every `/v1` endpoint except sign-in needs `Authorization: Bearer <token>`:
get one from `POST /v1/auth/token` (e-mail and password) or, for a service, from
`headway tokens mint`. Every answer is limited to your organisation.

**Lists** return `{"items": [...], "next_cursor": ...}`; pass `next_cursor` back as `cursor` for the
next page (null means the last page). `limit` is 1-200.

**Errors** always have the body `{"error": {"code", "message", "details"}}`.
"""
TAGS: list[dict[str, Any]] = [
    {"name": "auth", "description": "Sign in and identity."},
    {"name": "themes", "description": "The organisation's feedback taxonomy."},
    {"name": "feature requests", "description": "The de-duplicated catalogue, with evidence quotes."},
    {"name": "customers", "description": "Accounts with revenue and domains, edited or imported from a CRM export."},
    {"name": "messages", "description": "Customer messages with their AI labels, mentions and insights."},
    {"name": "insights", "description": "Top, new and rising asks per week or month."},
    {"name": "stats", "description": "Counts over time for dashboards."},
    {"name": "sync", "description": "On-demand syncs, sync history and source connections."},
    {"name": "notifications", "description": "Slack channels told about a theme's new and rising asks."},
    {"name": "health", "description": "Liveness and database reachability."},
]
# Swagger UI and ReDoc come from the fastapi-offline package and are served by the API itself:
# FastAPI's defaults load them from a CDN, which leaves /docs and /redoc blank offline.
DOCS_ASSETS_DIR = Path(fastapi_offline.__file__).parent / "static"
DOCS_ASSETS_URL = "/docs-assets"
DOCS_URL = "/docs"
REDOC_URL = "/redoc"
OAUTH2_REDIRECT_URL = "/docs/oauth2-redirect"
# The docs pages may load only from this server. ReDoc's sidebar badge fetches a logo from
# Redocly's CDN; refused here, it is hidden (ReDoc drops the image on error) and nobody is
# told that someone opened the docs. Inline script and styles: FastAPI's page bootstrap and
# ReDoc's generated styles.
DOCS_CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self' 'unsafe-inline'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "worker-src 'self' blob:",
        "connect-src 'self'",
        "frame-ancestors 'none'",
    )
)


class HealthResponse(BaseModel):
    """Whether the API can serve: database reachable and its schema current."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"status": "ok", "database": "ok", "migrations": "current", "revision": "0005"}]
        }
    )

    status: Literal["ok", "error"]
    database: Literal["ok", "unreachable"]
    migrations: Literal["current", "outdated", "unknown"]
    revision: str | None


def _head_revision() -> str | None:
    config = Config(str(ALEMBIC_INI))
    config.set_main_option("script_location", str(PROJECT_ROOT / "alembic"))
    return ScriptDirectory.from_config(config).get_current_head()


_PING = text("SELECT 1")
_REVISION = text("SELECT version_num FROM alembic_version")


async def _schema_revision(db: Reader) -> str | None:
    await db.rows(_PING, {})
    try:
        rows = await db.rows(_REVISION, {})
    except SQLAlchemyError:
        return None
    return str(rows[0][0]) if rows else None


_FROZEN = False


def freeze_startup_objects() -> None:
    """Move everything allocated so far out of the garbage collector's reach (once per process).

    The imports and the app are ~150,000 long-lived objects; every full collection walks them
    all, a ~60 ms pause that shows as the API's p99 (see docs/benchmarks.md). Frozen, they are
    never scanned again; objects made later are collected as usual.
    """
    global _FROZEN
    if not _FROZEN:
        _FROZEN = True
        gc.collect()  # free what is already garbage rather than freezing it
        gc.freeze()


def _principal_resolver(database: Database) -> PrincipalResolver:
    """On PostgreSQL, callers are cached per process while a LISTEN connection says nothing changed.

    SQLite (the dev backend) has no NOTIFY: there every request looks its caller up.
    """
    if database.backend != "postgresql":
        return PrincipalResolver()
    args, kwargs = database.engine.dialect.create_connect_args(database.engine.url)
    return PrincipalResolver(PrincipalCache(PrincipalInvalidation((tuple(args), dict(kwargs)))))


def create_app(settings: ApiSettings | None = None, headway: HeadwaySettings | None = None) -> FastAPI:
    """Build the API for `settings` (default: the environment) over the warehouse `headway` names."""
    settings = settings or get_api_settings()
    headway = headway or get_settings().pipeline
    run = BlockingRunner(settings.db_threads)
    database = Database(headway.warehouse_url, settings, run)
    tokens = TokenCodec(settings, data_dir=headway.data_dir)
    configure_cursor_key(derive_cursor_key(tokens.server_secret))  # cursors verify on every worker alike
    state = AppState(
        settings=settings,
        headway=headway,
        db=database,
        tokens=tokens,
        principals=_principal_resolver(database),
        run=run,
    )
    head = _head_revision()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if settings.auto_migrate_sqlite:
            await run_in_threadpool(database.ensure_schema)
        dummy_password_hash()  # made before the first sign-in, so its timing is like every other's
        freeze_startup_objects()
        await state.principals.start()
        yield
        await state.principals.close()
        await database.aclose()

    app = FastAPI(
        title="Headway API",
        version=VERSION,
        description=DESCRIPTION,
        openapi_tags=TAGS,
        docs_url=None,  # served by _serve_docs, from local assets
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=OAUTH2_REDIRECT_URL,
        lifespan=lifespan,
    )
    app.state.headway = state
    install_error_handlers(app)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "If-Match"],
            expose_headers=["ETag"],
            max_age=600,
        )
    for router in ROUTERS:
        app.include_router(router)
    _document_security(app)
    _serve_docs(app)

    @app.get(
        "/health",
        tags=["health"],
        response_model=HealthResponse,
        responses={503: {"model": HealthResponse, "description": "Database unreachable or schema outdated."}},
        summary="Health",
    )
    async def health(app_state: StateDep) -> Any:
        """Liveness, database reachability and whether the schema is at the latest migration."""
        try:
            revision = await _schema_revision(app_state.db.reader)
        except SQLAlchemyError as error:
            LOGGER.warning("health check: database unreachable (%s)", type(error).__name__)
            body = {"status": "error", "database": "unreachable", "migrations": "unknown", "revision": None}
            return JSONResponse(body, status_code=503)
        current = revision is not None and revision == head
        body = {
            "status": "ok" if current else "error",
            "database": "ok",
            "migrations": "current" if current else "outdated",
            "revision": revision,
        }
        return JSONResponse(body, status_code=200 if current else 503)

    return app


def _bearer_operations() -> set[tuple[str, str]]:
    """(path, method) of the operations that take the bearer token: those depending on `get_context`.

    Derived from the routes, so the sign-in, health, Slack callback (signed state) and webhook
    (signature) operations are documented as what they are.
    """

    def uses_token(dependant: Dependant) -> bool:
        return any(d.call is get_context or uses_token(d) for d in dependant.dependencies)

    return {
        (route.path_format, method.lower())  # as OpenAPI names it: `{path}`, not `{path:path}`
        for router in ROUTERS
        for route in router.routes
        if isinstance(route, APIRoute) and uses_token(route.dependant)
        for method in route.methods or ()
    }


def _document_security(app: FastAPI) -> None:
    """Declare the bearer token in OpenAPI (the routes check it in `get_context`, one dependency)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
                tags=app.openapi_tags,
            )
            components = schema.setdefault("components", {})
            components.setdefault("securitySchemes", {})["OAuth2PasswordBearer"] = {
                "type": "oauth2",
                "flows": {"password": {"tokenUrl": TOKEN_URL, "scopes": {}}},
                "description": "POST /v1/auth/token, or `headway tokens mint`; send `Authorization: Bearer <token>`.",
            }
            bearer = _bearer_operations()
            for path, operations in schema.get("paths", {}).items():
                for method, operation in operations.items():
                    if (path, method) in bearer:
                        operation["security"] = [{"OAuth2PasswordBearer": []}]
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _serve_docs(app: FastAPI) -> None:
    """`/docs` (Swagger UI) and `/redoc` (ReDoc) with their scripts, styles and icon served by the app.

    The pages name no other host (no CDN, no web fonts), so they render where the API runs with
    no internet access, and their Content-Security-Policy keeps the scripts from reaching out.
    """
    app.mount(DOCS_ASSETS_URL, StaticFiles(directory=DOCS_ASSETS_DIR), name="docs-assets")

    def local(request: Request, path: str) -> str:
        # Behind a proxy that mounts the API under a prefix, the browser needs that prefix.
        return f"{request.scope.get('root_path', '')}{path}"

    def page(response: HTMLResponse) -> HTMLResponse:
        response.headers["Content-Security-Policy"] = DOCS_CONTENT_SECURITY_POLICY
        return response

    @app.get(DOCS_URL, include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        html = get_swagger_ui_html(
            openapi_url=local(request, app.openapi_url or "/openapi.json"),
            title=f"{app.title} - Swagger UI",
            oauth2_redirect_url=local(request, OAUTH2_REDIRECT_URL),
            swagger_js_url=local(request, f"{DOCS_ASSETS_URL}/swagger-ui-bundle.js"),
            swagger_css_url=local(request, f"{DOCS_ASSETS_URL}/swagger-ui.css"),
            swagger_favicon_url=local(request, f"{DOCS_ASSETS_URL}/favicon.png"),
            # No validator badge: it would ask validator.swagger.io (another host) about the schema.
            swagger_ui_parameters={**(app.swagger_ui_parameters or {}), "validatorUrl": None},
        )
        return page(html)

    @app.get(OAUTH2_REDIRECT_URL, include_in_schema=False)
    async def swagger_ui_oauth2_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get(REDOC_URL, include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        html = get_redoc_html(
            openapi_url=local(request, app.openapi_url or "/openapi.json"),
            title=f"{app.title} - ReDoc",
            redoc_js_url=local(request, f"{DOCS_ASSETS_URL}/redoc.standalone.js"),
            redoc_favicon_url=local(request, f"{DOCS_ASSETS_URL}/favicon.png"),
            with_google_fonts=False,
        )
        return page(html)


_APP: FastAPI | None = None


def __getattr__(name: str) -> FastAPI:
    # `uvicorn headway_api.main:app` reads the attribute; the app is built then, not at import.
    global _APP
    if name != "app":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if _APP is None:
        _APP = create_app()
    return _APP
