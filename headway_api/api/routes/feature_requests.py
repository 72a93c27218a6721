"""GET /v1/feature-requests, /v1/feature-requests/{id} and its /mentions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from headway_api.api.deps import Ctx, json_document, parse_query, query_parameters
from headway_api.api.params import id_path
from headway_api.core.errors import not_found
from headway_api.queries.feature_requests import (
    get_feature_request,
    list_feature_request_mentions,
    list_feature_requests,
)
from headway_api.schemas.common import ERROR_RESPONSES, LIST_ERROR_RESPONSES, NOT_FOUND_RESPONSE
from headway_api.schemas.feature_requests import (
    FeatureRequestDetail,
    FeatureRequestListParams,
    FeatureRequestMentionPage,
    FeatureRequestPage,
    MentionListParams,
)

router = APIRouter(prefix="/v1/feature-requests", tags=["feature requests"])


@router.get(
    "",
    response_model=FeatureRequestPage,
    responses=LIST_ERROR_RESPONSES,
    openapi_extra=query_parameters(FeatureRequestListParams),
    summary="List feature requests",
)
async def list_feature_requests_route(ctx: Ctx, request: Request) -> Response:
    """The organisation's catalogue with mention counts, customers and trend."""
    params = parse_query(request, FeatureRequestListParams)
    return json_document(await list_feature_requests(ctx.db, ctx.org_id, params))


@router.get(
    "/{feature_request_id}",
    response_model=FeatureRequestDetail,
    responses={**ERROR_RESPONSES, **NOT_FOUND_RESPONSE},
    summary="Get one feature request with its mentions",
)
async def get_feature_request_route(
    ctx: Ctx,
    feature_request_id: Annotated[int, id_path("The feature request id.")],
    mentions_limit: Annotated[int, Query(ge=1, le=100, description="Mentions to include, newest first.")] = 20,
) -> Response:
    """One feature request with its newest mentions and their evidence quotes, each linking to its message."""
    detail = await get_feature_request(ctx.db, ctx.org_id, feature_request_id, mentions_limit)
    if detail is None:
        raise not_found("Feature request")
    return json_document(detail)


@router.get(
    "/{feature_request_id}/mentions",
    response_model=FeatureRequestMentionPage,
    responses={**LIST_ERROR_RESPONSES, **NOT_FOUND_RESPONSE},
    openapi_extra=query_parameters(MentionListParams),
    summary="List a feature request's mentions",
)
async def list_feature_request_mentions_route(
    ctx: Ctx, request: Request, feature_request_id: Annotated[int, id_path("The feature request id.")]
) -> Response:
    """Every mention of a feature request with its evidence quote, paginated by cursor."""
    params = parse_query(request, MentionListParams)
    page = await list_feature_request_mentions(ctx.db, ctx.org_id, feature_request_id, params)
    if page is None:
        raise not_found("Feature request")
    return json_document(page)
