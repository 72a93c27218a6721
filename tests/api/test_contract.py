"""The pipeline-to-API contract: every GET route serves what the pipeline really writes.

The API's own tests seed rows by hand, so nothing held the API to the documents the pipeline
writes (issue 12: `/v1/insights` answered 500 on the demo's own data). Here the demo corpus goes
through every asset, the way `headway demo` runs it (the same job and runner, the offline LLM
provider), and then every GET operation of the app is called with real tokens of each
organisation: each answer must be 200 with a body that its route's response model accepts and
would produce exactly. Routes are enumerated from the app (and cross-checked with the OpenAPI
document), so a new route is covered without editing this file; path parameters are filled
with real ids from the listing above them, and every page of each listing is read.

The warehouse `./dev demo` made can be checked too (a copy of it; nothing is written to it):

    HEADWAY_CONTRACT_WAREHOUSE=data/headway.db .venv/bin/pytest tests/api/test_contract.py -k existing
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import dagster as dg
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from fastapi.testclient import TestClient
from pydantic import TypeAdapter
from sqlalchemy import select

from headway_api.commands import create_user, mint_token
from headway_api.core.security import TokenCodec
from headway_assets.core.warehouse.database import migrate, read_connection, write_transaction
from headway_assets.core.warehouse.schema import Organization
from headway_assets.definitions import defs
from headway_assets.demo import DemoManifest, build_demo_corpus, generate_demo, seed_demo
from headway_assets.orchestration.jobs import PIPELINE_JOB
from headway_assets.orchestration.runner import PipelineRunReport, run_pipeline
from headway_assets.testing.fakes.slack_server import FakeSlackServer
from tests.api.support import app_client, truncate_postgres
from tests.assets.conftest import resources_for

DEMO_START = date(2026, 10, 1)
# Ten days span two ISO weeks and a month: every kind of period insight, rising asks included.
DEMO_DAYS = 10
EXISTING_WAREHOUSE_ENV = "HEADWAY_CONTRACT_WAREHOUSE"
ID_SAMPLE = 25  # detail routes are called for about this many ids of their listing, spread over it, last included
MAX_PAGES = 100  # bound on the pages read from one listing
REDIRECT_URI = "https://headway.example/v1/integrations/slack/callback"


# -- building the warehouse the way `headway demo` does -----------------------------------------


@pytest.fixture(scope="module")
def demo_exports(tmp_path_factory: pytest.TempPathFactory) -> tuple[DemoManifest, Path]:
    """A smaller demo corpus on disk (the generator scales every source with the days)."""
    data_dir = tmp_path_factory.mktemp("contract-data")
    return generate_demo(data_dir / "demo", start=DEMO_START, days=DEMO_DAYS), data_dir


def materialise_everything(database_url: str, data_dir: Path) -> PipelineRunReport:
    """Every asset of the code location over the demo window, in one run of the pipeline job.

    The same job and runner as `headway demo`, with the test warehouse and the offline provider
    bound in place of the environment's resources.
    """
    local = dg.Definitions(assets=defs.assets, jobs=[PIPELINE_JOB], resources=resources_for(database_url, data_dir))
    last = DEMO_START + timedelta(days=DEMO_DAYS - 1)
    with dg.DagsterInstance.ephemeral() as instance:
        return run_pipeline(
            local,
            instance,
            first_partition=DEMO_START.isoformat(),
            last_partition=last.isoformat(),
            refresh_stale=True,
            progress=lambda _line: None,
        )


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def pipeline_warehouse(
    request: pytest.FixtureRequest, demo_exports: tuple[DemoManifest, Path], tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, Path]:
    """The demo corpus through every asset, once per backend: (database URL, data dir)."""
    manifest, data_dir = demo_exports
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('contract') / 'warehouse.db'}"
        migrate(url)
    else:
        url = request.getfixturevalue("postgres_database_url")
        truncate_postgres(url)
    with write_transaction(url) as conn:
        seed_demo(conn, manifest, data_dir=data_dir)
    report = materialise_everything(url, data_dir)
    assert report.success, [step.step_key for step in report.steps if not step.succeeded]
    every_asset = {key.to_user_string() for key in defs.resolve_asset_graph().get_all_asset_keys()}
    assert {step.step_key for step in report.steps if step.succeeded} >= every_asset
    return url, data_dir


# -- calling every GET route --------------------------------------------------------------------


def get_routes(app: FastAPI) -> list[RouteContext]:
    """Every documented GET operation of the app, checked against the OpenAPI document.

    Included routers are walked the way FastAPI builds its OpenAPI document (`iter_route_contexts`),
    so each route has its full path.
    """
    routes = [
        route
        for route in iter_route_contexts(app.routes)
        if isinstance(route.original_route, APIRoute) and "GET" in (route.methods or ()) and route.include_in_schema
    ]
    # `path_format`: the documented path, without convertors (`{customer_id:int}` is `{customer_id}`).
    documented = {path for path, operations in app.openapi()["paths"].items() if "get" in operations}
    assert {route.path_format for route in routes} == documented
    return routes


@dataclass
class OrgCaller:
    """One organisation's real tokens (minted as `headway tokens mint` does) and what it was served."""

    slug: str
    member: dict[str, str]
    admin: dict[str, str]
    served: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # listing path -> its items


