"""Who is calling: a verified token turned into an organisation (and a user), checked on every request.

Deactivating a user, a service client or an organisation (`headway users deactivate`, or an
UPDATE from any process) refuses its tokens from the very next request, on every API process.
On SQLite (the dev backend) that is one indexed lookup per request. On PostgreSQL each process
caches the answers (`PrincipalCache`), trusted only while a dedicated connection LISTENs on
`headway_principals`, which triggers on `users` and `organizations` notify on every change
(migration 0005).

Why the cache is correct: PostgreSQL queues a NOTIFY when the notifying transaction commits and
signals every listening session before that COMMIT returns to its client; a session delivers
the notifications it has been signalled about before it answers its next query. So every request,
before reading the cache, waits for a round trip on the listener that began after the request
did (`PrincipalInvalidation.sync`): it brings every notification of every change committed
before the request, and any notification clears the whole cache. Concurrent requests share one
round trip, so its cost is spread over them (the lookup it replaces was one round trip each,
plus a pooled connection). A lookup in flight when the cache is cleared is not stored (a
generation counter). If the listener is broken the cache is dropped and requests look their
caller up until a reconnect succeeds (tried at most every `retry_seconds`).

A round trip per batch rather than no round trip: reading only what is already on the
listener's socket (PQconsumeInput, non-blocking) was measured to miss ~1 in 4 notifications of a
COMMIT that had just returned (the listener had not written it yet, up to ~0.2 ms later), so a
deactivation could be ignored by the next request.
Token *signatures* are verified once per token
(`TokenCodec.verify`), as they cannot change.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg
from sqlalchemy import bindparam, select

from headway_api.core.security import TokenClaims
from headway_api.db import Reader
from headway_assets.core.warehouse.schema import Organization, User

LOGGER = logging.getLogger("headway_api.principal")
CHANNEL = "headway_principals"

_ORGANIZATION = select(Organization.id, Organization.name).where(
    Organization.slug == bindparam("slug"), Organization.is_active.is_(True)
)
# The user of a local token, only if it and its organisation (the token's) are both active.
_USER = (
    select(Organization.id, Organization.name, User.email, User.full_name, User.role)
    .join(Organization, Organization.id == User.org_id)
    .where(
        User.id == bindparam("user_id"),
        Organization.slug == bindparam("slug"),
        User.is_active.is_(True),
        Organization.is_active.is_(True),
    )
)


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller: every query is scoped to `org_id`, which only ever comes from here."""

    org_id: int
    org_slug: str
    org_name: str
    subject: str
    user_id: int | None
    email: str | None
    full_name: str | None
    role: str
    scopes: frozenset[str] = frozenset()  # from the token, e.g. catalogue:write for a service client
    token_id: str | None = None  # the token's `jti`: which of a client's tokens made a change (audit)


class PrincipalInvalidation:
    """An autocommit connection LISTENing on `headway_principals`, and the barrier every request passes.

    `sync()` makes one round trip on it that *began after the call*, shared by every request
    waiting at that moment (so many concurrent requests cost one round trip, not one each), and
    calls `on_change` if a notification came with it. It reconnects, at most every
    `retry_seconds`, when the connection is broken; meanwhile it reports unhealthy.
    """

    def __init__(self, connect_args: tuple[tuple[Any, ...], dict[str, Any]], retry_seconds: float = 5.0) -> None:
        self._connect_args = connect_args
        self.retry_seconds = retry_seconds
        self.conn: psycopg.AsyncConnection[Any] | None = None
        self.on_change: Callable[[], None] = lambda: None
        self.round_trips = 0  # made so far (tests check they are shared)
        self._next_attempt = 0.0
        self._started = 0
        self._completed = 0
        self._lock: asyncio.Lock | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _notified(self, _notify: psycopg.Notify) -> None:
        self.on_change()

    async def _connect(self) -> None:
        args, kwargs = self._connect_args
        # A short timeout: requests wait for a reconnect, at most once every `retry_seconds`.
        conn = await psycopg.AsyncConnection.connect(*args, **{**kwargs, "connect_timeout": 2}, autocommit=True)
        try:
            conn.add_notify_handler(self._notified)
            await conn.execute(f"LISTEN {CHANNEL}")
        except BaseException:
            await conn.close()
            raise
        self.conn = conn

    def backend_pid(self) -> int | None:
        """The listener's server process (for tests and diagnostics), or None when disconnected."""
        return None if self.conn is None else self.conn.pgconn.backend_pid

    async def sync(self) -> bool:
        """Whether the listener is up *and* has received every notification committed before this call."""
        loop = asyncio.get_running_loop()
        if self._lock is None or self._loop is not loop:
            # The connection and the lock belong to one event loop (test clients start several).
            await self.close()
            self._lock, self._loop = asyncio.Lock(), loop
        ticket = self._started
        async with self._lock:
            if self._completed > ticket:
                return self.conn is not None  # a round trip that began after our call has completed
            self._started += 1
            number = self._started
            try:
                if self.conn is None:
                    now = time.monotonic()
                    if now < self._next_attempt:
                        return False
                    self._next_attempt = now + self.retry_seconds
                    await self._connect()
                    self.on_change()  # anything may have changed while nobody listened
                else:
                    # PostgreSQL signals listening sessions before the notifying COMMIT returns,
                    # and a session delivers pending notifications before it answers: this round
                    # trip brings every notification committed before it was sent.
                    self.round_trips += 1
                    await self.conn.execute("SELECT 1")
            except psycopg.Error as error:
                LOGGER.warning("principal cache: listener unavailable (%s); looking callers up meanwhile", error)
                self.on_change()
                await self._drop()
                self._next_attempt = time.monotonic() + self.retry_seconds
                return False
            self._completed = number
            return True

    async def _drop(self) -> None:
        conn, self.conn = self.conn, None
        if conn is not None:
            with contextlib.suppress(psycopg.Error):  # already broken: nothing to close cleanly
                await conn.close()

    async def close(self) -> None:
        """Close the listening connection (idempotent); the next `sync()` reconnects."""
        await self._drop()
        self._next_attempt = 0.0


