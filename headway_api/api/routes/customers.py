"""Customers: GET /v1/customers and one customer, POST and PATCH, POST /v1/customers/{id}/merge
(fold a duplicate into the customer kept), and POST /v1/customers/import (a CRM export, CSV or
Excel, through the same validation and upsert as `headway customers import`)."""

from __future__ import annotations

import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, File, Request, Response, UploadFile

from headway_api.api.deps import Ctx, json_document, parse_query, query_parameters, require_catalogue_write
from headway_api.api.params import id_path
from headway_api.core.errors import ApiError, invalid_range, not_found
from headway_api.queries import calls, customers
from headway_api.schemas.calls import HEALTH_DEFAULT_DAYS, HEALTH_MAX_DAYS, CustomerHealth, CustomerHealthParams
from headway_api.schemas.common import (
    BAD_REQUEST_RESPONSE,
    ERROR_RESPONSES,
    LIST_ERROR_RESPONSES,
    NOT_FOUND_RESPONSE,
    WRITE_ERROR_RESPONSES,
    ErrorResponse,
)
from headway_api.schemas.customers import (
    CustomerCreate,
    CustomerDetail,
    CustomerImportReport,
    CustomerListParams,
    CustomerMergeBody,
    CustomerPage,
    CustomerPatch,
)
from headway_assets.core.warehouse.customer_import import EXCEL_SUFFIXES, CustomerFileError, read_customer_file

router = APIRouter(prefix="/v1/customers", tags=["customers"])
BUSY_DESCRIPTION = (
    "`busy`: a pipeline run resolving this organisation's message authors, or another merge, import or edit of"
    " its customers, kept them past the wait (`CUSTOMER_LOCK_TIMEOUT_SECONDS`, 30 s), or the database kept"
    " aborting the transaction to break a deadlock after retries. Nothing changed; try again."
)
BUSY_RESPONSE: dict[int | str, dict[str, Any]] = {409: {"model": ErrorResponse, "description": BUSY_DESCRIPTION}}
CUSTOMER_WRITE_RESPONSES = {
    **WRITE_ERROR_RESPONSES,
    400: {
        "model": ErrorResponse,
        "description": "`invalid_value`: a value the import's rules refuse (ARR not an amount, unknown deal stage,"
        " free-mail or malformed domain, empty name). Nothing changed.",
    },
    409: {
        "model": ErrorResponse,
        "description": "`conflict`: a domain or external id another customer of your organisation holds."
        f" Or {BUSY_DESCRIPTION}",
    },
}
MAX_IMPORT_BYTES = 50 * 1024 * 1024  # a 100,000-row CRM export is a few MB


@router.get(
    "",
    response_model=CustomerPage,
    responses=LIST_ERROR_RESPONSES,
    openapi_extra=query_parameters(CustomerListParams),
    summary="List customers",
)
async def list_customers_route(ctx: Ctx, request: Request) -> Response:
    """The organisation's customers by name, filtered by segment, plan, deal stage, `auto_created`
    and a name search, paginated by cursor."""
    params = parse_query(request, CustomerListParams)
    return json_document(await customers.list_customers(ctx.db, ctx.org_id, params))


@router.post(
    "/import",
    response_model=CustomerImportReport,
    responses={
        **WRITE_ERROR_RESPONSES,
        400: {
            "model": ErrorResponse,
            "description": "`invalid_file`: not a readable CSV or Excel file, or no name or key column."
            " Nothing changed.",
        },
        **BUSY_RESPONSE,
    },
    summary="Import customers from a CRM export",
)
async def import_customers_route(
    ctx: Ctx, file: Annotated[UploadFile, File(description="A CSV or Excel (.xlsx) export of companies.")]
) -> Response:
    """Validate every row and upsert the good ones (by external id, else by domain) in one
    transaction. Rejected rows are reported with their line number (the header is line 1) and
    reason; they do not stop the good ones."""
    require_catalogue_write(ctx)
    content = await file.read(MAX_IMPORT_BYTES + 1)
    if len(content) > MAX_IMPORT_BYTES:
        raise ApiError(413, "too_large", f"The file is larger than {MAX_IMPORT_BYTES // (1024 * 1024)} MB.")
    suffix = Path(file.filename or "").suffix.lower()
    suffix = suffix if suffix in EXCEL_SUFFIXES else ".csv"
    state = ctx.state

    def read() -> pd.DataFrame:
        with tempfile.TemporaryDirectory() as directory:
            path = Path(directory) / f"customers{suffix}"
            path.write_bytes(content)
            try:
                return read_customer_file(path)
            except CustomerFileError as error:
                # The message names the temporary file: say "the file" instead.
                raise ApiError(
                    400, "invalid_file", str(error).replace(str(path), "the file").replace(path.name, "the file")
                ) from None

    frame = await state.run(read)
    return json_document(await state.run(customers.import_file, state.db, ctx.principal, frame))


