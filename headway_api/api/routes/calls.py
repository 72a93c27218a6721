"""Calls: GET /v1/calls (assessed Gong and Fathom calls, filterable by risk level and customer) and
GET /v1/calls/{id} with the reasons, quotes and next steps."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request, Response

from headway_api.api.deps import Ctx, json_document, parse_query, query_parameters
from headway_api.api.params import id_path
from headway_api.core.errors import not_found
from headway_api.queries import calls
from headway_api.schemas.calls import CallDetail, CallListParams, CallPage
from headway_api.schemas.common import ERROR_RESPONSES, LIST_ERROR_RESPONSES, NOT_FOUND_RESPONSE

router = APIRouter(prefix="/v1/calls", tags=["calls"])


@router.get(
    "",
    response_model=CallPage,
    responses=LIST_ERROR_RESPONSES,
    openapi_extra=query_parameters(CallListParams),
    summary="List assessed calls",
)
async def list_calls_route(ctx: Ctx, request: Request) -> Response:
    """The organisation's Gong and Fathom calls with their deal risk, churn risk and expansion potential,
    newest first; filter by level, customer, source and time."""
    params = parse_query(request, CallListParams)
    return json_document(await calls.list_calls(ctx.db, ctx.org_id, params))


@router.get(
    "/{call_id}",
    response_model=CallDetail,
    responses={**ERROR_RESPONSES, **NOT_FOUND_RESPONSE},
    summary="Get one assessed call",
)
async def get_call_route(ctx: Ctx, call_id: Annotated[int, id_path("The call's message id.")]) -> Response:
    """One call with its three levels, the reasons for each (quoting the call verbatim) and its next steps."""
    detail = await calls.get_call(ctx.db, ctx.org_id, call_id)
    if detail is None:
        raise not_found("Call")
    return json_document(detail)
