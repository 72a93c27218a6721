"""Models shared by every resource: the error body, the page envelope and the paging parameters."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

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
NOT_FOUND_RESPONSE: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "No such object in your organisation."}
}


# --- Request parameters ---------------------------------------------------------------------

MAX_ID = 2**63 - 1
# Printable text on one line: no C0 control characters (NUL among them) and no DEL.
SINGLE_LINE = r"^[^\x00-\x1f\x7f]*$"
CURSOR_PATTERN = r"^[A-Za-z0-9_-]+$"


def _as_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)  # a timestamp without a zone is read as UTC
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("timestamp is out of range once converted to UTC") from None


UtcDatetime = Annotated[datetime, AfterValidator(_as_utc)]


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
        description="`next_cursor` of the previous page; omit for the first page.",
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
        raise ValueError("until must be after since")
