"""GET /v1/stats: counts over time for dashboards."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from fastapi import APIRouter, Request, Response

from headway_api.api.deps import Ctx, json_document, parse_query, query_parameters
from headway_api.core.errors import invalid_range
from headway_api.queries.stats import MAX_RANGE_DAYS, get_stats
from headway_api.schemas.common import BAD_REQUEST_RESPONSE, ERROR_RESPONSES
from headway_api.schemas.stats import DEFAULT_DAYS, StatsParams, StatsResponse

router = APIRouter(prefix="/v1/stats", tags=["stats"])


@router.get(
    "",
    response_model=StatsResponse,
    responses={**ERROR_RESPONSES, **BAD_REQUEST_RESPONSE},
    openapi_extra=query_parameters(StatsParams),
    summary="Counts over time",
)
async def get_stats_route(ctx: Ctx, request: Request) -> Response:
    """Messages, feedback, relevant messages and feature mentions over time, by source and category.

    Read from the pre-aggregated daily stats the pipeline refreshes; `refreshed_at` says how fresh.
    """
    params = parse_query(request, StatsParams)
    until = params.until or datetime.now(UTC).date()
    default_span = timedelta(days=DEFAULT_DAYS - 1)
    # Near 0001-01-01 the default range is cut at the first day a date can hold (no OverflowError).
    since = params.since or (until - default_span if until - date.min >= default_span else date.min)
    if until < since:
        raise invalid_range(["query", "until"], "until must not be before since")
    longest = MAX_RANGE_DAYS[params.interval]
    if (until - since).days + 1 > longest:
        raise invalid_range(
            ["query", "since"], f"range too long for interval={params.interval}: at most {longest} days"
        )
    source = params.source or None
    return json_document(await get_stats(ctx.db, ctx.org_id, since, until, params.interval, source, params.category))
