"""The benchmark's floor: a bare ASGI app running the read API's SQL with the same driver.

No framework, no authentication, no validation, no pydantic: it parses the path, runs the exact
SQL statements the API runs for the benchmarked requests (compiled from the API's own query
builders with the PostgreSQL dialect, bound with the same values, and prepared on the server the
same way: psycopg's default, except where a statement asks to be planned at each execution), and
writes the rows as JSON. What the API costs above this is the framework's share.

It is configured by environment variables that `scripts/bench_api.py` sets:
HEADWAY_DATABASE_URL, BENCH_ORG_ID, BENCH_FEATURE_REQUEST_ID, BENCH_DEEP_CURSOR,
BENCH_STATS_SINCE, BENCH_STATS_UNTIL, BENCH_LIMIT, BENCH_POOL_SIZE.
"""

from __future__ import annotations

import json
import os
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool
from sqlalchemy.dialects import postgresql

from headway_api.core.config import ApiSettings
from headway_api.db import PLAN_EACH_EXECUTION, read_session_options
from headway_api.pagination import configure_cursor_key, derive_cursor_key
from headway_api.queries.feature_requests import REQUEST_BY_ID, feature_request_list_query, mention_list_query
from headway_api.queries.messages import message_list_query
from headway_api.queries.stats import dashboard_queries, stats_query
from headway_api.schemas.feature_requests import FeatureRequestListParams, MentionListParams
from headway_api.schemas.messages import MessageListParams

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
_DIALECT = postgresql.psycopg.dialect()


Query = tuple[str, dict[str, Any], bool | None]


def _compiled(statement: Any, values: dict[str, Any]) -> Query:
    """The SQL text and bound values SQLAlchemy sends to psycopg for `statement` with `values`, and
    psycopg's `prepare` argument for it (None: prepared after five runs; False: never)."""
    # Post-compile parameters (the page size) are rendered into the text, as the API's driver sees it.
    expanded = statement.compile(dialect=_DIALECT).construct_expanded_state(values)
    prepare = False if statement.get_execution_options().get(PLAN_EACH_EXECUTION) else None
    return expanded.statement, dict(expanded.parameters), prepare


class Statements:
    """The benchmarked requests' SQL, compiled once from the API's own query builders."""

    def __init__(self) -> None:
        org_id = int(os.environ["BENCH_ORG_ID"])
        limit = int(os.environ.get("BENCH_LIMIT", "20"))
        request_id = int(os.environ["BENCH_FEATURE_REQUEST_ID"])
        # The deep-page cursor is signed under the key the API derives from its JWT secret.
        configure_cursor_key(derive_cursor_key(os.environ["JWT_SECRET_KEY"].encode()))
        self.first_page = _compiled(*message_list_query(org_id, MessageListParams(limit=limit)))
        deep = MessageListParams(limit=limit, cursor=os.environ["BENCH_DEEP_CURSOR"])
        self.deep_page = _compiled(*message_list_query(org_id, deep))
        self.request = _compiled(REQUEST_BY_ID, {"feature_request_id": request_id, "org_id": org_id})
        self.mentions = _compiled(*mention_list_query(org_id, request_id, MentionListParams(limit=20)))
        since = date.fromisoformat(os.environ["BENCH_STATS_SINCE"])
        until = date.fromisoformat(os.environ["BENCH_STATS_UNTIL"])
        self.stats = _compiled(*stats_query(org_id, since, until, None, None))
        # The dashboard's parts of /v1/stats (issue 16, item 7), as the API runs them.
        self.dashboard = [_compiled(*query) for query in dashboard_queries(org_id, since, until, None).values()]
        # One page of the catalogue by the asking customers' summed ARR (issue 16, item 3).
        by_arr = FeatureRequestListParams(sort="-arr", limit=limit)
        self.by_arr = _compiled(*feature_request_list_query(org_id, by_arr))


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


class Pool:
    """A fixed set of async psycopg connections (a `psycopg_pool.AsyncConnectionPool`, as the API's)."""

    def __init__(self, url: str, size: int) -> None:
        # The server settings of the API's read connections (UTC, statement_timeout), so both
        # sessions do the same work.
        options = read_session_options(ApiSettings().db_statement_timeout_ms)
        self.pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
            url, kwargs={"autocommit": True, "options": options}, min_size=size, open=False
        )

    async def open(self) -> None:
        """Open every connection before the first request."""
        await self.pool.open(wait=True)

    async def rows(self, sql: str, params: dict[str, Any], prepare: bool | None) -> list[dict[str, Any]]:
        """The rows of `sql` as dicts."""
        async with self.pool.connection() as conn:
            cursor = conn.cursor(row_factory=psycopg.rows.dict_row)
            await cursor.execute(sql, params, prepare=prepare)
            return await cursor.fetchall()

    async def close(self) -> None:
        """Close every connection."""
        await self.pool.close()


STATE: dict[str, Any] = {}


async def _respond(send: Send, status: int, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    """The ASGI entry point."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                url = os.environ["HEADWAY_DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://")
                STATE["statements"] = Statements()
                STATE["pool"] = Pool(url, int(os.environ.get("BENCH_POOL_SIZE", "10")))
                await STATE["pool"].open()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await STATE["pool"].close()
                await send({"type": "lifespan.shutdown.complete"})
                return
    statements: Statements = STATE["statements"]
    pool: Pool = STATE["pool"]
    path: str = scope["path"]
    if path == "/v1/messages":
        deep = b"cursor=" in scope["query_string"]
        rows = await pool.rows(*(statements.deep_page if deep else statements.first_page))
        payload: Any = {"items": rows}
    elif path.startswith("/v1/feature-requests/"):
        request_rows = await pool.rows(*statements.request)
        mentions = await pool.rows(*statements.mentions)
        payload = {**request_rows[0], "mentions": mentions}
    elif path == "/v1/stats":
        payload = {"rows": await pool.rows(*statements.stats)}
        for query in statements.dashboard:
            payload[query[0][:40]] = await pool.rows(*query)
    elif path == "/v1/feature-requests":
        payload = {"items": await pool.rows(*statements.by_arr)}
    else:
        await _respond(send, 404, b'{"error":"not found"}')
        return
    await _respond(send, 200, json.dumps(payload, default=_json_default).encode())
