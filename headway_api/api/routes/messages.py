"""GET /v1/messages and /v1/messages/{id}."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request, Response

from headway_api.api.deps import Ctx, json_document, parse_query, query_parameters
from headway_api.api.params import id_path
from headway_api.core.errors import not_found
from headway_api.queries.messages import get_message, list_messages
from headway_api.schemas.common import ERROR_RESPONSES, LIST_ERROR_RESPONSES, NOT_FOUND_RESPONSE
from headway_api.schemas.messages import MessageDetail, MessageListParams, MessagePage

router = APIRouter(prefix="/v1/messages", tags=["messages"])


@router.get(
    "",
    response_model=MessagePage,
    responses=LIST_ERROR_RESPONSES,
    openapi_extra=query_parameters(MessageListParams),
    summary="List messages",
)
async def list_messages_route(ctx: Ctx, request: Request) -> Response:
    """The organisation's messages with their tier-1 labels, filtered and paginated by cursor."""
    params = parse_query(request, MessageListParams)
    return json_document(await list_messages(ctx.db, ctx.org_id, params))


@router.get(
    "/{message_id}",
    response_model=MessageDetail,
    responses={**ERROR_RESPONSES, **NOT_FOUND_RESPONSE},
    summary="Get one message",
)
async def get_message_route(ctx: Ctx, message_id: Annotated[int, id_path("The message id.")]) -> Response:
    """One message in full, with its tier-1 label, its feature mentions and its insight."""
    message = await get_message(ctx.db, ctx.org_id, message_id)
    if message is None:
        raise not_found("Message")
    return json_document(message)
