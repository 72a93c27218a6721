"""One error body for every failure: `{"error": {"code", "message", "details"}}`.

Validation errors list what is wrong and where, but never echo the input back (a 10 kB string
or an injection attempt is not reflected). Unexpected errors are logged with their traceback and
answered with a bare 500: no SQL, no stack, no configuration reaches the client.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from headway_api.pagination import CursorError

LOGGER = logging.getLogger("headway_api")

_STATUS_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
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
    """422 for a parameter that passed type checks but is still wrong (a bad cursor, a reversed range)."""
    return ApiError(
        422,
        "invalid_request",
        "The request has invalid parameters.",
        details=[{"loc": location, "message": message, "type": kind}],
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


async def _cursor_error(_request: Request, exc: Exception) -> JSONResponse:
    return error_response(
        422,
        "invalid_request",
        "The request has invalid parameters.",
        details=[{"loc": ["query", "cursor"], "message": str(exc), "type": "cursor_invalid"}],
    )


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    details = []
    for error in exc.errors():
        location = [part for part in error.get("loc", ()) if isinstance(part, str | int)]
        details.append({"loc": location, "message": str(error.get("msg", "invalid")), "type": str(error.get("type"))})
    return error_response(422, "invalid_request", "The request has invalid parameters.", details=details)


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _STATUS_CODES.get(exc.status_code, "error")
    message = exc.detail if isinstance(exc.detail, str) else "Request failed."
    if exc.status_code == 401:
        message = UNAUTHENTICATED_MESSAGE
    return error_response(exc.status_code, code, message, headers=getattr(exc, "headers", None))


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
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(DBAPIError, _database_error)
    app.add_exception_handler(Exception, _unexpected_error)