@router.get(
    "/{customer_id:int}",  # digits only: PATCH /import is then a 405, not an id refused
    response_model=CustomerDetail,
    responses={**ERROR_RESPONSES, **NOT_FOUND_RESPONSE},
    summary="Get one customer",
)
async def get_customer_route(ctx: Ctx, customer_id: Annotated[int, id_path("The customer id.")]) -> Response:
    """One customer with its domains, its contact count, and the number and time of its messages."""
    detail = await customers.get_customer(ctx.db, ctx.org_id, customer_id)
    if detail is None:
        raise not_found("Customer")
    return json_document(detail)


@router.post(
    "",
    response_model=CustomerDetail,
    status_code=201,
    responses=CUSTOMER_WRITE_RESPONSES,
    summary="Create a customer",
)
async def create_customer_route(ctx: Ctx, body: CustomerCreate) -> Response:
    """Create a customer. Values are checked as the import checks them; a domain or external id
    another customer of the organisation holds is a 409 `conflict`. A pipeline run resolving the
    organisation's message authors is waited for (a domain it claimed is then a `conflict`); past
    the wait, 409 `busy`."""
    require_catalogue_write(ctx)
    state = ctx.state
    document = await state.run(customers.create_customer, state.db, ctx.principal, body.model_dump())
    response = json_document(document)
    response.status_code = 201
    return response


@router.patch(
    "/{customer_id:int}",  # digits only: PATCH /import is then a 405, not an id refused
    response_model=CustomerDetail,
    responses=CUSTOMER_WRITE_RESPONSES,
    summary="Edit a customer",
)
async def patch_customer_route(
    ctx: Ctx, customer_id: Annotated[int, id_path("The customer id.")], body: CustomerPatch
) -> Response:
    """Change name, ARR, MRR, plan, segment, deal stage, renewal date, owner, external id or the
    domains (the whole set). Omitted fields stay; null clears one (not the name). An edited
    customer is no longer `auto_created`. A pipeline run resolving the organisation's message
    authors is waited for, as by a merge; past the wait, 409 `busy`."""
    require_catalogue_write(ctx)
    changes = {name: getattr(body, name) for name in body.model_fields_set}
    state = ctx.state
    return json_document(await state.run(customers.patch_customer, state.db, ctx.principal, customer_id, changes))


@router.get(
    "/{customer_id:int}/health",
    response_model=CustomerHealth,
    responses={**ERROR_RESPONSES, **NOT_FOUND_RESPONSE, **BAD_REQUEST_RESPONSE},
    openapi_extra=query_parameters(CustomerHealthParams),
    summary="A customer's call risks and health over time",
)
async def customer_health_route(
    ctx: Ctx, customer_id: Annotated[int, id_path("The customer id.")], request: Request
) -> Response:
    """The customer's health score (0-100) per day or ISO week, from its calls' deal and churn risk and
    expansion potential and its messages' sentiment, with its calls counted by level over the range."""
    params = parse_query(request, CustomerHealthParams)
    until = params.until or datetime.now(UTC).date()
    span = timedelta(days=HEALTH_DEFAULT_DAYS - 1)
    since = params.since or (until - span if until - date.min >= span else date.min)
    if until < since:
        raise invalid_range(["query", "since"], "since must not be after until")
    if (until - since).days + 1 > HEALTH_MAX_DAYS:
        raise invalid_range(["query", "since"], f"range too long: at most {HEALTH_MAX_DAYS} days")
    health = await calls.customer_health(ctx.db, ctx.org_id, customer_id, since, until, params.interval)
    if health is None:
        raise not_found("Customer")
    return json_document(health)


@router.post(
    "/{customer_id:int}/merge",
    response_model=CustomerDetail,
    responses={
        **WRITE_ERROR_RESPONSES,
        400: {"model": ErrorResponse, "description": "`invalid_correction`: a merge into itself. Nothing changed."},
        404: {"model": ErrorResponse, "description": "This customer or `into` is not one of your organisation's."},
        **BUSY_RESPONSE,
    },
    summary="Merge a customer into another",
)
async def merge_customer_route(
    ctx: Ctx, customer_id: Annotated[int, id_path("The customer to merge away (deleted).")], body: CustomerMergeBody
) -> Response:
    """Fold a duplicate into the customer you keep (`into`): its contacts, domains, Slack Connect
    teams and resolved messages move there, it is deleted, and the feature requests it asked for
    get their customers, `account_count`, ARR and segments recomputed in the same transaction.
    Any two customers of the organisation may be merged, auto-created or imported; the kept one
    keeps its own name, ARR and other CRM fields (those of the merged one are dropped). Returns
    the kept customer. A pipeline run resolving the organisation's message authors is waited for
    (it finishes first, and the merge then moves what it wrote); past the wait, 409 `busy`."""
    require_catalogue_write(ctx)
    state = ctx.state
    return json_document(await state.run(customers.merge_customers, state.db, ctx.principal, customer_id, body.into))
