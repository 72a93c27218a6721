"""One error body for every failure: `{"error": {"code", "message", "details"}}`.

Validation errors list what is wrong and where, but never echo the input back (a 10 kB string
or an injection attempt is not reflected). Unexpected errors are logged with their traceback and
answered with a bare 500: no SQL, no stack, no configuration reaches the client.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

from headway_api.pagination import CursorError
from headway_assets.core.warehouse.corrections import CorrectionError

LOGGER = logging.getLogger("headway_api")

_STATUS_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    412: "precondition_failed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    428: "precondition_required",
    429: "too_many_requests",
    503: "unavailable",
}
# The one answer to every authentication failure: which check failed is not the client's business.
UNAUTHENTICATED_MESSAGE = "Not authenticated."


class ApiError(Exception):
    """An error the API answers on purpose, with its status, code and message."""

    def __init__(
        self,
        status_code: int,
        code: str,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        details: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.message = message
        self.headers = headers
        self.details = details


def not_found(what: str) -> ApiError:
    """404 for an object that does not exist, or exists in another organisation (same answer)."""
    return ApiError(404, "not_found", f"{what} not found.")


def unauthenticated() -> ApiError:
    """The uniform 401."""
    return ApiError(401, "not_authenticated", UNAUTHENTICATED_MESSAGE, headers={"WWW-Authenticate": "Bearer"})


def invalid_parameter(location: list[str | int], message: str, kind: str = "value_error") -> ApiError:
    """422 for a parameter that breaks a rule of its documented schema the framework does not check."""
    return ApiError(
        422,
        "invalid_request",
        "The request has invalid parameters.",
        details=[{"loc": location, "message": message, "type": kind}],
    )


def invalid_range(location: list[str | int], message: str) -> ApiError:
    """400 `invalid_range` for values each valid by the schema that make no sense together (a reversed
    or too long range, days outside what can be synced): 422 is kept for requests the schema refuses."""
    return ApiError(
        400,
        "invalid_range",
        "The request's values do not make a valid range.",
        details=[{"loc": location, "message": message, "type": "invalid_range"}],
    )


def unknown_filter_values(unknown: list[tuple[str, Any]]) -> ApiError:
    """400 `unknown_value` for filters well-formed by the schema whose value the organisation does not have
    (a segment no customer is in, a customer id that is not yours): an empty page would read as "nobody"."""
    return ApiError(
        400,
        "unknown_value",
        "A filter names a value your organisation does not have.",
        details=[
            {
                "loc": ["query", name],
                "message": f"no customer of your organisation has {name}={value}",
                "type": "unknown_value",
            }
            for name, value in unknown
        ],
    )


def error_response(
    status_code: int,
    code: str,
    message: str,
    *,
    details: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """A JSONResponse carrying the error body."""
    body: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        body["details"] = details
    return JSONResponse({"error": body}, status_code=status_code, headers=headers)


async def _api_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc.status_code, exc.code, exc.message, details=exc.details, headers=exc.headers)


async def _correction_error(_request: Request, exc: Exception) -> JSONResponse:
    # A correction refused before anything was written (its transaction rolled back).
    assert isinstance(exc, CorrectionError)
    details = None
    if exc.field is not None:
        details = [{"loc": ["body", exc.field], "message": exc.message, "type": exc.code}]
    return error_response(exc.status, exc.code, exc.message, details=details)


async def _cursor_error(_request: Request, exc: Exception) -> JSONResponse:
    # 400, not 422: a cursor is an opaque string by the schema, so any string is well formed; one
    # this API did not sign for this list is a bad request, answered as documented.
    return error_response(
        400,
        "invalid_cursor",
        "The cursor is not valid for this list; start again without `cursor`.",
        details=[{"loc": ["query", "cursor"], "message": str(exc), "type": "invalid_cursor"}],
    )


def _validation_details(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """The body's `details` for pydantic's errors, one per problem a caller can fix.

    A field typed `X | None` that gets a wrong value fails every member of the union, and pydantic
    reports each at the field's location plus the member's tag (`["body", "status", "literal[...]"]`
    saying what it should be, `["body", "status", "none"]` saying "Input should be None"). Null is
    there to mean "not given", so that second line only misleads: it is dropped, and the others are
    reported at the field itself."""
    rows = []
    for error in errors:
        location = [part for part in error.get("loc", ()) if isinstance(part, str | int)]
        rows.append({"loc": location, "message": str(error.get("msg", "invalid")), "type": str(error.get("type"))})
    # A field with a "none" error and at least one sibling at the same location is such a union.
    siblings = Counter(tuple(row["loc"][:-1]) for row in rows)
    nulls = {tuple(row["loc"][:-1]) for row in rows if row["type"] == "none_required"}
    union_fields = {field for field in nulls if siblings[field] > 1}
    details = []
    for row in rows:
        field = tuple(row["loc"][:-1])
        if field in union_fields:
            if row["type"] == "none_required":
                continue
            row = {**row, "loc": list(field)}
        details.append(row)
    return details


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    details = _validation_details(exc.errors())
    return error_response(422, "invalid_request", "The request has invalid parameters.", details=details)


_HTTP_METHODS = frozenset({"GET", "PUT", "POST", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE"})


def _api_routes(routes: Any) -> Iterator[APIRoute]:
    """The API routes, including those of routers FastAPI includes lazily (`original_router`)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        router = getattr(route, "original_router", None)
        if router is not None:
            yield from _api_routes(router.routes)


