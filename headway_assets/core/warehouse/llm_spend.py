"""LLM spend per organisation: monthly budgets, and spend per month for the API.

Spend is what `llm_usage` records at list prices (llm/pricing.py). A run works for several
organisations at once, so the AI assets share each run's spend out by every organisation's share
of the items it sent (`org_id` on the rows). An organisation's monthly budget is
`organizations.settings["llm_monthly_budget_usd"]` when set (`headway orgs budget`), else
`HEADWAY_LLM_MONTHLY_BUDGET_USD`; 0 or unset means no limit. A stored budget that is no number of 0
or more takes the default too (`core.org_settings.applied_monthly_budget`, the rule the read API
shows). Months are calendar months in UTC.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, func, select

from headway_assets.core.org_settings import BUDGET_SETTING, Applied, applied_monthly_budget
from headway_assets.core.warehouse.schema import LlmUsage, Organization


def month_start(now: datetime | None = None) -> datetime:
    """The first instant of `now`'s calendar month (UTC)."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


@dataclass(frozen=True)
class OverBudget:
    """An organisation that spent its monthly budget: no more AI work for it this month."""

    org_id: int
    spent_usd: float
    budget_usd: float

    def reason(self) -> str:
        """Why its items were left pending (for logs and metadata; no customer data)."""
        return (
            f"organisation {self.org_id} spent ${self.spent_usd:.4f} of its ${self.budget_usd:g} monthly LLM budget; "
            "its items stay pending until next month or a higher budget (headway orgs budget)"
        )


def applied_budgets(conn: Connection, org_ids: Iterable[int], default_usd: float) -> dict[int, Applied]:
    """Each organisation's monthly budget in USD as applied (0 = no limit), with the reason when its
    stored budget is invalid and `default_usd` applies instead."""
    ids = sorted(set(org_ids))
    if not ids:
        return {}
    return {
        org_id: applied_monthly_budget((settings or {}).get(BUDGET_SETTING), default_usd)
        for org_id, settings in conn.execute(
            select(Organization.id, Organization.settings).where(Organization.id.in_(ids))
        )
    }


def monthly_budgets(conn: Connection, org_ids: Iterable[int], default_usd: float) -> dict[int, float]:
    """Each organisation's monthly budget in USD (0 = no limit)."""
    return {org_id: float(applied.value) for org_id, applied in applied_budgets(conn, org_ids, default_usd).items()}


def month_to_date_spend(conn: Connection, org_ids: Iterable[int], now: datetime | None = None) -> dict[int, float]:
    """USD each organisation's AI work cost since the start of the month."""
    ids = sorted(set(org_ids))
    if not ids:
        return {}
    rows = conn.execute(
        select(LlmUsage.org_id, func.coalesce(func.sum(LlmUsage.cost_usd), 0.0))
        .where(LlmUsage.org_id.in_(ids), LlmUsage.created_at >= month_start(now))
        .group_by(LlmUsage.org_id)
    )
    spent = {org_id: 0.0 for org_id in ids}
    spent.update({int(org_id): float(total) for org_id, total in rows})
    return spent


def over_budget(
    conn: Connection, org_ids: Iterable[int], default_usd: float, now: datetime | None = None
) -> dict[int, OverBudget]:
    """The organisations among `org_ids` that spent their monthly budget."""
    ids = sorted(set(org_ids))
    budgets = {org_id: budget for org_id, budget in monthly_budgets(conn, ids, default_usd).items() if budget > 0}
    if not budgets:
        return {}
    spent = month_to_date_spend(conn, budgets, now)
    return {
        org_id: OverBudget(org_id, spent[org_id], budget)
        for org_id, budget in budgets.items()
        if spent[org_id] >= budget
    }


# What a month of spend adds up, in `LlmSpendMonth`'s field order (after `month`).
SPEND_COUNTS = ("calls", "cache_hits", "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")
SPEND_COLUMNS = (
    LlmUsage.created_at,
    LlmUsage.calls,
    LlmUsage.cache_hits,
    LlmUsage.input_tokens,
    LlmUsage.output_tokens,
    LlmUsage.cache_read_tokens,
    LlmUsage.cache_write_tokens,
    LlmUsage.cost_usd,
)


def spend_per_month(rows: Iterable[Sequence[Any]]) -> list[dict[str, Any]]:
    """`llm_usage` rows (the values of `SPEND_COLUMNS`, in order) added up per calendar month (UTC),
    oldest first."""
    months: dict[str, dict[str, Any]] = {}
    for created, *counts, cost in rows:
        created = created if created.tzinfo else created.replace(tzinfo=UTC)
        month = created.astimezone(UTC).strftime("%Y-%m")
        total = months.get(month)
        if total is None:
            total = months[month] = {"month": month, **dict.fromkeys(SPEND_COUNTS, 0), "cost_usd": 0.0}
        for key, value in zip(SPEND_COUNTS, counts, strict=True):
            total[key] += int(value or 0)
        total["cost_usd"] += float(cost or 0.0)
    for total in months.values():
        total["cost_usd"] = round(total["cost_usd"], 6)
    return [months[month] for month in sorted(months)]
