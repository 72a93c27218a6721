"""Runtime settings shared by the pipeline, the CLI and the API, read from the environment."""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATA_DIR = PROJECT_ROOT / "data"


class HeadwaySettings(BaseSettings):
    """Every `HEADWAY_*` environment variable the pipeline reads (README lists them all)."""

    model_config = SettingsConfigDict(env_prefix="HEADWAY_", extra="ignore")

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

    llm_provider: str = Field(
        default="offline",
        description="Which provider labels and extracts: a name registered in llm/providers/registry.py "
        "(offline, the default, needs no key). Checked when the provider is built.",
    )
    llm_base_url: str | None = Field(
        default=None, description="Base URL for the provider's API (a proxy, a gateway or a local fake)."
    )
    tier1_model: str | None = Field(default=None, description="Model for tier-1 labels (provider default if unset).")
    tier2_model: str | None = Field(default=None, description="Model for tier-2 mentions (provider default if unset).")
    insight_model: str | None = Field(default=None, description="Model for per-message insights.")
    match_model: str | None = Field(default=None, description="Model for catalogue matching.")
    llm_max_in_flight: int = Field(default=16, ge=1, description="LLM calls in flight at once within one run.")
    llm_timeout_seconds: float = Field(default=60.0, gt=0, description="Timeout of one LLM HTTP call.")
    llm_max_retries: int = Field(default=4, ge=0, description="SDK retries on 429/5xx/timeouts (honours retry-after).")
    llm_outage_patience_seconds: float = Field(
        default=180.0,
        ge=0,
        description="How long an AI run waits out a provider outage (429/5xx/timeouts past the SDK's retries, "
        "since the provider last answered) before it stops and leaves the rest pending for the next run.",
    )
    tier1_batch_items: int = Field(default=50, ge=1, description="Messages (or chunks) per tier-1 call.")
    tier2_batch_items: int = Field(default=12, ge=1, description="Relevant messages (or chunks) per tier-2 call.")
    insight_batch_items: int = Field(default=12, ge=1, description="Messages per insight call.")
    llm_batch_chars: int = Field(
        default=80_000,
        ge=1_000,
        description="Characters of input per batched call (80,000 is about 20,000 tokens: well inside every "
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

    @property
    def warehouse_url(self) -> str:
        """The warehouse URL, falling back to the embedded SQLite file."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'headway.db'}"

    @property
    def demo_dir(self) -> Path:
        """Where the demo corpus is written and read."""
        return self.data_dir / "demo"


@lru_cache(maxsize=1)
def get_settings() -> HeadwaySettings:
    """The process-wide settings (read once; tests build their own `HeadwaySettings`)."""
    return HeadwaySettings()


class TracingSettings(BaseSettings):
    """Where LLM call traces go: Langfuse (through its OpenTelemetry integration) when both keys and
    its base URL are set, and any OTLP/HTTP collector named by the standard OpenTelemetry variables."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    langfuse_public_key: SecretStr | None = Field(default=None, validation_alias="LANGFUSE_PUBLIC_KEY")
    langfuse_secret_key: SecretStr | None = Field(default=None, validation_alias="LANGFUSE_SECRET_KEY")
    langfuse_base_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("LANGFUSE_BASE_URL", "LANGFUSE_HOST"),
        description="Langfuse's base URL (LANGFUSE_HOST is its older name).",
    )
    otlp_traces_endpoint: str | None = Field(
        default=None, validation_alias="OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", description="Full OTLP/HTTP traces URL."
    )
    otlp_endpoint: str | None = Field(
        default=None,
        validation_alias="OTEL_EXPORTER_OTLP_ENDPOINT",
        description="OTLP/HTTP base URL; traces go to its /v1/traces.",
    )


def get_tracing_settings() -> TracingSettings:
    """The tracing settings as the environment says now (not cached: tracing rebuilds its exporters
    when they change, and reading them costs microseconds next to an LLM call)."""
    return TracingSettings()
