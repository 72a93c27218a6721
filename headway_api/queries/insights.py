"""Period insights: the list and one period."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from pydantic import ValidationError
from sqlalchemy import bindparam, select

from headway_api.db import Reader
from headway_api.pagination import AnySelect, SortKey, page_document, page_of, page_params, paginate
from headway_api.schemas.insights import InsightListParams, PeriodInsightContent
from headway_assets.core.warehouse.schema import PeriodInsight

PI = PeriodInsight.__table__.c
INSIGHT_SORTS: dict[str, SortKey] = {
    "-period_start": SortKey(
        "-period_start", (PI.period_start, PI.id), ("datetime", "int"), descending=True, listing="insights"
    ),
    "period_start": SortKey(
        "period_start", (PI.period_start, PI.id), ("datetime", "int"), descending=False, listing="insights"
    ),
}
_COLUMNS = (PI.id, PI.period, PI.period_start, PI.period_end, PI.headline, PI.content, PI.created_at)
_CONDITIONS: dict[str, Any] = {
    "period": lambda: PI.period == bindparam("period"),
    "since": lambda: PI.period_start >= bindparam("since"),
    "until": lambda: PI.period_start < bindparam("until"),
}


@lru_cache(maxsize=64)
def _list_statement(shape: tuple[str, ...], sort_name: str, with_cursor: bool) -> AnySelect:
    query = select(*_COLUMNS).where(PI.org_id == bindparam("org_id"))
    for name in shape:
        query = query.where(_CONDITIONS[name]())
    return paginate(query, INSIGHT_SORTS[sort_name], with_cursor=with_cursor)


def _insight(insight: dict[str, Any]) -> dict[str, Any]:
    content = insight["content"] if isinstance(insight["content"], dict) else {}
    # Validated here, so a malformed document is reported with its id rather than as a bare 500.
    try:
        insight["content"] = PeriodInsightContent.model_validate(content)
    except ValidationError as error:
        # Where and what kind, not the values: they are the organisation's quotes and customers, and this
        # message reaches the server log.
        issues = error.errors()[:5]
        problems = "; ".join(f"{'.'.join(map(str, issue['loc'])) or '<root>'}: {issue['type']}" for issue in issues)
        raise ValueError(f"period_insights row {insight['id']} has malformed content: {problems}") from None
    return insight


async def list_insights(db: Reader, org_id: int, params: InsightListParams) -> dict[str, Any]:
    """One page of the organisation's period insights (a `PeriodInsightPage` document)."""
    sort = INSIGHT_SORTS[params.sort]
    values = params.filters()
    statement = _list_statement(tuple(sorted(values)), params.sort, params.cursor is not None)
    rows = await db.dicts(statement, {"org_id": org_id, **values, **page_params(sort, params.cursor, params.limit)})
    page, next_cursor = page_of(rows, sort, params.limit)
    return page_document([_insight(row) for row in page], next_cursor)


_BY_ID = select(*_COLUMNS).where(PI.id == bindparam("insight_id"), PI.org_id == bindparam("org_id"))


async def get_insight(db: Reader, org_id: int, insight_id: int) -> dict[str, Any] | None:
    """One period insight of the organisation; None if not the org's."""
    row = await db.dict_or_none(_BY_ID, {"insight_id": insight_id, "org_id": org_id})
    return None if row is None else _insight(row)
