"""The floor of the backfill benchmark: Headway's asset graph with the same partitions, backfill
policies and dependencies, whose assets do nothing. What is left is Dagster's own cost."""

import dagster as dg

from headway_assets.assets.partitions import DAILY_PARTITIONS

SINGLE_RUN = dg.BackfillPolicy.single_run()
SOURCES = ("slack", "gmail", "gong", "fathom")


def _daily(name: str, deps: list[str]) -> dg.AssetsDefinition:
    @dg.asset(name=name, deps=deps, partitions_def=DAILY_PARTITIONS, backfill_policy=SINGLE_RUN, group_name="floor")
    def _noop() -> None:
        """Does nothing."""

    return _noop


RAW = [_daily(f"raw_{source}_messages", []) for source in SOURCES]
LABELS = _daily("message_labels", [f"raw_{source}_messages" for source in SOURCES])
MENTIONS = _daily("feature_mentions", ["message_labels"])
INSIGHTS = _daily("message_insights", ["feature_mentions"])
STATS = _daily("daily_message_stats", ["feature_mentions"])


@dg.asset(name="feature_catalog", deps=["feature_mentions"], group_name="floor")
def feature_catalog() -> None:
    """Does nothing."""


@dg.asset(name="insights", deps=["feature_catalog", "message_insights"], group_name="floor")
def insights() -> None:
    """Does nothing."""


defs = dg.Definitions(assets=[*RAW, LABELS, MENTIONS, INSIGHTS, STATS, feature_catalog, insights])
