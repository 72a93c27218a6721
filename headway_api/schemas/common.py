"""Models shared by every resource: the error body, the page envelope and the paging parameters."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError

from headway_api.pagination import DEFAULT_LIMIT, MAX_CURSOR_LENGTH, MAX_LIMIT


class ErrorDetail(BaseModel):
    """One problem with the request (validation errors list one per bad parameter)."""

    loc: list[str | int] = Field(description='Where the problem is: `["query", "limit"]`.')
    message: str
    type: str = Field(description="Machine-readable kind of problem, e.g. `less_than_equal`.")


class ErrorBody(BaseModel):
    """What went wrong, for people (`message`) and programs (`code`)."""

    code: str = Field(description="Stable error code: not_authenticated, not_found, invalid_request, ...")
    message: str
    details: list[ErrorDetail] | None = None


class ErrorResponse(BaseModel):
    """The body of every error response."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "error": {
                        "code": "invalid_request",
                        "message": "The request has invalid parameters.",
                        "details": [
                            {
                                "loc": ["query", "limit"],
                                "message": "Input should be less than or equal to 200",
                                "type": "less_than_equal",
                            }
                        ],
                    }
                }
            ]
        }
    )

    error: ErrorBody


def page_example(
    item: dict[str, Any],
    next_cursor: str | None = "eyJzIjoiLXNlbnRfYXQiLCJrIjpbIjIwMjUtMDMtMDFUMDk6MzA6MDArMDA6MDAiLDEyMzRdfQ",
) -> dict[str, Any]:
    """The OpenAPI example of a page holding one `item`."""
    return {"items": [item], "next_cursor": next_cursor}


class PageBase(BaseModel):
    """Fields of every page: pass `next_cursor` back as `cursor` for the next page; null means last."""

    next_cursor: str | None = Field(default=None, description="Opaque cursor of the next page; null on the last page.")


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "Missing or invalid bearer token."},
    422: {"model": ErrorResponse, "description": "Invalid parameters (nothing was read or written)."},
}
BAD_REQUEST_RESPONSE: dict[int | str, dict[str, Any]] = {
    400: {
        "model": ErrorResponse,
        "description": "Well-formed values that do not work together: `invalid_range` (a reversed or too long range).",
    }
}
# Every paginated route: a `cursor` is an opaque string to the schema, so one this API did not sign
# for this list is a documented 400, not a 422.
LIST_ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    **ERROR_RESPONSES,
    400: {
        "model": ErrorResponse,
        "description": "`invalid_cursor`: a cursor this API did not issue for this list (forged, altered, from"
        " another list or sort); `invalid_range`: a reversed range.",
    },
}
NOT_FOUND_RESPONSE: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "No such object in your organisation."}
}

# Every triage write: refused input changes nothing (one transaction, rolled back).
WRITE_ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    **ERROR_RESPONSES,
    400: {
        "model": ErrorResponse,
        "description": "`invalid_correction`: well-formed, but it cannot be done (merge into itself, a cycle, a"
        " sub-theme not in your taxonomy). Nothing changed.",
    },
    403: {"model": ErrorResponse, "description": "Your role or token may not change the catalogue."},
    404: {"model": ErrorResponse, "description": "No such object in your organisation."},
    409: {
        "model": ErrorResponse,
        "description": "`conflict`: a merged request, a node that exists, or an undo after later changes.",
    },
}


# --- Request parameters ---------------------------------------------------------------------

MAX_ID = 2**63 - 1
# Printable text on one line: no C0 control characters (NUL among them) and no DEL.
SINGLE_LINE = r"^[^\x00-\x1f\x7f]*$"
CURSOR_PATTERN = r"^[A-Za-z0-9_-]+$"


# ISO 8601 date and time (zone optional: UTC without one). Pydantic alone also takes a number
# of seconds since 1970 (`until=0.5`), which the documented `date-time` format does not allow.
_ISO_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?([Zz]|[+-]\d{2}(:?\d{2})?)?")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
RANGE_ERROR = "invalid_range"  # pydantic error type of values valid alone but not together (a 400)


def _iso_datetime(value: Any) -> Any:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _ISO_DATETIME.fullmatch(value):
        raise PydanticCustomError(
            "datetime_format", "Use an ISO 8601 date and time, such as 2025-03-01T09:30:00Z (a number is refused)."
        )
    return value


def _iso_date(value: Any) -> Any:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
        raise PydanticCustomError("date_format", "Use an ISO 8601 date, such as 2025-03-01 (a number is refused).")
    return value


def _as_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)  # a timestamp without a zone is read as UTC
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise PydanticCustomError(RANGE_ERROR, "timestamp is out of range once converted to UTC") from None


UtcDatetime = Annotated[datetime, BeforeValidator(_iso_datetime), AfterValidator(_as_utc)]
IsoDate = Annotated[date, BeforeValidator(_iso_date)]


def text_filter(description: str, max_length: int = 200) -> Any:
    """An optional, bounded, single-line text parameter."""
    return Field(default=None, min_length=1, max_length=max_length, pattern=SINGLE_LINE, description=description)


class ListParams(BaseModel):
    """Paging parameters every listing takes."""

    model_config = ConfigDict(extra="forbid")

    cursor: str | None = Field(
        default=None,
        max_length=MAX_CURSOR_LENGTH,
        pattern=CURSOR_PATTERN,
        description="`next_cursor` of the previous page; omit for the first page. Signed by the API: a cursor"
        " it did not issue for this list and sort is refused with 400 `invalid_cursor`.",
    )
    limit: int = Field(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description=f"Page size, 1-{MAX_LIMIT}.")

    def filters(self) -> dict[str, Any]:
        """The filters that are set (everything but sort, cursor and limit)."""
        return {
            name: value
            for name, value in self.__dict__.items()
            if value is not None and name not in ("cursor", "limit", "sort")
        }


def check_range(since: datetime | None, until: datetime | None) -> None:
    """Refuse an empty or reversed `[since, until)` range (a model validator helper)."""
    if since is not None and until is not None and until <= since:
        raise PydanticCustomError(RANGE_ERROR, "until must be after since")
