"""The catalogue: GET /v1/feature-requests, one request, its /mentions and /history, and the triage
writes (PATCH a request, merge two, move a mention)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response

from headway_api.api.deps import Ctx, json_document, parse_query, query_parameters, require_catalogue_write
from headway_api.api.params import id_path
from headway_api.core.errors import ApiError, invalid_parameter, not_found, unknown_filter_values
from headway_api.queries import corrections
from headway_api.queries.feature_requests import (
    get_feature_request,
    list_feature_request_mentions,
    list_feature_requests,
    unknown_filters,
)
from headway_api.schemas.common import (
    ERROR_RESPONSES,
    LIST_ERROR_RESPONSES,
    NOT_FOUND_RESPONSE,
    WRITE_ERROR_RESPONSES,
    ErrorResponse,
)
from headway_api.schemas.feature_requests import (
    AuditListParams,
    AuditPage,
    CatalogueChange,
    FeatureRequestDetail,
    FeatureRequestListParams,
    FeatureRequestMentionPage,
    FeatureRequestPage,
    FeatureRequestPatch,
    FeatureRequestSummary,
    MentionListParams,
    MergeBody,
    MoveBody,
)

router = APIRouter(prefix="/v1/feature-requests", tags=["feature requests"])


@router.get(
    "",
    response_model=FeatureRequestPage,
    responses={
        **LIST_ERROR_RESPONSES,
        400: {
            "model": ErrorResponse,
            "description": "`invalid_cursor`: a cursor this API did not issue for this list and sort;"
            " `unknown_value`: a `segment`, `plan`, `deal_stage` or `customer_id` no customer of your organisation"
            " has (another organisation's ids included).",
        },
    },
    openapi_extra=query_parameters(FeatureRequestListParams),
    summary="List feature requests",
)
async def list_feature_requests_route(ctx: Ctx, request: Request) -> Response:
    """The organisation's catalogue with mention counts, customers and trend."""
    params = parse_query(request, FeatureRequestListParams)
    unknown = await unknown_filters(ctx.db, ctx.org_id, params)
    if unknown:
        raise unknown_filter_values(unknown)
    return json_document(await list_feature_requests(ctx.db, ctx.org_id, params))