def _method_table(request: Request) -> list[tuple[re.Pattern[str], frozenset[str]]]:
    # Built once per app from its OpenAPI paths: the routers are mounted lazily, so the app's route
    # list does not name every path, while the document does (and is what clients read).
    table: list[tuple[re.Pattern[str], frozenset[str]]] | None = getattr(request.app.state, "allow_table", None)
    if table is None:
        paths = request.app.openapi().get("paths", {})
        # A route whose path has a convertor (`{customer_id:int}`) matches only what it converts.
        typed = {
            route.path_format: route.path
            for route in _api_routes(request.app.routes)
            if route.path != route.path_format
        }
        table = [
            (
                compile_path(typed.get(path, path))[0],
                frozenset(m.upper() for m in operations if m.upper() in _HTTP_METHODS),
            )
            for path, operations in paths.items()
        ]
        request.app.state.allow_table = table
    return table


def allowed_methods(request: Request, fallback: str | None) -> str:
    """Every method the app answers at the request's path, OPTIONS included, for `Allow`.

    Starlette's 405 names only the methods of the first route matching the path, while GET and
    POST of one path are separate routes here (GET and POST /v1/sync-requests).
    """
    methods: set[str] = set()
    for pattern, path_methods in _method_table(request):
        if pattern.match(request.scope["path"]):
            methods |= path_methods
    if not methods:  # not a documented path (the docs pages): what the route itself said
        methods = {m.strip() for m in (fallback or "").split(",") if m.strip()}
    if "GET" in methods:
        methods.add("HEAD")  # Starlette answers HEAD wherever it answers GET
    return ", ".join(sorted(methods | {"OPTIONS"}))


async def _http_error(request: Request, exc: Exception) -> JSONResponse | Response:
    assert isinstance(exc, StarletteHTTPException)
    headers = getattr(exc, "headers", None)
    if exc.status_code == 405:
        allow = allowed_methods(request, (headers or {}).get("Allow"))
        if request.method == "OPTIONS":
            # OPTIONS asks what the path supports (RFC 9110, 9.3.7): answered, with every method.
            return Response(status_code=204, headers={"Allow": allow})
        headers = {**(headers or {}), "Allow": allow}
    code = _STATUS_CODES.get(exc.status_code, "error")
    message = exc.detail if isinstance(exc.detail, str) else "Request failed."
    if exc.status_code == 401:
        message = UNAUTHENTICATED_MESSAGE
    return error_response(exc.status_code, code, message, headers=headers)


# PostgreSQL's SQLSTATE for a statement cancelled by statement_timeout.
QUERY_CANCELED = "57014"


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DBAPIError)
    if getattr(exc.orig, "sqlstate", None) == QUERY_CANCELED:
        LOGGER.warning("query cancelled by statement_timeout on %s %s", request.method, request.url.path)
        return error_response(
            503, "query_timeout", "The query took too long; narrow the filters (a shorter range, a longer search text)."
        )
    return await _unexpected_error(request, exc)


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    LOGGER.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, "internal_error", "Internal server error.")


def install_error_handlers(app: FastAPI) -> None:
    """Route every failure through the one error body."""
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(CursorError, _cursor_error)
    app.add_exception_handler(CorrectionError, _correction_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(DBAPIError, _database_error)
    app.add_exception_handler(Exception, _unexpected_error)
