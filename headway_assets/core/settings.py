"""Headway's one configuration: a `Settings` tree per process, fed by the environment and `.env`.

Every environment variable Headway's own code reads is a field here (the vendor SDKs still read
their API keys themselves), and no other product module reads `os.environ`
(tests/test_configuration.py holds that line). The tree has one section per concern,
each a pydantic-settings model; a value missing from the environment is looked up in the `.env`
file at the project root, then falls back to the field's default:

=================  ============================================================================
`pipeline`         `HeadwaySettings`: every `HEADWAY_*` variable of the pipeline (warehouse, data
                   folder, partitions, removal guard, LLM provider and limits, `HEADWAY_LLM_PRICES`,
                   `HEADWAY_CREDENTIALS_KEY`).
`api`              `ApiSettings`: the read API (`JWT_*`, `CORS_ORIGINS`, `DB_*`, sign-in and sync
                   limits); `headway_api.core.config` re-exports it.
`orchestration`    `HEADWAY_EXECUTOR`, the Celery broker and backend, `DAGSTER_HOME`,
                   `HEADWAY_PERIODIC_SYNC_CRON`, `HEADWAY_ALERT_SLACK_WEBHOOK_URL`.
`slack`            The Slack app (`SLACK_CLIENT_ID`, `SLACK_CLIENT_SECRET`, `SLACK_REDIRECT_URI`,
                   `SLACK_API_BASE_URL`, `SLACK_AUTHORIZE_URL`, `HEADWAY_SLACK_STATE_*`).
`gmail`            The Google OAuth client (`GOOGLE_CLIENT_ID`, `GOOGLE_CLIENT_SECRET`).
`tracing`          Langfuse (`LANGFUSE_*`) and OTLP (`OTEL_EXPORTER_OTLP_*`) trace export.
=================  ============================================================================

`get_settings()` gives the process's tree. A section is built (and validated) the first time it is
read, so a process that never serves the API never fails on the API's settings. The tree is kept
while the process environment stays the same; a changed variable (a test's `monkeypatch.setenv`,
a deployment script) gives a new tree on the next call, and `get_settings.cache_clear()` drops it
outright (after editing `.env`, for instance). Code that must hand a value on through the
environment (Dagster's `DAGSTER_HOME`, dagster-celery's broker URL) writes it with
`export_environment`. This module reads nothing at import time.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATA_DIR = PROJECT_ROOT / "data"
# Values missing from the environment are looked up here (a missing file is fine).
ENV_FILE = PROJECT_ROOT / ".env"

# HS256 keys shorter than the hash output weaken the signature (RFC 7518, section 3.2).
MIN_HMAC_KEY_BYTES = 32


class ConfigError(ValueError):
    """A configuration that cannot work; the message says which setting to fix."""


class HeadwaySettings(BaseSettings):
    """The `pipeline` section: every `HEADWAY_*` variable of the pipeline (README lists them all)."""

    model_config = SettingsConfigDict(env_file=ENV_FILE, extra="ignore", env_prefix="HEADWAY_")

    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the warehouse; unset means an SQLite file in the data folder.",
    )
    data_dir: Path = Field(default=DEFAULT_DATA_DIR, description="Folder for the SQLite warehouse and the demo corpus.")
    partitions_start: date = Field(default=date(2025, 1, 1), description="First day of the daily partitions (UTC).")
    max_removal_share: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="Largest share of a connection's stored messages of one day that one sync may remove "
        "(messages deleted at the source); a sync that would remove more removes nothing and fails the "
        "removals_within_limit check until re-run with the run tag headway/allow_removals=true.",
    )
    removal_guard_floor: int = Field(
        default=2,
        ge=0,
        description="Messages of one day a sync may always remove, whatever the share (small days).",
    )
    api_public_url: str = Field(
        default="http://127.0.0.1:8000",
        description="Where people reach the read API: the links of Slack notifications point there.",
    )
    credentials_key: SecretStr | None = Field(
        default=None,
        description="Fernet key encrypting connection credentials; unset: generated once into "
        "<data_dir>/credentials.key.",
    )

    llm_provider: str = Field(
        default="offline",
        description="Which provider labels and extracts: a name registered in core/llm_catalogue.py "
        "(offline, the default, needs no key). Checked when the provider is built.",
    )
    llm_base_url: str | None = Field(
        default=None, description="Base URL for the provider's API (a proxy, a gateway or a local fake)."
    )
    tier1_model: str | None = Field(default=None, description="Model for tier-1 labels (provider default if unset).")
    models_dir: Path | None = Field(
        default=None,
        description="Folder of organisations' own tier-1 models: `headway model train --org SLUG` writes "
        "<models_dir>/SLUG/tier1.joblib, and with HEADWAY_TIER1_MODEL=headway-local-2 the pipeline labels that "
        "organisation's messages with it (unset: <data_dir>/models).",
    )
    tier2_model: str | None = Field(default=None, description="Model for tier-2 mentions (provider default if unset).")
    insight_model: str | None = Field(default=None, description="Model for per-message insights.")
    match_model: str | None = Field(default=None, description="Model for catalogue matching.")
    call_model: str = Field(
        default="headway-call-cues-1",
        description="Call intelligence with a hosted provider: headway-call-cues-1 (the default) assesses every call "
        "with the local cue-phrase heuristics, no LLM call; a provider model (claude-haiku-4-5) has the model assess "
        "each call (about $0.0028 a call on the demo corpus, docs/benchmarks.md). An organisation's call_model "
        "setting overrides it (headway orgs call-model). The offline provider ignores it.",
    )
    llm_max_in_flight: int = Field(default=16, ge=1, description="LLM calls in flight at once within one run.")
    llm_timeout_seconds: float = Field(default=60.0, gt=0, description="Timeout of one LLM HTTP call.")
    llm_max_retries: int = Field(default=4, ge=0, description="SDK retries on 429/5xx/timeouts (honours retry-after).")
    llm_outage_patience_seconds: float = Field(
        default=180.0,
        ge=0,
        description="How long an AI run waits out a provider outage (429/5xx/timeouts past the SDK's retries, "
        "since the provider last answered) before it stops and leaves the rest pending for the next run.",
    )
    llm_batch_mode: Literal["off", "backfill", "always"] = Field(
        default="off",
        description="Send tier-1, tier-2, insight and call-intelligence work through the vendor's batch API at half "
        "price: off, backfill (runs covering more than one day) or always; the llm_batch_results sensor lands the "
        "answers.",
    )
    tier1_batch_items: int = Field(default=100, ge=1, description="Messages (or chunks) per tier-1 call.")
    tier2_batch_items: int = Field(default=24, ge=1, description="Relevant messages (or chunks) per tier-2 call.")
    insight_batch_items: int = Field(default=40, ge=1, description="Messages per insight call.")
    match_batch_items: int = Field(default=20, ge=1, description="Mentions (each with its candidates) per match call.")
    call_batch_items: int = Field(
        default=8, ge=1, description="Gong/Fathom calls (their excerpts) per call-intelligence request."
    )
    llm_batch_chars: int = Field(
        default=160_000,
        ge=1_000,
        description="Characters of input per batched call (160,000 is about 40,000 tokens: well inside every "
        "model's context, and room for several whole call transcripts in one tier-2 call).",
    )
    max_items_per_run: int = Field(
        default=0, ge=0, description="Messages one AI run handles before stopping early (0 = no cap)."
    )
    run_deadline_seconds: float = Field(
        default=0,
        ge=0,
        description="Soft time limit of one AI run; it stops starting calls after it (0 = none).",
    )
    llm_run_budget_usd: float = Field(
        default=0,
        ge=0,
        description="LLM spend (USD at list prices) after which one AI run starts no more calls; what is left "
        "stays pending for the next run (0 = no limit).",
    )
    llm_monthly_budget_usd: float = Field(
        default=0,
        ge=0,
        description="Default monthly LLM spend per organisation (USD at list prices, calendar month, UTC); an "
        "organisation over it gets no more AI work that month, its items stay pending (0 = no limit). "
        "`headway orgs budget` sets one organisation's own.",
    )
    llm_excerpt_threshold: float = Field(
        default=0.15,
        ge=0,
        le=1,
        description="With a hosted provider, call transcripts go to tier-2 as their lines that may hold feedback "
        "(not the organisation's own people's turns when the call has external participants, and at least this "
        "P(feedback) from the local model), with [...] for the rest, instead of whole (0 = whole).",
    )
    tier1_digest_chars: int = Field(
        default=3_000,
        ge=0,
        description="With a hosted provider, tier-1 reads a call transcript as one item of about this many "
        "characters: its customers' lines the local model finds likeliest feedback (0 = five 1,200-character "
        "windows spread over the call, as before; docs/benchmarks.md measures the trade).",
    )
    local_first_pass_threshold: float = Field(
        default=0,
        ge=0,
        le=1,
        description="With a hosted provider, messages the local model gives at least this P(not feedback) are "
        "labelled locally and not sent to tier-1 (0 = off; an organisation's own local_first_pass_threshold "
        "setting overrides it).",
    )
    pii_redaction: bool = Field(
        default=True,
        description="Replace e-mail addresses, phone numbers, card numbers, IBANs, keys and the names of a "
        "message's people with placeholders before any LLM call (an organisation's own `pii_redaction` "
        "setting overrides it).",
    )
    # Kept as text: llm/pricing.py parses it and says what shape it expects when it is wrong.
    llm_prices: str | None = Field(
        default=None,
        description='Price overrides, JSON {"model": [input, output, cache_read, cache_write]} in USD per '
        "million tokens.",
    )

    @property
    def warehouse_url(self) -> str:
        """The warehouse URL, falling back to the embedded SQLite file."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'headway.db'}"

    @property
    def org_models_dir(self) -> Path:
        """Where organisations' own tier-1 models live (`models_dir`, else `<data_dir>/models`)."""
        return self.models_dir if self.models_dir is not None else self.data_dir / "models"

    @property
    def demo_dir(self) -> Path:
        """Where the demo corpus is written and read."""
        return self.data_dir / "demo"


