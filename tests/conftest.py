"""Shared fixtures: a real warehouse on SQLite and on PostgreSQL, and the demo corpus.

PostgreSQL is the server at 127.0.0.1:5432 (override with HEADWAY_TEST_POSTGRES_URL). Each test
session creates a throwaway database and drops it at the end. Without a server the PostgreSQL
half of the suite is skipped, except under CI=true, where a missing server fails the run.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import text

from headway_assets.core.warehouse.database import dispose_engines, get_engine, migrate
from headway_assets.core.warehouse.schema import Base

POSTGRES_SERVER_URL = os.environ.get("HEADWAY_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATASETS = REPO_ROOT.parent / "shared" / "datasets"


def _server_unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"PostgreSQL is required under CI=true but {reason}", pytrace=False)
    pytest.skip(f"PostgreSQL not available ({reason}); set HEADWAY_TEST_POSTGRES_URL")


@pytest.fixture(scope="session")
def postgres_database_url() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test session, dropped afterwards."""
    try:
        admin = psycopg.connect(POSTGRES_SERVER_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as error:
        _server_unavailable(f"connecting to {POSTGRES_SERVER_URL} failed: {error}")
    name = f"headway_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = POSTGRES_SERVER_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        migrate(url)
        yield url
    finally:
        dispose_engines()
        with psycopg.connect(POSTGRES_SERVER_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _truncate_postgres(url: str) -> None:
    tables = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
    with get_engine(url).begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty, migrated warehouse: once on SQLite, once on PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'warehouse.db'}"
        migrate(url)
        return url
    url: str = request.getfixturevalue("postgres_database_url")
    _truncate_postgres(url)
    return url


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the files holding `slow` tests first, the rest after, each group in a fixed order.

    `./dev test` spreads files over workers (pytest-xdist, `--dist loadfile`); a long file handed
    out last would run alone at the end, so the long ones start first and the short ones fill in.
    The slow files go in reverse path order, which starts the longest of all (tests/orchestration's
    Dagster deployment, then the fault tests) first; the order must be the same on every worker.
    """
    slow_files = sorted({item.path for item in items if item.get_closest_marker("slow") is not None}, reverse=True)
    rank = {path: index for index, path in enumerate(slow_files)}
    items.sort(key=lambda item: rank.get(item.path, len(rank)))  # stable: collection order among the rest


# The demo-corpus fixtures (tests/assets/conftest.py) serve the orchestration tests too.
from tests.assets.conftest import demo_corpus, materialize_assets, seeded_warehouse  # noqa: E402, F401