@router.get(
    "/{feature_request_id}",
    response_model=FeatureRequestDetail,
    responses={**ERROR_RESPONSES, **NOT_FOUND_RESPONSE},
    response_description="The request; its `ETag` header is its version, for `If-Match` on PATCH.",
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
    response = json_document(detail)
    response.headers["ETag"] = etag(detail["version"])
    return response


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


# --- Triage ------------------------------------------------------------------------------------

ETAG_HEADER = {
    "ETag": {"description": "The request's version, quoted: send it back in `If-Match`.", "schema": {"type": "string"}}
}


def etag(version: int) -> str:
    """The ETag of a request at `version` (a strong validator: versions never repeat)."""
    return f'"{version}"'


def expected_version(if_match: str | None, body_version: int | None) -> int | None:
    """The version a PATCH was made against: `If-Match` (an ETag, or `*` for any), else the body's
    `version`; neither is a 428. None means any version (`If-Match: *`)."""
    if if_match is None:
        if body_version is None:
            raise ApiError(
                428,
                "precondition_required",
                'Send the version you read: an `If-Match: "<version>"` header (the ETag of GET'
                " /v1/feature-requests/{id}) or `version` in the body.",
            )
        return body_version
    value = if_match.strip()
    if value == "*":
        return None
    value = value.removeprefix("W/").strip('"')
    if not value.isdigit() or len(value) > 18:
        raise ApiError(
            412, "precondition_failed", "`If-Match` does not name a version of this request; GET it for its ETag."
        )
    version = int(value)
    if body_version is not None and body_version != version:
        raise invalid_parameter(["body", "version"], "`version` and `If-Match` name different versions")
    return version


@router.patch(
    "/{feature_request_id}",
    response_model=FeatureRequestSummary,
    responses={
        **WRITE_ERROR_RESPONSES,
        200: {"description": "The request as it is now.", "headers": ETAG_HEADER},
        412: {"model": ErrorResponse, "description": "Someone changed the request since the version you sent."},
        428: {"model": ErrorResponse, "description": "No `If-Match` header and no `version` in the body."},
    },
    summary="Triage a feature request",
)
async def patch_feature_request_route(
    ctx: Ctx,
    feature_request_id: Annotated[int, id_path("The feature request id.")],
    body: FeatureRequestPatch,
    if_match: Annotated[
        str | None,
        Header(alias="If-Match", max_length=64, description='The ETag you read (`"3"`), or `*` for any version.'),
    ] = None,
) -> Response:
    """Set status, owner, title, description, theme or sub-theme. Omitted fields stay; `owner`,
    `theme` and `sub_theme` may be set to null. A person's title or description, and a person's
    theme or sub-theme, are kept by the pipeline from then on. Every change bumps `version` (the
    `ETag`) and is recorded in the request's history."""
    require_catalogue_write(ctx)
    changes: dict[str, Any] = {name: getattr(body, name) for name in body.model_fields_set if name != "version"}
    for name in ("status", "title"):
        if name in changes and changes[name] is None:
            raise invalid_parameter(["body", name], f"{name} cannot be null")
    if changes.get("description", "") is None:
        changes["description"] = ""
    version = expected_version(if_match, body.version)
    state = ctx.state
    document = await state.run(corrections.patch_request, state.db, ctx.principal, feature_request_id, changes, version)
    response = json_document(document)
    response.headers["ETag"] = etag(document["version"])
    return response


@router.post(
    "/{feature_request_id}/merge",
    response_model=CatalogueChange,
    responses=WRITE_ERROR_RESPONSES,
    summary="Merge a feature request into another",
)
async def merge_feature_request_route(
    ctx: Ctx, feature_request_id: Annotated[int, id_path("The request to merge away.")], body: MergeBody
) -> Response:
    """Every mention of this request moves into `into` (pinned there: the pipeline keeps them), and
    this request becomes a tombstone: hidden from listings, its GET shows `merged_into`. Refused:
    into itself, into or from a merged request, a cycle, another organisation's ids."""
    require_catalogue_write(ctx)
    state = ctx.state
    return json_document(await state.run(corrections.merge, state.db, ctx.principal, feature_request_id, body.into))


@router.post(
    "/{feature_request_id}/mentions/{mention_id}/move",
    response_model=CatalogueChange,
    responses=WRITE_ERROR_RESPONSES,
    summary="Move a mention to another feature request",
)
async def move_mention_route(
    ctx: Ctx,
    feature_request_id: Annotated[int, id_path("The request the mention is in.")],
    mention_id: Annotated[int, id_path("The mention id.")],
    body: MoveBody,
) -> Response:
    """Move one mention into request `to`, or with `to: null` and a `title` out into a new request
    (its `origin` is `person`). The mention is pinned there: re-runs of the pipeline keep it."""
    require_catalogue_write(ctx)
    state = ctx.state
    document = await state.run(
        corrections.move, state.db, ctx.principal, feature_request_id, mention_id, body.to, body.title
    )
    return json_document(document)


@router.get(
    "/{feature_request_id}/history",
    response_model=AuditPage,
    responses={**LIST_ERROR_RESPONSES, **NOT_FOUND_RESPONSE},
    openapi_extra=query_parameters(AuditListParams),
    summary="A feature request's history",
)
async def feature_request_history_route(
    ctx: Ctx, request: Request, feature_request_id: Annotated[int, id_path("The feature request id.")]
) -> Response:
    """Every change people made to this request, newest first: who, when, what, before and after."""
    params = parse_query(request, AuditListParams)
    page = await corrections.list_audit(ctx.db, ctx.org_id, params, feature_request_id)
    if page is None:
        raise not_found("Feature request")
    return json_document(page)