PipelineSettings = HeadwaySettings


class ApiSettings(BaseSettings):
    """The `api` section: every variable the read API reads (names are the field names, upper case)."""

    # hide_input_in_errors: a validation error must not print the secrets it was given.
    model_config = SettingsConfigDict(
        env_file=ENV_FILE, extra="ignore", env_prefix="", case_sensitive=False, hide_input_in_errors=True
    )

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
    customer_lock_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        le=600,
        description="PostgreSQL: how long a customer merge or CRM import waits for the organisation's author "
        "resolution run (or another merge or import) to finish before answering 409 `busy`.",
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


class OrchestrationSettings(BaseSettings):
    """The `orchestration` section: executor, Celery, Dagster instance, schedules and alerts."""

    # env_ignore_empty: an empty variable means unset, as the environment reads it replaced did.
    model_config = SettingsConfigDict(env_file=ENV_FILE, extra="ignore", env_prefix="HEADWAY_", env_ignore_empty=True)

    executor: str = Field(
        default="",
        description="multiprocess (default) or celery; checked by orchestration/executors.py, which names the choices.",
    )
    celery_broker_url: str = Field(default="redis://127.0.0.1:6379/0", description="Celery broker (Redis or amqp://).")
    celery_backend_url: str = Field(default="redis://127.0.0.1:6379/1", description="Celery result backend.")
    dagster_home: Path | None = Field(
        default=None,
        validation_alias="DAGSTER_HOME",
        description="Dagster instance folder; unset: <data_dir>/dagster-home for the embedded instance.",
    )
    periodic_sync_cron: str = Field(default="*/15 * * * *", description="When the periodic_sync schedule ticks.")
    alert_slack_webhook_url: SecretStr | None = Field(
        default=None, description="Slack incoming webhook that failed runs are posted to."
    )