def _token(conn: Any, codec: TokenCodec, slug: str, role: str) -> dict[str, str]:
    # A token-only user of the org, created and minted through the CLI's own functions.
    email = f"contract-{role}-{uuid.uuid4().hex[:8]}@{slug}.example"
    create_user(conn, org_slug=slug, email=email, password=None, role=role)
    token = mint_token(conn, codec, email=email, lifetime=timedelta(minutes=30))
    return {"Authorization": f"Bearer {token.access_token}"}


def callers(client: TestClient, database_url: str) -> list[OrgCaller]:
    """A member and an admin of every active organisation in the warehouse."""
    codec: TokenCodec = client.app.state.headway.tokens  # type: ignore[attr-defined]
    with write_transaction(database_url) as conn:
        slugs = conn.execute(select(Organization.slug).where(Organization.is_active).order_by(Organization.id))
        return [
            OrgCaller(slug, member=_token(conn, codec, slug, "member"), admin=_token(conn, codec, slug, "admin"))
            for slug in slugs.scalars().all()
        ]


def assert_valid(route: RouteContext, url: str, response: Any) -> Any:
    """A 200 whose body the route's response model accepts, and would itself produce, exactly."""
    assert response.status_code == 200, f"GET {url} answered {response.status_code}: {response.text[:500]}"
    adapter: TypeAdapter[Any] = TypeAdapter(route.response_model)
    model = adapter.validate_json(response.content, strict=True)
    # Round trip: no undeclared field, no field the model has that the body lacks.
    assert adapter.dump_python(model, mode="json", by_alias=True) == response.json(), f"GET {url}"
    return response.json()


def read_listing(client: TestClient, route: RouteContext, headers: dict[str, str]) -> list[dict[str, Any]]:
    """Every page of a listing route (or the one answer of a plain route), each validated; its items."""
    items: list[dict[str, Any]] = []
    params: dict[str, str] = {}
    for _ in range(MAX_PAGES):
        body = assert_valid(route, route.path_format, client.get(route.path_format, params=params, headers=headers))
        if not isinstance(body, dict) or "items" not in body:
            return items
        items.extend(body["items"])
        if body.get("next_cursor") is None:
            return items
        params = {"cursor": body["next_cursor"]}
    return items


