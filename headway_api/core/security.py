"""Passwords (argon2id) and access tokens (JWT, verified with PyJWT, the algorithm pinned)."""

from __future__ import annotations

import math
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
from argon2 import Parameters, PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from pydantic import SecretStr

from headway_api.core.config import ApiSettings, ConfigError, load_or_create_secret

# argon2id with the library's current recommended parameters (RFC 9106 "second choice" profile).
_HASHER = PasswordHasher()
# Verified against when the account does not exist, so a miss costs as long as a wrong password
# and response times do not reveal which e-mail addresses have accounts. Made on first use, not
# at import: hashing takes 64 MiB and ~0.15 s of CPU, which every `headway` command paid (the
# CLI imports this module to register `users` and `tokens`); the API makes it at start-up.
_DUMMY_HASH: str | None = None


def dummy_password_hash() -> str:
    """The hash checked when there is no account (made once, with the current parameters)."""
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        _DUMMY_HASH = _HASHER.hash(secrets.token_urlsafe(16))
    return _DUMMY_HASH


def configure_password_hashing(parameters: Parameters) -> None:
    """Hash new passwords with other argon2 parameters (tests use argon2's cheapest profile).

    Existing hashes keep verifying; a sign-in re-hashes a password whose parameters differ.
    """
    global _HASHER, _DUMMY_HASH
    _HASHER = PasswordHasher.from_parameters(parameters)
    _DUMMY_HASH = None


# Subjects of tokens issued to local users look like "user:42".
USER_SUBJECT_PREFIX = "user:"
# OAuth-style scopes a token may carry in its `scope` claim (space-separated). A service client
# reads only, unless its token carries CATALOGUE_WRITE_SCOPE (`headway tokens mint --scope`).
CATALOGUE_WRITE_SCOPE = "catalogue:write"
KNOWN_SCOPES = (CATALOGUE_WRITE_SCOPE,)
MIN_PASSWORD_LENGTH = 10
MAX_TOKEN_LENGTH = 8192
MAX_REMEMBERED_TOKENS = 10_000
MAX_PASSWORD_LENGTH = 1024


def hash_password(password: str, *, enforce_policy: bool = True) -> str:
    """An argon2id hash of `password`; refuses too short or absurdly long ones unless `enforce_policy` is off.

    (Re-hashing an existing password with newer parameters turns the policy off: it was accepted once.)
    """
    if enforce_policy and len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"password too short: use at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValueError(f"password too long: use at most {MAX_PASSWORD_LENGTH} characters")
    return _HASHER.hash(password)


