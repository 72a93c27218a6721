"""The Headway code location: every asset, check, job, schedule, sensor and resource."""

from __future__ import annotations

import dagster as dg

from headway_assets.assets.call_insights import call_insights
from headway_assets.assets.daily_stats import daily_message_stats
from headway_assets.assets.feature_catalog import feature_catalog
from headway_assets.assets.feature_mentions import feature_mentions
from headway_assets.assets.insights import insights, message_insights
from headway_assets.assets.message_authors import message_authors
from headway_assets.assets.message_labels import message_labels
from headway_assets.assets.raw_messages import RAW_MESSAGE_ASSETS
from headway_assets.core.settings import export_environment, get_settings
from headway_assets.orchestration.executors import pipeline_executor
from headway_assets.orchestration.jobs import CATALOGUE_REBUILD_JOB, PIPELINE_JOB, RAW_SYNC_JOB
from headway_assets.orchestration.schedules import build_schedules
from headway_assets.orchestration.sensors import SENSORS
from headway_assets.resources.llm import LlmResource
from headway_assets.resources.sources import SourcesResource
from headway_assets.resources.warehouse import WarehouseResource


def _warehouse() -> WarehouseResource:
    # EnvVar keeps the URL (and its password) out of the Dagster UI; unset means the
    # embedded SQLite default.
    url = get_settings().pipeline.database_url
    if url:
        export_environment({"HEADWAY_DATABASE_URL": url})  # so a URL from .env resolves through EnvVar too
        return WarehouseResource(database_url=dg.EnvVar("HEADWAY_DATABASE_URL"))
    return WarehouseResource()


defs = dg.Definitions(
    assets=[
        *RAW_MESSAGE_ASSETS,
        message_authors,
        message_labels,
        feature_mentions,
        feature_catalog,
        message_insights,
        insights,
        call_insights,
        daily_message_stats,
    ],
    jobs=[PIPELINE_JOB, RAW_SYNC_JOB, CATALOGUE_REBUILD_JOB],
    schedules=build_schedules(),
    sensors=SENSORS,
    resources={"warehouse": _warehouse(), "sources": SourcesResource(), "llm": LlmResource()},
    executor=pipeline_executor(),
)
