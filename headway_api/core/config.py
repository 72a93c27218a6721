"""Settings of the read API, from the environment (pydantic-settings).

The warehouse itself (`HEADWAY_DATABASE_URL`, `HEADWAY_DATA_DIR`) comes from
`headway_assets.core.settings`, shared with the pipeline. Secrets are `SecretStr`, so they never show
in a repr, a log line or an error.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# HS256 keys shorter than the hash output weaken the signature (RFC 7518, section 3.2).
MIN_HMAC_KEY_BYTES = 32
JWT_SECRET_FILE_NAME = "jwt-secret"


class ConfigError(ValueError):
    """The API's configuration cannot work; the message says which setting to fix."""


class ApiSettings(BaseSettings):
    """Every environment variable the read API reads (names are the field names, upper case)."""

    # hide_input_in_errors: a validation error must not print the secrets it was given.
    model_config = SettingsConfigDict(env_prefix="", extra="ignore", case_sensitive=False, hide_input_in_errors=True)

    jwt_algorithm: Literal["HS256", "RS256"] = Field(
        default="HS256",
        description="HS256 (secret JWT_SECRET_KEY) or RS256 (JWT_PUBLIC_KEY, e.g. an identity provider).",
    )
    jwt_secret_key: SecretStr | None = Field(
        default=None,
        description="HS256 secret (at least 32 bytes). Unset: generated once into <data_dir>/jwt-secret.",
    )
    jwt_public_key: SecretStr | None = Field(default=None, description="RS256: PEM public key that verifies tokens.")
    jwt_private_key: SecretStr | None = Field(
        default=None,
        description="RS256: PEM private key to issue tokens; unset: only the identity provider issues them.",
    )
    jwt_issuer: str = Field(default="headway", description="Expected and issued `iss` claim.")
    jwt_audience: str = Field(default="headway-api", description="Expected and issued `aud` claim.")
    jwt_org_claim: str = Field(default="org", description="Claim holding the organisation slug.")
    jwt_leeway_seconds: int = Field(default=30, ge=0, le=300, description="Clock skew allowed on exp/nbf/iat.")
    access_token_expire_minutes: int = Field(
        default=60, ge=1, le=7 * 24 * 60, description="Lifetime of tokens from POST /v1/auth/token."
    )
    service_token_max_days: int = Field(default=365, ge=1, le=3650, description="Longest token `tokens mint` makes.")
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Origins allowed to call the API from a browser (comma-separated)."
    )
    login_max_failures: int = Field(
        default=5, ge=1, le=1000, description="Failed sign-ins per account within the window before refusing."
    )
    login_max_failures_per_client: int = Field(
        default=20, ge=1, le=10000, description="Failed sign-ins per client address within the window."
    )
    login_window_seconds: int = Field(default=900, ge=1, le=86400, description="Sign-in rate-limit window.")
    sync_max_open_requests: int = Field(
        default=10,
        ge=1,
        le=1000,
        description="Pending or launched sync requests an organisation may have at once.",
    )
    sync_max_days: int = Field(default=366, ge=1, le=3660, description="Longest range one sync request may cover.")
    db_threads: int = Field(
        default=4,
        ge=1,
        le=200,
        description="Threads running blocking database work at once (SQLite reads, writes), per API process.",
    )
    db_pool_size: int = Field(
        default=10, ge=1, le=200, description="Database connections kept per API process (reads; writes alike)."
    )
    db_max_overflow: int = Field(
        default=10, ge=0, le=200, description="Extra connections under bursts (for reads, closed after 30 s idle)."
    )
    db_statement_timeout_ms: int = Field(
        default=5000, ge=0, le=600_000, description="PostgreSQL: cancel a read running longer (0: no limit)."
    )
    db_pool_timeout: float = Field(
        default=10.0, gt=0, le=300, description="Seconds a query waits for a pooled connection before failing."
    )
    auto_migrate_sqlite: bool = Field(
        default=True, description="Bring an embedded SQLite warehouse to the latest schema at start-up."
    )

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    @model_validator(mode="after")
    def _check_keys(self) -> ApiSettings:
        if self.jwt_algorithm == "RS256" and self.jwt_public_key is None:
            raise ConfigError("JWT_ALGORITHM=RS256 needs JWT_PUBLIC_KEY (the PEM public key that verifies tokens)")
        secret = self.jwt_secret_key
        if self.jwt_algorithm == "HS256" and secret and len(secret.get_secret_value().encode()) < MIN_HMAC_KEY_BYTES:
            raise ConfigError(
                f"JWT_SECRET_KEY must be at least {MIN_HMAC_KEY_BYTES} bytes; "
                "generate one with: python -c 'import secrets; print(secrets.token_urlsafe(48))'"
            )
        return self


def load_or_create_secret(data_dir: Path) -> SecretStr:
    """The HS256 secret kept in `<data_dir>/jwt-secret` (mode 0600), created on first use.

    Several API workers may start at once: the secret is written to a private temporary file and
    linked into place, so every worker reads the same complete secret.
    """
    path = data_dir / JWT_SECRET_FILE_NAME
    data_dir.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        descriptor, temporary = tempfile.mkstemp(dir=data_dir, prefix=".jwt-secret-")
        try:
            with os.fdopen(descriptor, "w") as handle:  # mkstemp creates the file with mode 0600
                handle.write(secrets.token_urlsafe(48))
            with contextlib.suppress(FileExistsError):  # another worker won the race: use its secret
                os.link(temporary, path)
        finally:
            os.unlink(temporary)
    if path.stat().st_mode & 0o077:
        os.chmod(path, 0o600)  # never leave a signing secret readable by others
    secret = path.read_text().strip()
    if len(secret.encode()) < MIN_HMAC_KEY_BYTES:
        raise ConfigError(f"{path} holds a secret shorter than {MIN_HMAC_KEY_BYTES} bytes; delete it to regenerate")
    return SecretStr(secret)


@lru_cache(maxsize=1)
def get_api_settings() -> ApiSettings:
    """The process-wide API settings (tests build their own `ApiSettings`)."""
    return ApiSettings()
