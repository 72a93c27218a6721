"""GET /v1/messages and /v1/messages/{id}; PATCH and DELETE /v1/messages/{id}/label (a person's label)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request, Response

from headway_api.api.deps import Ctx, json_document, parse_query, query_parameters, require_catalogue_write
from headway_api.api.params import id_path
from headway_api.core.errors import not_found
from headway_api.queries import corrections
from headway_api.queries.messages import get_message, list_messages
from headway_api.schemas.common import (
    ERROR_RESPONSES,
    LIST_ERROR_RESPONSES,
    NOT_FOUND_RESPONSE,
    WRITE_ERROR_RESPONSES,
)
from headway_api.schemas.messages import (
    MessageDetail,
    MessageLabelChange,
    MessageLabelPatch,
    MessageListParams,
    MessagePage,
)

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


@router.patch(
    "/{message_id}/label",
    response_model=MessageLabelChange,
    responses=WRITE_ERROR_RESPONSES,
    summary="Label a message",
)
async def label_message_route(
    ctx: Ctx, message_id: Annotated[int, id_path("The message id.")], body: MessageLabelPatch
) -> Response:
    """Say what a message is. The pipeline keeps a person's label: re-runs, back-fills and a provider
    change never send the message to a model again. Marked `other` (or below relevance 6), its
    mentions leave the catalogue at once; marked feedback, it is extracted on its day's next run.
    The change is recorded in the catalogue's audit trail; DELETE withdraws it."""
    require_catalogue_write(ctx)
    state = ctx.state
    values = body.model_dump(exclude_none=True)
    return json_document(await state.run(corrections.label_message, state.db, ctx.principal, message_id, values))


@router.delete(
    "/{message_id}/label",
    response_model=MessageLabelChange,
    responses=WRITE_ERROR_RESPONSES,
    summary="Withdraw a person's label",
)
async def clear_message_label_route(ctx: Ctx, message_id: Annotated[int, id_path("The message id.")]) -> Response:
    """Withdraw the label a person gave a message: tier-1 labels it again on its day's next run (from
    its cache when it can, at no cost). 404 when no person labelled it."""
    require_catalogue_write(ctx)
    state = ctx.state
    return json_document(await state.run(corrections.clear_message_label, state.db, ctx.principal, message_id))
