"""Who is calling: a verified token turned into an organisation (and a user), checked on every request.

Nothing about who may call is cached: deactivating a user, a service client or an organisation
(`headway users deactivate`, or in the database) refuses its tokens from the very next request,
on every API process. That costs one indexed lookup per request, a single round trip (user by
primary key joined to its organisation; an identity provider's subject: the organisation by its
unique slug), which is far cheaper than the request's own query. Token *signatures* are still
verified once per token (`TokenCodec.verify`), as they cannot change.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import bindparam, select

from headway_api.core.security import TokenClaims
from headway_api.db import Reader
from headway_assets.warehouse.schema import Organization, User

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


class PrincipalResolver:
    """Turns verified claims into a Principal, refusing unknown or inactive organisations and users."""

    async def resolve(self, db: Reader, claims: TokenClaims) -> Principal | None:
        """The caller of `claims` as the database has it now, or None to refuse (one query)."""
        user_id = claims.user_id
        if user_id is not None:
            # A local user's token must match a live user of that same, live organisation.
            rows = await db.rows(_USER, {"user_id": user_id, "slug": claims.org_slug})
            if not rows:
                return None
            org_id, org_name, email, full_name, role = rows[0]
            return Principal(
                org_id=int(org_id),
                org_slug=claims.org_slug,
                org_name=org_name,
                subject=claims.subject,
                user_id=user_id,
                email=email,
                full_name=full_name,
                role=role,
            )
        # A subject from the external identity provider: the provider vouches for it.
        rows = await db.rows(_ORGANIZATION, {"slug": claims.org_slug})
        if not rows:
            return None
        org_id, org_name = rows[0]
        return Principal(
            org_id=int(org_id),
            org_slug=claims.org_slug,
            org_name=org_name,
            subject=claims.subject,
            user_id=None,
            email=None,
            full_name=None,
            role="member",
        )