def verify_password(password_hash: str | None, password: str) -> tuple[bool, bool]:
    """Check `password` against `password_hash`: (matches, hash needs upgrading to current parameters).

    With no hash (unknown user, service client) a dummy hash is checked, so the answer takes as
    long as for a real account, and is always False.
    """
    if len(password) > MAX_PASSWORD_LENGTH:
        password = password[:MAX_PASSWORD_LENGTH]  # bound the work; such a password never matches
    try:
        _HASHER.verify(password_hash or dummy_password_hash(), password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False, False
    if password_hash is None:
        return False, False
    return True, _HASHER.check_needs_rehash(password_hash)


NUMERIC_DATE_CLAIMS = ("exp", "nbf", "iat")


def is_numeric_date(value: object) -> bool:
    """Whether `value` is an RFC 7519 NumericDate: a finite JSON number (not a string, not a boolean)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


class InvalidTokenError(Exception):
    """The bearer token is missing, malformed, expired, not yet valid or not ours.

    The reason stays server-side (logs at debug level); clients get one uniform 401.
    """


@dataclass(frozen=True, slots=True)
class TokenClaims:
    """The verified claims the API uses."""

    subject: str
    org_slug: str
    issued_at: datetime
    expires_at: datetime
    token_id: str | None
    scopes: frozenset[str] = frozenset()

    @property
    def user_id(self) -> int | None:
        """The local user id for tokens this API issued ("user:<id>"), else None (identity provider)."""
        if not self.subject.startswith(USER_SUBJECT_PREFIX):
            return None
        raw = self.subject[len(USER_SUBJECT_PREFIX) :]
        return int(raw) if raw.isdigit() and len(raw) < 19 else None


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A freshly minted access token and when it expires."""

    access_token: str
    expires_at: datetime
    expires_in: int


class TokenCodec:
    """Mints and verifies the API's JWTs: one pinned algorithm, issuer and audience."""

    def __init__(self, settings: ApiSettings, *, data_dir: Path) -> None:
        self.algorithm = settings.jwt_algorithm
        self.issuer = settings.jwt_issuer
        self.audience = settings.jwt_audience
        self.org_claim = settings.jwt_org_claim
        self.leeway = settings.jwt_leeway_seconds
        self._verify_key: str | bytes
        self._sign_key: str | bytes | None
        self.server_secret: bytes  # the secret other server-side signatures (page cursors) derive keys from
        if self.algorithm == "HS256":
            secret: SecretStr = settings.jwt_secret_key or load_or_create_secret(data_dir)
            self._verify_key = self._sign_key = secret.get_secret_value().encode()
            self.server_secret = self._verify_key
        else:
            if settings.jwt_public_key is None:  # ApiSettings refuses this; keeps mypy and readers sure
                raise ConfigError("JWT_ALGORITHM=RS256 needs JWT_PUBLIC_KEY")
            self._verify_key = settings.jwt_public_key.get_secret_value()
            self._sign_key = settings.jwt_private_key.get_secret_value() if settings.jwt_private_key else None
            # The public key is no secret: page cursors are signed with the private key when this
            # API has one, else with the secret generated into the data directory.
            private = settings.jwt_private_key
            self.server_secret = (private or load_or_create_secret(data_dir)).get_secret_value().encode()
        self._verified: dict[str, TokenClaims] = {}

    @property
    def can_issue(self) -> bool:
        """False when tokens come only from an external identity provider (RS256 without a private key)."""
        return self._sign_key is not None

    def issue(
        self,
        *,
        subject: str,
        org_slug: str,
        lifetime: timedelta,
        now: datetime | None = None,
        scopes: tuple[str, ...] = (),
    ) -> IssuedToken:
        """A signed access token for `subject` in organisation `org_slug`, with `scopes` if any."""
        if self._sign_key is None:
            raise ConfigError(
                "this API only verifies tokens (RS256 without JWT_PRIVATE_KEY): the identity provider"
                " issues them; set JWT_PRIVATE_KEY to issue tokens here"
            )
        issued_at = (now or datetime.now(UTC)).replace(microsecond=0)
        expires_at = issued_at + lifetime
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": subject,
            self.org_claim: org_slug,
            "iat": issued_at,
            "nbf": issued_at,
            "exp": expires_at,
            "jti": uuid.uuid4().hex,
        }
        if scopes:
            claims["scope"] = " ".join(sorted(set(scopes)))
        token = jwt.encode(claims, self._sign_key, algorithm=self.algorithm, headers={"typ": "JWT"})
        return IssuedToken(access_token=token, expires_at=expires_at, expires_in=int(lifetime.total_seconds()))

    def verify(self, token: str) -> TokenClaims:
        """The claims of a valid token; raises InvalidTokenError for anything else.

        A token verified once is remembered until it expires (bounded memory), so a client
        sending the same token on every request pays for the signature check once.
        """
        if not token or len(token) > MAX_TOKEN_LENGTH:
            raise InvalidTokenError("empty or oversized token")
        remembered = self._verified.get(token)
        if remembered is not None:
            if remembered.expires_at.timestamp() > time.time():
                return remembered
            self._verified.pop(token, None)
            raise InvalidTokenError("ExpiredSignatureError: the token has expired")
        claims = self._decode(token)
        if len(self._verified) >= MAX_REMEMBERED_TOKENS:
            self._verified.clear()
        self._verified[token] = claims
        return claims

    def _decode(self, token: str) -> TokenClaims:
        try:
            payload = jwt.decode(
                token,
                self._verify_key,
                algorithms=[self.algorithm],  # pinned: "none" and algorithm confusion are refused
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": ["exp", "iat", "iss", "aud", "sub"], "strict_aud": True},
            )
        except jwt.PyJWTError as error:
            raise InvalidTokenError(f"{type(error).__name__}: {error}") from None
        for claim in NUMERIC_DATE_CLAIMS:
            # PyJWT compares int(value), so it takes "exp": "9999999999" (and true); RFC 7519 says
            # a NumericDate is a JSON number, and an issuer that writes strings is not ours.
            if claim in payload and not is_numeric_date(payload[claim]):
                raise InvalidTokenError(f"the `{claim}` claim is not a NumericDate (a JSON number, RFC 7519)")
        subject = payload.get("sub")
        org_slug = payload.get(self.org_claim)
        if not isinstance(subject, str) or not subject or not isinstance(org_slug, str) or not org_slug:
            raise InvalidTokenError(f"token lacks a string `sub` or `{self.org_claim}` claim")
        jti = payload.get("jti")
        scope = payload.get("scope")
        return TokenClaims(
            subject=subject,
            org_slug=org_slug,
            issued_at=datetime.fromtimestamp(int(payload["iat"]), UTC),
            expires_at=datetime.fromtimestamp(int(payload["exp"]), UTC),
            token_id=jti if isinstance(jti, str) else None,
            scopes=frozenset(scope.split()) if isinstance(scope, str) else frozenset(),
        )
