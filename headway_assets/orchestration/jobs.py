"""Jobs: named selections of assets that schedules, sensors and the CLI launch."""

from __future__ import annotations

import dagster as dg

# The group name is the assets' own; the raw sync job selects by it.
from headway_assets.assets.raw_messages import INGESTION_GROUP

PIPELINE_JOB = dg.define_asset_job(
    name="headway_pipeline",
    selection=dg.AssetSelection.all(),
    description="Every Headway asset for a day or a range of days: ingestion, then the AI tiers.",
)

RAW_SYNC_JOB = dg.define_asset_job(
    name="raw_sync",
    selection=dg.AssetSelection.groups(INGESTION_GROUP),
    description="The raw message assets of the sources chosen per run; the AI tiers follow by automation.",
)

SYNC_REQUEST_TAG = "headway/sync_request_id"

CATALOGUE_REBUILD_JOB = dg.define_asset_job(
    name="catalogue_rebuild",
    selection=dg.AssetSelection.assets("feature_catalog"),
    description="Rebuild the catalogue of feature requests from all mentions, after a change of matching rule, "
    "model or provider. People's corrections (pins, merges, renames, status) are kept. Set `orgs` in the "
    "launchpad to rebuild only some organisations.",
    config={"ops": {"feature_catalog": {"config": {"rebuild": True, "orgs": []}}}},
)