class SlackSettings(BaseSettings):
    """The `slack` section: the Slack app that installs into organisations and refreshes tokens.

    Kept as given (text): `sources/slack/oauth.py` checks what is missing and says which variable
    to set, which a validation error here would not.
    """

    model_config = SettingsConfigDict(env_file=ENV_FILE, extra="ignore", env_ignore_empty=True)

    client_id: str | None = Field(default=None, validation_alias="SLACK_CLIENT_ID")
    client_secret: SecretStr | None = Field(default=None, validation_alias="SLACK_CLIENT_SECRET")
    redirect_uri: str | None = Field(default=None, validation_alias="SLACK_REDIRECT_URI")
    state_secret: SecretStr | None = Field(
        default=None,
        validation_alias="HEADWAY_SLACK_STATE_SECRET",
        description="Key signing the install state; unset: derived from the client secret.",
    )
    state_ttl_seconds: str | None = Field(
        default=None, validation_alias="HEADWAY_SLACK_STATE_TTL_SECONDS", description="Lifetime of the install state."
    )
    api_base_url: str | None = Field(
        default=None, validation_alias="SLACK_API_BASE_URL", description="Web API base URL (a proxy or a fake)."
    )
    authorize_url: str | None = Field(
        default=None, validation_alias="SLACK_AUTHORIZE_URL", description="OAuth authorize page (a proxy or a fake)."
    )


