"""The Headway code location: every asset, check, job, schedule, sensor and resource."""

from __future__ import annotations

import os

import dagster as dg

from headway_assets.assets.raw_messages import RAW_MESSAGE_ASSETS
from headway_assets.orchestration.jobs import PIPELINE_JOB
from headway_assets.resources.sources import SourcesResource
from headway_assets.resources.warehouse import WarehouseResource


def _warehouse() -> WarehouseResource:
    # EnvVar keeps the URL (and its password) out of the Dagster UI; unset means the
    # embedded SQLite default.
    if os.environ.get("HEADWAY_DATABASE_URL"):
        return WarehouseResource(database_url=dg.EnvVar("HEADWAY_DATABASE_URL"))
    return WarehouseResource()


defs = dg.Definitions(
    assets=[*RAW_MESSAGE_ASSETS],
    jobs=[PIPELINE_JOB],
    resources={"warehouse": _warehouse(), "sources": SourcesResource()},
)
