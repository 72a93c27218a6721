"""Fixtures of the read API tests: a seeded warehouse of two organisations, the app, and tokens.

Read-only tests share one seeded warehouse per backend and module (`warehouse`, `api`); tests that
write (sign-in attempts, sync requests, users) use the root `database_url` fixture and seed what
they need. Every row goes in through SQLAlchemy Core into the real tables.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from headway_api.main import create_app
from headway_assets.core.settings import HeadwaySettings
from headway_assets.core.warehouse.database import migrate
from tests.api.support import (
    People,
    Warehouse,
    api_settings,
    bearer,
    seed_people,
    seed_warehouse,
    truncate_postgres,
)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def warehouse(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    """Two seeded organisations, once per backend, shared by a module's read-only tests."""
    folder = tmp_path_factory.mktemp("warehouse")
    if request.param == "sqlite":
        url = f"sqlite:///{folder / 'warehouse.db'}"
        migrate(url)
    else:
        url = request.getfixturevalue("postgres_database_url")
        truncate_postgres(url)
    return Warehouse(url=url, seed=seed_warehouse(url), data_dir=folder)


@pytest.fixture(scope="module")
def api(warehouse: Warehouse) -> Iterator[TestClient]:
    """The API over the shared seeded warehouse."""
    app = create_app(api_settings(), HeadwaySettings(database_url=warehouse.url, data_dir=warehouse.data_dir))
    with TestClient(app) as client:
        yield client


@pytest.fixture(scope="module")
def headers_a(api: TestClient, warehouse: Warehouse) -> dict[str, str]:
    """A token of organisation A's member."""
    return bearer(api, warehouse.seed.a.user_id, warehouse.seed.a.slug)


@pytest.fixture(scope="module")
def headers_b(api: TestClient, warehouse: Warehouse) -> dict[str, str]:
    """A token of organisation B's member."""
    return bearer(api, warehouse.seed.b.user_id, warehouse.seed.b.slug)


@pytest.fixture
def people(database_url: str) -> People:
    """`seed_people` in the test's own warehouse."""
    return seed_people(database_url)


@pytest.fixture(scope="session", autouse=True)
def _cheap_password_hashing() -> Iterator[None]:
    # Real argon2id, with the library's cheapest parameters: the default costs ~0.2 s a hash here.
    from argon2 import profiles

    from headway_api.core.security import configure_password_hashing

    configure_password_hashing(profiles.CHEAPEST)
    yield
    configure_password_hashing(profiles.RFC_9106_LOW_MEMORY)


@pytest.fixture
def sqlite_people(tmp_path: Path) -> tuple[str, People]:
    """`seed_people` in an SQLite warehouse only: for tests that wait on the clock, once is enough."""
    url = f"sqlite:///{tmp_path / 'clock.db'}"
    migrate(url)
    return url, seed_people(url)
