"""What every route needs: the app's state, the verified caller, a session, its query parameters.

Routes are `async def` and run their blocking queries with `ctx.run`, one thread hop per
request. Authentication and the session come from one dependency (`Ctx`), and query parameters
are validated by one pydantic call (`parse_query`): each FastAPI dependency level and each
separately declared parameter costs tens of microseconds per request, which is a good part of a
fast endpoint's budget (see docs/benchmarks.md).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Annotated, Any, Concatenate, ParamSpec, TypeVar

import anyio
import anyio.to_thread
from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session

from headway_api.core.config import ApiSettings
from headway_api.core.errors import unauthenticated
from headway_api.core.principal import Principal, PrincipalResolver
from headway_api.core.security import InvalidTokenError, TokenCodec
from headway_api.db import Database
from headway_assets.settings import HeadwaySettings

LOGGER = logging.getLogger("headway_api.auth")
TOKEN_URL = "/v1/auth/token"
P = ParamSpec("P")
R = TypeVar("R")
M = TypeVar("M", bound=BaseModel)


class BlockingRunner:
    """Runs blocking query functions in the thread pool, at most `threads` at once.

    More threads than that only queue on the connection pool, and every extra thread contends for
    the GIL, which inflates tail latency under load (see docs/benchmarks.md).
    """

    def __init__(self, threads: int) -> None:
        self.threads = threads
        self._limiters: dict[int, anyio.CapacityLimiter] = {}

    def _limiter(self) -> anyio.CapacityLimiter:
        # One limiter per event loop (anyio binds it to the loop that made it).
        loop = id(asyncio.get_running_loop())
        limiter = self._limiters.get(loop)
        if limiter is None:
            self._limiters = {loop: anyio.CapacityLimiter(self.threads)}
            limiter = self._limiters[loop]
        return limiter

    async def __call__(self, function: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        return await anyio.to_thread.run_sync(functools.partial(function, *args, **kwargs), limiter=self._limiter())


@dataclass(frozen=True, slots=True)
class AppState:
    """Everything a request needs from the app, built once by `create_app`."""

    settings: ApiSettings
    headway: HeadwaySettings
    db: Database
    tokens: TokenCodec
    principals: PrincipalResolver
    run: BlockingRunner


def get_state(request: Request) -> AppState:
    """The app's state."""
    state: AppState = request.app.state.headway
    return state


StateDep = Annotated[AppState, Depends(get_state)]


@dataclass(frozen=True, slots=True)
class RequestContext:
    """The verified caller and this request's read session."""

    principal: Principal
    session: Session
    state: AppState

    @property
    def org_id(self) -> int:
        """The caller's organisation: the only organisation any query of this request may read."""
        return self.principal.org_id

    async def query(self, function: Callable[Concatenate[Session, P], R], *args: P.args, **kwargs: P.kwargs) -> R:
        """Run `function(session, ...)` in the thread pool (the one hop of a request).

        The session gives its connection back to the pool before the thread is released, so a
        connection is only ever held by a running query: requests waiting for a thread hold
        none, and the pool cannot run dry while threads wait for it.
        """
        job = functools.partial(function, self.session, *args, **kwargs)
        return await self.state.run(_closing, self.session, job)


def _closing(session: Session, job: Callable[[], R]) -> R:
    try:
        return job()
    finally:
        session.close()


def bearer_token(request: Request) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, or None."""
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


async def authenticate(state: AppState, session: Session, token: str | None) -> Principal:
    """The verified caller of `token`; any problem with it is the same 401."""
    if not token:
        raise unauthenticated()
    try:
        claims = state.tokens.verify(token)
    except InvalidTokenError as error:
        LOGGER.debug("refused a bearer token: %s", error)
        raise unauthenticated() from None
    found, principal = state.principals.cached(claims)
    if not found:
        principal = await state.run(_closing, session, functools.partial(state.principals.resolve, session, claims))
    if principal is None:
        LOGGER.debug("refused a token for an unknown or inactive organisation or user")
        raise unauthenticated()
    return principal


async def get_context(request: Request) -> AsyncIterator[RequestContext]:
    """Authenticate the caller and open the request's read session (closed when the request ends)."""
    state: AppState = request.app.state.headway
    session = state.db.read_session()
    try:
        principal = await authenticate(state, session, bearer_token(request))
        yield RequestContext(principal=principal, session=session, state=state)
    finally:
        session.close()  # no I/O: PostgreSQL reads autocommit; SQLite ends a local read transaction


Ctx = Annotated[RequestContext, Depends(get_context)]


def parse_query(request: Request, model: type[M]) -> M:
    """The request's query string validated as `model` in one pass; 422 for anything wrong or unknown."""
    items = request.query_params.multi_items()
    values = dict(items)
    if len(values) != len(items):
        repeated = sorted({name for name, _ in items if sum(1 for other, _ in items if other == name) > 1})
        errors = [
            {"loc": ("query", name), "msg": "give this parameter once", "type": "repeated_parameter"}
            for name in repeated
        ]
        raise RequestValidationError(errors)
    try:
        return model.model_validate(values)
    except ValidationError as error:
        raise RequestValidationError(
            [{**detail, "loc": ("query", *detail["loc"])} for detail in error.errors(include_input=False)]
        ) from None


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
