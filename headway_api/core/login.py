"""Password sign-in with rate limiting: failures are counted per account and per client address.

Past `login_max_failures` failures for an account since its last successful sign-in (or
`login_max_failures_per_client` from one address) within `login_window_seconds`, sign-in is
refused with 429 and Retry-After before any password is checked. Each attempt is recorded as a
failure *before* the password is checked and turned into a success afterwards, so parallel
guesses cannot slip past the limit while the (slow) check runs. Every check costs one argon2
verification, known account or not, which slows guessing and hides which accounts exist.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, func, insert, or_, select, update

from headway_api.core.config import ApiSettings
from headway_api.core.security import (
    USER_SUBJECT_PREFIX,
    IssuedToken,
    TokenCodec,
    hash_password,
    verify_password,
)
from headway_api.db import Database
from headway_assets.core.warehouse.schema import LoginAttempt, Organization, User, utc_now

# Attempts are kept at least this long (or the window, if longer), then pruned as new ones arrive.
KEEP_ATTEMPTS = timedelta(days=1)
MAX_USERNAME_LENGTH = 320
MAX_CLIENT_LENGTH = 64


@dataclass(frozen=True, slots=True)
class LoginOutcome:
    """A token on success; `retry_after` seconds when rate-limited; neither for bad credentials."""

    token: IssuedToken | None = None
    retry_after: int | None = None


def normalise_username(username: str) -> str:
    """E-mail addresses compare case-insensitively and without surrounding blanks."""
    return username.strip().lower()[:MAX_USERNAME_LENGTH]


def _wait(
    conn: Connection, condition: object, since: datetime, limit: int, window: timedelta, now: datetime
) -> int | None:
    failures = conn.execute(
        select(LoginAttempt.attempted_at)
        .where(condition, LoginAttempt.succeeded.is_(False), LoginAttempt.attempted_at > since)  # type: ignore[arg-type]
        .order_by(LoginAttempt.attempted_at.desc())
        .limit(limit)
    ).all()
    if len(failures) < limit:
        return None
    # Allowed again once the oldest of the last `limit` failures leaves the window.
    oldest: datetime = failures[-1].attempted_at
    return max(1, math.ceil((oldest + window - now).total_seconds()))


def _check_and_record(
    conn: Connection, settings: ApiSettings, username: str, client: str, now: datetime
) -> tuple[int | None, int]:
    window = timedelta(seconds=settings.login_window_seconds)
    window_start = now - window
    last_success = conn.execute(
        select(func.max(LoginAttempt.attempted_at)).where(
            LoginAttempt.username == username, LoginAttempt.succeeded.is_(True)
        )
    ).scalar_one_or_none()
    account_since = max(window_start, last_success) if last_success else window_start
    waits = [
        _wait(conn, LoginAttempt.username == username, account_since, settings.login_max_failures, window, now),
        _wait(
            conn,
            LoginAttempt.client_ip == client,
            window_start,
            settings.login_max_failures_per_client,
            window,
            now,
        ),
    ]
    blocked = [wait for wait in waits if wait is not None]
    if blocked:
        return max(blocked), 0
    attempt_id = conn.execute(
        insert(LoginAttempt)
        .values(username=username, client_ip=client, succeeded=False, attempted_at=now)
        .returning(LoginAttempt.id)
    ).scalar_one()
    conn.execute(
        delete(LoginAttempt).where(
            or_(LoginAttempt.username == username, LoginAttempt.client_ip == client),
            LoginAttempt.attempted_at < now - max(KEEP_ATTEMPTS, window),
        )
    )
    return None, int(attempt_id)


def attempt_login(
    db: Database, settings: ApiSettings, tokens: TokenCodec, *, username: str, password: str, client: str
) -> LoginOutcome:
    """Check a password sign-in, record the attempt, and issue a token on success."""
    username = normalise_username(username)
    client = client[:MAX_CLIENT_LENGTH]
    now = utc_now()
    with db.engine.connect() as conn:
        conn.execution_options(headway_write=True)
        with conn.begin():
            retry_after, attempt_id = _check_and_record(conn, settings, username, client, now)
        if retry_after is not None:
            return LoginOutcome(retry_after=retry_after)
        with conn.begin():
            user = conn.execute(
                select(
                    User.id,
                    User.hashed_password,
                    User.is_active,
                    Organization.slug,
                    Organization.is_active.label("org_active"),
                )
                .join(Organization, Organization.id == User.org_id)
                .where(User.email == username)
            ).one_or_none()
    usable = user is not None and bool(user.is_active) and bool(user.org_active)
    # The slow check runs outside any transaction, so it holds no lock.
    matches, needs_rehash = verify_password(user.hashed_password if user is not None and usable else None, password)
    if not matches or user is None:
        return LoginOutcome()
    with db.engine.connect() as conn:
        conn.execution_options(headway_write=True)
        with conn.begin():
            conn.execute(update(LoginAttempt).where(LoginAttempt.id == attempt_id).values(succeeded=True))
            if needs_rehash:
                conn.execute(
                    update(User)
                    .where(User.id == user.id)
                    .values(hashed_password=hash_password(password, enforce_policy=False))
                )
    token = tokens.issue(
        subject=f"{USER_SUBJECT_PREFIX}{user.id}",
        org_slug=user.slug,
        lifetime=timedelta(minutes=settings.access_token_expire_minutes),
    )
    return LoginOutcome(token=token)
