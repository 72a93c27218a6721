"""Who is calling: a verified token turned into an organisation (and a user), with a short cache."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from sqlalchemy import bindparam, select

from headway_api.core.security import TokenClaims
from headway_api.db import Reader
from headway_assets.warehouse.schema import Organization, User

_ORGANIZATION = select(Organization.id, Organization.name, Organization.is_active).where(
    Organization.slug == bindparam("slug")
)
_USER = select(User.org_id, User.email, User.full_name, User.role, User.is_active).where(
    User.id == bindparam("user_id")
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


@dataclass(frozen=True, slots=True)
class _OrgEntry:
    org_id: int
    name: str
    active: bool


@dataclass(frozen=True, slots=True)
class _UserEntry:
    org_id: int
    email: str
    full_name: str | None
    role: str
    active: bool


class PrincipalResolver:
    """Turns verified claims into a Principal, refusing unknown or inactive organisations and users.

    Lookups are cached for `ttl` seconds per process, so most requests need no extra query; a
    deactivated user or organisation is refused once its entry expires (0 disables the cache).
    """

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._orgs: dict[str, tuple[float, _OrgEntry | None]] = {}
        self._users: dict[int, tuple[float, _UserEntry | None]] = {}
        self._lock = threading.Lock()

    def cached(self, claims: TokenClaims) -> tuple[bool, Principal | None]:
        """(found in cache, the Principal or None to refuse); (False, None) means look it up."""
        now = time.monotonic()
        with self._lock:
            org_hit = self._orgs.get(claims.org_slug)
            user_id = claims.user_id
            user_hit = self._users.get(user_id) if user_id is not None else None
        if org_hit is None or org_hit[0] < now:
            return False, None
        if user_id is not None and (user_hit is None or user_hit[0] < now):
            return False, None
        return True, self._principal(claims, org_hit[1], user_hit[1] if user_hit else None)

    async def resolve(self, db: Reader, claims: TokenClaims) -> Principal | None:
        """Look the organisation (and user) up, cache them, and return the Principal or None (refuse)."""
        org_rows = await db.rows(_ORGANIZATION, {"slug": claims.org_slug})
        org = None
        if org_rows:
            org_id, name, active = org_rows[0]
            org = _OrgEntry(int(org_id), name, bool(active))
        user: _UserEntry | None = None
        user_id = claims.user_id
        if user_id is not None:
            user_rows = await db.rows(_USER, {"user_id": user_id})
            if user_rows:
                user_org_id, email, full_name, role, user_active = user_rows[0]
                user = _UserEntry(int(user_org_id), email, full_name, role, bool(user_active))
        if self.ttl > 0:
            expires = time.monotonic() + self.ttl
            with self._lock:
                if len(self._orgs) > 10_000 or len(self._users) > 100_000:
                    self._orgs.clear()  # bounded memory under a flood of distinct tokens
                    self._users.clear()
                self._orgs[claims.org_slug] = (expires, org)
                if user_id is not None:
                    self._users[user_id] = (expires, user)
        return self._principal(claims, org, user)

    def forget(self) -> None:
        """Drop every cached entry (after changing users or organisations in-process)."""
        with self._lock:
            self._orgs.clear()
            self._users.clear()

    @staticmethod
    def _principal(claims: TokenClaims, org: _OrgEntry | None, user: _UserEntry | None) -> Principal | None:
        if org is None or not org.active:
            return None
        if claims.user_id is not None:
            # A local user's token must match a live user of that same organisation.
            if user is None or not user.active or user.org_id != org.org_id:
                return None
            return Principal(
                org_id=org.org_id,
                org_slug=claims.org_slug,
                org_name=org.name,
                subject=claims.subject,
                user_id=claims.user_id,
                email=user.email,
                full_name=user.full_name,
                role=user.role,
            )
        # A subject from the external identity provider: the provider vouches for it.
        return Principal(
            org_id=org.org_id,
            org_slug=claims.org_slug,
            org_name=org.name,
            subject=claims.subject,
            user_id=None,
            email=None,
            full_name=None,
            role="member",
        )
