"""The declarative automation condition the AI tiers follow their upstream assets with.

Why not `AutomationCondition.eager()`: for daily partitions it only ever looks at the latest
day, so an on-demand sync or a capped live sync of an earlier day would never flow downstream;
and it waits for every parent, while a day may have Slack messages and no Gmail ones at all.
This condition requests any partition whose parents were updated since it was last handled,
once no parent is still running, and never one already in progress or part of a backfill
(a backfill brings its own downstream assets along).
"""

from __future__ import annotations

import dagster as dg

FOLLOW_UPSTREAM: dg.AutomationCondition = (
    dg.AutomationCondition.any_deps_updated().since_last_handled()
    & ~dg.AutomationCondition.any_deps_in_progress()
    & ~dg.AutomationCondition.in_progress()
    & ~dg.AutomationCondition.backfill_in_progress()
).with_label("follow upstream updates")