class GmailSettings(BaseSettings):
    """The `gmail` section: the Google OAuth client that refreshes Gmail tokens."""

    model_config = SettingsConfigDict(env_file=ENV_FILE, extra="ignore", env_ignore_empty=True)

    client_id: str | None = Field(default=None, validation_alias="GOOGLE_CLIENT_ID")
    client_secret: SecretStr | None = Field(default=None, validation_alias="GOOGLE_CLIENT_SECRET")


class TracingSettings(BaseSettings):
    """The `tracing` section: where LLM call traces go (Langfuse, or any OTLP/HTTP collector)."""

    model_config = SettingsConfigDict(env_file=ENV_FILE, extra="ignore", env_ignore_empty=True)

    langfuse_public_key: SecretStr | None = Field(default=None, validation_alias="LANGFUSE_PUBLIC_KEY")
    langfuse_secret_key: SecretStr | None = Field(default=None, validation_alias="LANGFUSE_SECRET_KEY")
    # LANGFUSE_HOST is the older name of the same setting.
    langfuse_base_url: str | None = Field(
        default=None, validation_alias=AliasChoices("LANGFUSE_BASE_URL", "LANGFUSE_HOST")
    )
    otlp_traces_endpoint: str | None = Field(default=None, validation_alias="OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    otlp_endpoint: str | None = Field(default=None, validation_alias="OTEL_EXPORTER_OTLP_ENDPOINT")


class Settings:
    """One process's configuration; each section is read from the environment on first use."""

    @cached_property
    def pipeline(self) -> HeadwaySettings:
        """The pipeline's `HEADWAY_*` settings."""
        return HeadwaySettings()

    @cached_property
    def api(self) -> ApiSettings:
        """The read API's settings."""
        return ApiSettings()

    @cached_property
    def orchestration(self) -> OrchestrationSettings:
        """Executor, Celery, Dagster instance, schedule and alert settings."""
        return OrchestrationSettings()

    @cached_property
    def slack(self) -> SlackSettings:
        """The Slack app's settings."""
        return SlackSettings()

    @cached_property
    def gmail(self) -> GmailSettings:
        """The Google OAuth client's settings."""
        return GmailSettings()

    @cached_property
    def tracing(self) -> TracingSettings:
        """Trace export settings."""
        return TracingSettings()


class _SettingsCache:
    """`get_settings`: the process's tree, kept while the environment is unchanged."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._environment: dict[str, str] | None = None
        self._settings: Settings | None = None

    def __call__(self) -> Settings:
        """The process's settings tree (a new one when the environment has changed since the last call)."""
        environment = dict(os.environ)
        with self._lock:
            if self._settings is None or environment != self._environment:
                self._settings, self._environment = Settings(), environment
            return self._settings

    def cache_clear(self) -> None:
        """Forget the tree; the next `get_settings()` reads the environment and `.env` again."""
        with self._lock:
            self._settings = self._environment = None


get_settings = _SettingsCache()


SectionT = TypeVar("SectionT", bound=BaseSettings)


def section_from_variables(section: type[SectionT], variables: Mapping[str, str]) -> SectionT:
    """`section` as the given variables alone set it: neither the environment nor `.env` is read.

    For callers that hold their own variables (a test, a mapping passed in); a field whose
    variable is missing or empty takes its default.
    """
    prefix = str(section.model_config.get("env_prefix") or "")
    values: dict[str, Any] = {}
    for name, field in section.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            names = [str(choice) for choice in alias.choices]
        else:
            names = [alias if isinstance(alias, str) else f"{prefix}{name}".upper()]
        given = next((variables[variable] for variable in names if variables.get(variable)), None)
        # Every field is passed (by its first variable name), so nothing is left for the environment to fill.
        values[names[0] if alias else name] = (
            given if given is not None else field.get_default(call_default_factory=True)
        )
    return section(_env_file=None, **values)


def export_environment(values: Mapping[str, str]) -> None:
    """Write `values` into this process's environment, for libraries and child processes that read it.

    The values come from this tree, so a variable already set is written back unchanged, and one
    that came from `.env` or a default reaches code that only reads the environment.
    """
    os.environ.update(values)
