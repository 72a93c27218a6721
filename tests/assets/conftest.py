"""Fixtures for asset tests: the demo corpus on disk and a warehouse seeded with it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from headway_assets.core.warehouse.database import write_transaction
from headway_assets.demo import DemoManifest, generate_demo, seed_demo
from headway_assets.resources.llm import LlmResource
from headway_assets.resources.sources import SourcesResource
from headway_assets.resources.warehouse import WarehouseResource
from headway_assets.testing.fakes.headway_responder import headway_responder
from headway_assets.testing.fakes.llm_servers import DEFAULT_ANTHROPIC_KEY, FakeAnthropicServer

DEMO_START = date(2026, 10, 1)
DEMO_DAYS = 30


@pytest.fixture(scope="session")
def demo_corpus(tmp_path_factory: pytest.TempPathFactory) -> DemoManifest:
    """The demo corpus, generated once per test session."""
    return generate_demo(tmp_path_factory.mktemp("demo"), start=DEMO_START, days=DEMO_DAYS)


@pytest.fixture
def seeded_warehouse(database_url: str, demo_corpus: DemoManifest, tmp_path: Path) -> str:
    """A migrated warehouse holding the demo organisations and their export connections."""
    with write_transaction(database_url) as conn:
        seed_demo(conn, demo_corpus, data_dir=tmp_path)
    return database_url


def resources_for(database_url: str, data_dir: Path, **llm: Any) -> dict[str, Any]:
    """Resources bound to a test warehouse (offline provider unless overridden)."""
    return {
        "warehouse": WarehouseResource(database_url=database_url),
        "sources": SourcesResource(data_dir=str(data_dir)),
        "llm": LlmResource(**({"provider": "offline"} | llm)),
    }


MaterializeFn = Callable[..., dg.ExecuteInProcessResult]


@pytest.fixture
def materialize_assets(tmp_path: Path) -> MaterializeFn:
    """Materialise assets for one partition or a range, on an ephemeral instance."""

    def run(
        assets: list[Any],
        database_url: str,
        *,
        partition: str | None = None,
        first: str | None = None,
        last: str | None = None,
        instance: dg.DagsterInstance | None = None,
        selection: Any = None,
        raise_on_error: bool = True,
        tags: dict[str, str] | None = None,
        run_config: dict[str, Any] | None = None,
        **llm: Any,
    ) -> dg.ExecuteInProcessResult:
        tags = dict(tags or {})
        if first and last:
            tags |= {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last}
        return dg.materialize(
            assets,
            partition_key=partition,
            tags=tags,
            resources=resources_for(database_url, tmp_path, **llm),
            instance=instance or dg.DagsterInstance.ephemeral(),
            selection=selection,
            raise_on_error=raise_on_error,
            run_config=run_config,
        )

    return run


@pytest.fixture
def anthropic_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeAnthropicServer]:
    """The fake Anthropic API answering as Headway's prompts expect, with its key in the environment."""
    with FakeAnthropicServer(responder=headway_responder) as server:
        monkeypatch.setenv("ANTHROPIC_API_KEY", DEFAULT_ANTHROPIC_KEY)
        yield server