# What the database said about a caller: a user's (org_id, org_name, email, full_name, role),
# an organisation's (org_id, org_name), or None (refused).
_Answer = tuple[Any, ...] | None


class PrincipalCache:
    """Per-process answers of the caller lookups, cleared on every notification (bounded)."""

    def __init__(self, invalidation: PrincipalInvalidation, max_entries: int = 10_000) -> None:
        self.invalidation = invalidation
        invalidation.on_change = self.clear
        self.max_entries = max_entries
        self._answers: dict[tuple[Any, ...], _Answer] = {}
        self.generation = 0  # bumped on every clear: a lookup begun before it is not stored

    async def usable(self) -> bool:
        """Pass the listener's barrier (which clears on any change). True when the cache may be used."""
        if await self.invalidation.sync():
            return True
        self.clear()
        return False

    def clear(self) -> None:
        """Forget every answer."""
        self._answers.clear()
        self.generation += 1

    def get(self, key: tuple[Any, ...]) -> tuple[bool, _Answer]:
        """(found, answer)."""
        if key in self._answers:
            return True, self._answers[key]
        return False, None

    def put(self, key: tuple[Any, ...], answer: _Answer, generation: int) -> None:
        """Store `answer` unless the cache was cleared since `generation` was read.

        A change committed during the lookup that the lookup did not see is cleared by the
        barrier of the next request (begun after that commit) before the cache is read.
        """
        if generation != self.generation:
            return
        if len(self._answers) >= self.max_entries:
            self._answers.clear()  # bounded: many callers at once just means more lookups
        self._answers[key] = answer

    async def close(self) -> None:
        """Stop listening."""
        self.clear()
        await self.invalidation.close()


class PrincipalResolver:
    """Turns verified claims into a Principal, refusing unknown or inactive organisations and users."""

    def __init__(self, cache: PrincipalCache | None = None) -> None:
        self.cache = cache
        self.lookups = 0  # database lookups made (tests check that a warm cache makes none)

    async def _answer(self, db: Reader, key: tuple[Any, ...], claims: TokenClaims) -> _Answer:
        cache = self.cache
        generation = -1
        if cache is not None and await cache.usable():
            found, answer = cache.get(key)
            if found:
                return answer
            generation = cache.generation
        self.lookups += 1
        if claims.user_id is not None:
            # A local user's token must match a live user of that same, live organisation.
            rows = await db.rows(_USER, {"user_id": claims.user_id, "slug": claims.org_slug})
        else:
            rows = await db.rows(_ORGANIZATION, {"slug": claims.org_slug})
        answer = tuple(rows[0]) if rows else None
        if cache is not None and generation >= 0:
            cache.put(key, answer, generation)
        return answer

    async def resolve(self, db: Reader, claims: TokenClaims) -> Principal | None:
        """The caller of `claims` as the database has it now, or None to refuse (at most one query)."""
        user_id = claims.user_id
        if user_id is not None:
            answer = await self._answer(db, ("user", user_id, claims.org_slug), claims)
            if answer is None:
                return None
            org_id, org_name, email, full_name, role = answer
            return Principal(
                org_id=int(org_id),
                org_slug=claims.org_slug,
                org_name=org_name,
                subject=claims.subject,
                user_id=user_id,
                email=email,
                full_name=full_name,
                role=role,
                scopes=claims.scopes,
                token_id=claims.token_id,
            )
        # A subject from the external identity provider: the provider vouches for it.
        answer = await self._answer(db, ("organization", claims.org_slug), claims)
        if answer is None:
            return None
        org_id, org_name = answer
        return Principal(
            org_id=int(org_id),
            org_slug=claims.org_slug,
            org_name=org_name,
            subject=claims.subject,
            user_id=None,
            email=None,
            full_name=None,
            role="member",
            scopes=claims.scopes,
            token_id=claims.token_id,
        )

    async def start(self) -> None:
        """Start listening now (at startup) rather than on the first request."""
        if self.cache is not None:
            await self.cache.usable()

    async def close(self) -> None:
        """Stop the cache's listener, if any."""
        if self.cache is not None:
            await self.cache.close()
