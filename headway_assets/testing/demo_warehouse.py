"""The demo corpus's 30 days of raw messages in a fresh SQLite warehouse: what the LLM benchmarks
(`scripts/bench_llm.py`, `scripts/bench_batch.py`) start from, before any AI output."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import dagster as dg

from headway_assets.assets.raw_messages import RAW_MESSAGE_ASSETS
from headway_assets.core.warehouse.database import dispose_engines, migrate, write_transaction
from headway_assets.demo import generate_demo, seed_demo
from headway_assets.resources.sources import SourcesResource
from headway_assets.resources.warehouse import WarehouseResource

FIRST_DAY, LAST_DAY = "2026-10-01", "2026-10-30"
# The run tags of one single-run backfill over every demo day.
RANGE_TAGS = {"dagster/asset_partition_range_start": FIRST_DAY, "dagster/asset_partition_range_end": LAST_DAY}


def prepare_raw(workdir: Path) -> Path:
    """A SQLite warehouse (`workdir/raw.db`) holding the 30 demo days of raw messages."""
    database = workdir / "raw.db"
    url = f"sqlite:///{database}"
    migrate(url)
    manifest = generate_demo(workdir / "demo", start=date.fromisoformat(FIRST_DAY), days=30)
    with write_transaction(url) as conn:
        seed_demo(conn, manifest, data_dir=workdir)
    dg.materialize(
        RAW_MESSAGE_ASSETS,
        tags=RANGE_TAGS,
        resources={"warehouse": WarehouseResource(database_url=url), "sources": SourcesResource(data_dir=str(workdir))},
        instance=dg.DagsterInstance.ephemeral(),
    )
    dispose_engines()
    return database
