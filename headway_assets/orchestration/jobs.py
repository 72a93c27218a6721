"""Jobs: named selections of assets that schedules, sensors and the CLI launch."""

from __future__ import annotations

import dagster as dg

from headway_assets.assets.partitions import DAILY_PARTITIONS

PIPELINE_JOB = dg.define_asset_job(
    name="headway_pipeline",
    selection=dg.AssetSelection.all(),
    partitions_def=DAILY_PARTITIONS,
    description="Every Headway asset for a day or a range of days: ingestion, then the AI tiers.",
)
