"""The one partitioning scheme: UTC days. Tenancy is a column, not a partition."""

from __future__ import annotations

import warnings

import dagster as dg

from headway_assets.core.message import TimeWindow
from headway_assets.core.settings import get_settings

# Backfill policies are what keep a year of days from becoming a year of runs (DESIGN.md);
# Dagster still labels the parameter beta, which would warn on every code-location load.
warnings.filterwarnings("ignore", message=r"Parameter `backfill_policy`", category=dg.BetaWarning)

# end_offset=1 makes today's (still growing) day a partition, so the periodic sync can
# re-materialise it during the day.
DAILY_PARTITIONS = dg.DailyPartitionsDefinition(
    start_date=get_settings().pipeline.partitions_start.isoformat(),
    timezone="UTC",
    end_offset=1,
)


def partition_window(context: dg.AssetExecutionContext) -> TimeWindow:
    """The `[start, end)` window of the run: one day, or a whole backfill range in one run."""
    window = context.partition_time_window
    return TimeWindow(start=window.start, end=window.end)


def partition_label(context: dg.AssetExecutionContext) -> str:
    """`2026-10-01` for one day, `2026-10-01...2026-10-30` for a range."""
    keys = context.partition_key_range
    return keys.start if keys.start == keys.end else f"{keys.start}...{keys.end}"
