"""What every route needs: the app's state, the verified caller, its query parameters.

Routes are `async def`. Their reads go through the database's `Reader` (`ctx.db`): on
PostgreSQL they never leave the event loop; on SQLite each statement runs in the thread pool.
Authentication comes from one plain `async` dependency (`Ctx`), and query parameters are
validated by one pydantic call (`parse_query`): each FastAPI dependency level and each
separately declared parameter costs tens of microseconds per request, which is a good part of a
fast endpoint's budget (see docs/benchmarks.md).
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

import pydantic_core
from fastapi import Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from headway_api.core.config import ApiSettings
from headway_api.core.errors import ApiError, invalid_range, unauthenticated
from headway_api.core.principal import Principal, PrincipalResolver
from headway_api.core.security import CATALOGUE_WRITE_SCOPE, InvalidTokenError, TokenCodec
from headway_api.db import BlockingRunner, Database, Reader
from headway_api.schemas.common import RANGE_ERROR
from headway_assets.core.settings import HeadwaySettings

LOGGER = logging.getLogger("headway_api.auth")
TOKEN_URL = "/v1/auth/token"
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class AppState:
    """Everything a request needs from the app, built once by `create_app`."""

    settings: ApiSettings
    headway: HeadwaySettings
    db: Database
    tokens: TokenCodec
    principals: PrincipalResolver
    run: BlockingRunner  # blocking work (writes, password checks) in the thread pool


def get_state(request: Request) -> AppState:
    """The app's state."""
    state: AppState = request.app.state.headway
    return state


StateDep = Annotated[AppState, Depends(get_state)]


@dataclass(frozen=True, slots=True)
class RequestContext:
    """The verified caller of a request, and the reader its queries go through."""

    principal: Principal
    state: AppState

    @property
    def org_id(self) -> int:
        """The caller's organisation: the only organisation any query of this request may read."""
        return self.principal.org_id

    @property
    def db(self) -> Reader:
        """The database's reader (every query function takes it first, then `org_id`)."""
        return self.state.db.reader


def bearer_token(request: Request) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, or None."""
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


async def authenticate(state: AppState, token: str | None) -> Principal:
    """The verified caller of `token`; any problem with it is the same 401."""
    if not token:
        raise unauthenticated()
    try:
        claims = state.tokens.verify(token)
    except InvalidTokenError as error:
        LOGGER.debug("refused a bearer token: %s", error)
        raise unauthenticated() from None
    # Looked up, or cached while a LISTEN says nothing changed: a deactivation takes effect on the next request.
    principal = await state.principals.resolve(state.db.reader, claims)
    if principal is None:
        LOGGER.debug("refused a token for an unknown or inactive organisation or user")
        raise unauthenticated()
    return principal


async def get_context(request: Request) -> RequestContext:
    """Authenticate the caller (nothing to clean up afterwards: a plain dependency, not a generator)."""
    state: AppState = request.app.state.headway
    principal = await authenticate(state, bearer_token(request))
    return RequestContext(principal=principal, state=state)


Ctx = Annotated[RequestContext, Depends(get_context)]

# Who may change the catalogue and the taxonomy: people of the organisation; a service client
# only with a token that carries the write scope.
CATALOGUE_WRITE_ROLES = frozenset({"admin", "member"})


def require_catalogue_write(ctx: RequestContext) -> None:
    """403 unless the caller may change the catalogue and the taxonomy."""
    principal = ctx.principal
    if principal.role in CATALOGUE_WRITE_ROLES:
        return
    if principal.role == "service" and CATALOGUE_WRITE_SCOPE in principal.scopes:
        return
    if principal.role == "service":
        raise ApiError(
            403,
            "forbidden",
            f"This service token may only read. Mint one with the {CATALOGUE_WRITE_SCOPE} scope"
            f" (headway tokens mint --email ... --scope {CATALOGUE_WRITE_SCOPE}) to change the catalogue.",
        )
    raise ApiError(403, "forbidden", f"Your role ({principal.role}) may not change the catalogue.")


def json_document(document: Any) -> Response:
    """`document` as the JSON response body, serialised by pydantic-core in one pass.

    For routes whose query functions build their documents in the exact shape of the route's
    `response_model` (its fields, in its order, with its types): FastAPI then neither validates
    them into model instances nor serialises them again (a quarter of a short request's time,
    see docs/benchmarks.md), and `response_model` still documents the route in OpenAPI.
    tests/api/test_documents.py holds every such route to the body its model would produce.
    """
    return Response(pydantic_core.to_json(document), media_type="application/json")


def parse_query(request: Request, model: type[M]) -> M:
    """The request's query string validated as `model` in one pass; 422 for anything wrong or unknown."""
    items = request.query_params.multi_items()
    values = dict(items)
    if len(values) != len(items):
        repeated = sorted(name for name, count in Counter(name for name, _ in items).items() if count > 1)
        errors = [
            {"loc": ("query", name), "msg": "give this parameter once", "type": "repeated_parameter"}
            for name in repeated
        ]
        raise RequestValidationError(errors)
    try:
        return model.model_validate(values)
    except ValidationError as error:
        details = error.errors(include_input=False)
        if all(detail["type"] == RANGE_ERROR for detail in details):
            # Each value met its schema; together they make no range: a 400 (422 means the schema refused).
            first = details[0]
            raise invalid_range(["query", *first["loc"]], first["msg"]) from None
        raise RequestValidationError([{**detail, "loc": ("query", *detail["loc"])} for detail in details]) from None


def _inline_refs(node: Any, definitions: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        reference = node.get("$ref")
        if isinstance(reference, str) and reference.startswith("#/$defs/"):
            return _inline_refs(definitions[reference.removeprefix("#/$defs/")], definitions)
        return {key: _inline_refs(value, definitions) for key, value in node.items()}
    if isinstance(node, list):
        return [_inline_refs(item, definitions) for item in node]
    return node


def query_parameters(model: type[BaseModel]) -> dict[str, Any]:
    """OpenAPI `parameters` documenting `model`'s fields as query parameters (for `openapi_extra`)."""
    schema = model.model_json_schema()
    schema = _inline_refs({key: value for key, value in schema.items() if key != "$defs"}, schema.get("$defs", {}))
    required = set(schema.get("required", []))
    parameters = []
    for name, field_schema in schema.get("properties", {}).items():
        description = field_schema.pop("description", None)
        field_schema.pop("title", None)
        parameter: dict[str, Any] = {"name": name, "in": "query", "required": name in required, "schema": field_schema}
        if description:
            parameter["description"] = description
        parameters.append(parameter)
    return {"parameters": parameters}