def _spread(ids: list[Any]) -> list[Any]:
    step = max(1, len(ids) // ID_SAMPLE)
    return ids[::step][:ID_SAMPLE] + ([ids[-1]] if len(ids) > ID_SAMPLE else [])


def call_detail_route(client: TestClient, route: RouteContext, org: OrgCaller) -> int:
    """Call a route with one path parameter for ids the listing above it served; the calls made."""
    names = route.param_convertors.keys()
    assert len(names) == 1, f"{route.path_format}: teach the contract test to fill more than one path parameter"
    (name,) = names
    listing = route.path_format.partition("{")[0].rstrip("/")
    assert listing in org.served, f"{route.path_format}: no listing {listing} to take its {name} from"
    ids = [item["id"] for item in org.served[listing]]
    assert ids, f"{listing} is empty for {org.slug}, so {route.path_format} cannot be checked"
    for value in _spread(ids):
        url = route.path_format.replace(f"{{{name}}}", str(value))
        body = assert_valid(route, url, client.get(url, headers=org.member))
        if isinstance(body, dict) and "id" in body:
            assert body["id"] == value, url
    return len(_spread(ids))


@dataclass
class SlackApp:
    """The Slack app's settings pointed at a local fake, so the install round trip can complete."""

    server: FakeSlackServer
    codes: int = 0

    def install(self, client: TestClient, route: RouteContext, org: OrgCaller) -> int:
        # Only an admin may start an install.
        assert_valid(route, route.path_format, client.get(route.path_format, headers=org.admin))
        return 1

    def callback(self, client: TestClient, route: RouteContext, org: OrgCaller) -> int:
        # Slack sends the admin's browser back with a code and the state the install signed.
        started = client.get("/v1/integrations/slack/install", headers=org.admin).json()
        state = parse_qs(urlsplit(started["authorize_url"]).query)["state"][0]
        self.codes += 1
        code = f"contract-code-{self.codes}"
        self.server.register_code(code, redirect_uri=REDIRECT_URI)
        url = f"{route.path_format}?code={code}&state={state}"
        assert_valid(route, url, client.get(route.path_format, params={"code": code, "state": state}))
        return 1


Caller = Callable[[TestClient, RouteContext, OrgCaller], int]


def check_contract(database_url: str, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Call every GET route for every organisation of the warehouse; the calls made per route."""
    corpus = build_demo_corpus(days=1)
    with FakeSlackServer(corpus.orgs[0].slack) as fake, app_client(database_url, data_dir) as client:
        monkeypatch.setenv("SLACK_CLIENT_ID", fake.client_id)
        monkeypatch.setenv("SLACK_CLIENT_SECRET", fake.client_secret)
        monkeypatch.setenv("SLACK_REDIRECT_URI", REDIRECT_URI)
        monkeypatch.setenv("SLACK_API_BASE_URL", fake.api_url)
        slack = SlackApp(fake)
        # Routes that need more than a member's token (each says why above).
        special: dict[str, Caller] = {
            "/v1/integrations/slack/install": slack.install,
            "/v1/integrations/slack/callback": slack.callback,
        }
        routes = get_routes(client.app)  # type: ignore[arg-type]
        assert set(special) <= {route.path_format for route in routes}, "a special case names a route that is gone"
        calls = {route.path_format: 0 for route in routes}
        orgs = callers(client, database_url)
        assert orgs, "the warehouse has no organisation"
        for org in orgs:
            # A PM asks for a sync, so the sync-request routes have something to serve.
            asked = client.post(
                "/v1/sync-requests",
                json={"source": "slack", "first_day": DEMO_START.isoformat(), "last_day": DEMO_START.isoformat()},
                headers=org.member,
            )
            assert asked.status_code in (200, 202), asked.text
            # ... and subscribes a Slack channel, so the subscription routes have something to serve.
            subscribed = client.post(
                "/v1/notifications/subscriptions", json={"channel_id": "C0CONTRACT01"}, headers=org.member
            )
            assert subscribed.status_code == 201, subscribed.text
            plain = [route for route in routes if not route.param_convertors and route.path_format not in special]
            for route in plain:
                org.served[route.path_format] = read_listing(client, route, org.member)
                calls[route.path_format] += 1
            for route in routes:
                if route.path_format in special:
                    calls[route.path_format] += special[route.path_format](client, route, org)
                elif route.param_convertors:
                    calls[route.path_format] += call_detail_route(client, route, org)
    assert all(calls.values()), {path: n for path, n in calls.items() if not n}
    return calls


@pytest.mark.slow
def test_every_get_route_serves_what_the_pipeline_wrote(
    pipeline_warehouse: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, data_dir = pipeline_warehouse
    calls = check_contract(url, data_dir, monkeypatch)
    # The routes this was written against are among those called (a rename would show here).
    assert {"/v1/insights", "/v1/insights/{insight_id}", "/v1/messages/{message_id}", "/v1/stats"} <= set(calls)


@pytest.fixture
def existing_warehouse(tmp_path: Path) -> Iterator[str]:
    """A copy of the SQLite warehouse named by HEADWAY_CONTRACT_WAREHOUSE (e.g. after `./dev demo`)."""
    source = os.environ.get(EXISTING_WAREHOUSE_ENV)
    if not source:
        pytest.skip(f"set {EXISTING_WAREHOUSE_ENV} to a SQLite warehouse file, e.g. data/headway.db after ./dev demo")
    path = Path(source).expanduser()
    assert path.is_file(), f"{EXISTING_WAREHOUSE_ENV}={source}: no such file"
    copy = tmp_path / "warehouse.db"
    # SQLite's backup API: a consistent copy even while the pipeline writes to the original.
    with sqlite3.connect(f"file:{path.resolve()}?mode=ro", uri=True) as original, sqlite3.connect(copy) as target:
        original.backup(target)
    url = f"sqlite:///{copy}"
    migrate(url)  # the API serves only a schema at the latest migration, as `./dev api` ensures
    yield url


def test_every_get_route_serves_an_existing_warehouse(
    existing_warehouse: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with read_connection(existing_warehouse) as conn:
        assert conn.execute(select(Organization.id)).first() is not None, "run ./dev demo first"
    calls = check_contract(existing_warehouse, tmp_path, monkeypatch)
    assert calls["/v1/insights"] >= 1
