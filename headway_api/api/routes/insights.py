"""GET /v1/insights and /v1/insights/{id}: period insights."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request, Response

from headway_api.api.deps import Ctx, json_document, parse_query, query_parameters
from headway_api.api.params import id_path
from headway_api.core.errors import not_found
from headway_api.queries.insights import get_insight, list_insights
from headway_api.schemas.common import ERROR_RESPONSES, LIST_ERROR_RESPONSES, NOT_FOUND_RESPONSE
from headway_api.schemas.insights import InsightListParams, PeriodInsightOut, PeriodInsightPage

router = APIRouter(prefix="/v1/insights", tags=["insights"])


@router.get(
    "",
    response_model=PeriodInsightPage,
    responses=LIST_ERROR_RESPONSES,
    openapi_extra=query_parameters(InsightListParams),
    summary="List period insights",
)
async def list_insights_route(ctx: Ctx, request: Request) -> Response:
    """Top, new and rising asks per week or month, newest period first."""
    params = parse_query(request, InsightListParams)
    return json_document(await list_insights(ctx.db, ctx.org_id, params))


@router.get(
    "/{insight_id}",
    response_model=PeriodInsightOut,
    responses={**ERROR_RESPONSES, **NOT_FOUND_RESPONSE},
    summary="Get one period insight",
)
async def get_insight_route(ctx: Ctx, insight_id: Annotated[int, id_path("The insight id.")]) -> Response:
    """One period's insights."""
    insight = await get_insight(ctx.db, ctx.org_id, insight_id)
    if insight is None:
        raise not_found("Insight")
    return json_document(insight)
