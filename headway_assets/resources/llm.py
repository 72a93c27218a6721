"""The LLM provider as a Dagster resource: which provider, which models, and the cost knobs."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import dagster as dg
from pydantic import Field

from headway_assets.core.llm_catalogue import (
    CALL_MODEL_SETTING,
    call_model_choices,
    checked_call_model,
    task_models,
)
from headway_assets.core.org_settings import NOT_OFFERED, Applied, applied_call_model
from headway_assets.core.settings import HeadwaySettings, get_settings
from headway_assets.llm.cache import LlmCache
from headway_assets.llm.engine import EngineConfig, LlmEngine, ProgressCallback
from headway_assets.llm.providers.base import LlmError, LlmProvider, ProviderOptions
from headway_assets.llm.registry import CALL_CUES_MODEL, LOCAL_MODEL, build_provider
from headway_assets.llm.tasks import CALL, INSIGHT, MATCH, PROMPT_VERSIONS, TIER1, TIER2


@dataclass(frozen=True, slots=True)
class TaskVersion:
    """The model and prompt version a task's outcomes are made with under the current configuration."""

    model: str
    prompt_version: str
    # (organisation id, model) of organisations whose outcomes are made with a model of their own.
    org_models: tuple[tuple[int, str], ...] = ()

    def differs(self, model: str | None, prompt_version: str | None, org_id: int | None = None) -> bool:
        """Whether an outcome made with `model` and `prompt_version` (for organisation `org_id`) was made
        some other way than that organisation's model, else the configured one, and the current prompt."""
        expected = dict(self.org_models).get(org_id, self.model) if org_id is not None else self.model
        return model != expected or prompt_version != self.prompt_version


class LlmResource(dg.ConfigurableResource):
    """Provider, models and limits of the AI tiers. Unset fields fall back to HEADWAY_* settings."""

    provider: str | None = Field(
        default=None,
        description="A provider name registered in llm/registry.py (default: HEADWAY_LLM_PROVIDER).",
    )
    base_url: str | None = Field(default=None, description="Provider API base URL (proxy or local fake).")
    tier1_model: str | None = None
    tier2_model: str | None = None
    insight_model: str | None = None
    match_model: str | None = None
    call_model: str | None = Field(
        default=None,
        description="Call intelligence with a hosted provider: headway-call-cues-1 (local heuristics, no LLM call) "
        "or a provider model (default: HEADWAY_CALL_MODEL, headway-call-cues-1); an organisation's call_model "
        "setting overrides it for its calls.",
    )
    max_in_flight: int | None = Field(default=None, description="LLM calls in flight at once in one run.")
    tier1_batch_items: int | None = Field(default=None, description="Messages (or chunks) per tier-1 call.")
    tier2_batch_items: int | None = Field(default=None, description="Relevant messages per tier-2 call.")
    insight_batch_items: int | None = Field(default=None, description="Messages per insight call.")
    match_batch_items: int | None = Field(default=None, description="Mentions per catalogue-matching call.")
    call_batch_items: int | None = Field(default=None, description="Gong/Fathom calls per call-intelligence request.")
    batch_chars: int | None = Field(default=None, description="Characters of input per batched call.")
    max_items_per_run: int | None = Field(default=None, description="Items one run handles (0 = no cap).")
    run_deadline_seconds: float | None = Field(default=None, description="Soft time limit of one run (0 = none).")
    run_budget_usd: float | None = Field(
        default=None,
        description="LLM spend (USD, list prices) after which a run starts no more calls; the rest stays pending "
        "(0 = no limit; default HEADWAY_LLM_RUN_BUDGET_USD).",
    )
    timeout_seconds: float | None = None
    max_retries: int | None = None
    outage_patience_seconds: float | None = Field(
        default=None,
        description="How long a run waits out a provider outage before it stops resumably (the rest stays pending).",
    )
    batch_mode: str | None = Field(
        default=None,
        description="Send the AI work through the vendor's batch API at half price (Anthropic Message Batches, "
        "OpenAI Batch API): off, backfill (runs covering more than one day) or always. The run submits and ends; "
        "the llm_batch_results sensor lands the answers in the cache and re-runs the partitions "
        "(default: HEADWAY_LLM_BATCH_MODE, off).",
    )
    use_cache: bool = Field(default=True, description="Reuse cached answers (turn off only to measure).")
    refresh_stale: bool = Field(
        default=False,
        description="Also redo outcomes made with another model or prompt version (tier-2: another taxonomy) than "
        "this configuration's. Set it for a run or backfill after changing one of them; answers for unchanged "
        "items still come from the cache, so only what changed costs LLM calls.",
    )

    def _settings(self) -> HeadwaySettings:
        return get_settings().pipeline

    @property
    def provider_name(self) -> str:
        """The provider in effect."""
        return self.provider or self._settings().llm_provider

    def models(self) -> dict[str, str]:
        """The model per task in effect."""
        settings = self._settings()
        overrides = {
            TIER1: self.tier1_model or settings.tier1_model,
            TIER2: self.tier2_model or settings.tier2_model,
            INSIGHT: self.insight_model or settings.insight_model,
            MATCH: self.match_model or settings.match_model,
        }
        return task_models(self.provider_name, overrides, self.call_model or settings.call_model)

    @property
    def calls_assessed_locally(self) -> bool:
        """Whether call intelligence runs on the local cue-phrase heuristics in-process (no LLM call)."""
        return self.models()[CALL] == CALL_CUES_MODEL

    def call_model_choices(self) -> tuple[str, ...]:
        """What an organisation's `call_model` setting may name with the configured provider (the kernel's
        catalogue decides: `core.llm_catalogue.call_model_choices`)."""
        return call_model_choices(self.provider_name, self.models().values())

    def checked_call_model(self, model: str) -> str:
        """`model` when an organisation may set it as its `call_model`; a `ValueError` naming the allowed
        values otherwise."""
        return checked_call_model(self.provider_name, self.models().values(), model)

    def applied_call_model(self, settings: Mapping[str, Any] | None) -> Applied:
        """The model an organisation's calls are assessed with and, when it is not its own `call_model`
        setting, why (the kernel's rule, `core.org_settings.applied_call_model`, which the API shows)."""
        return applied_call_model(self.provider_name, self.models(), (settings or {}).get(CALL_MODEL_SETTING))

    def call_model_of_org(self, settings: Mapping[str, Any] | None) -> str:
        """The model an organisation's calls are assessed with: its own `call_model` setting, else the
        configured one (HEADWAY_CALL_MODEL). The offline provider ignores the setting. A setting the
        provider does not have (the provider changed since it was set) raises `ValueError`."""
        applied = self.applied_call_model(settings)
        if applied.reason is not None and applied.reason.code == NOT_OFFERED:
            raise ValueError(applied.reason.message)
        return str(applied.value)

    def stale_unless(self, task: str, *, requested: bool = False) -> TaskVersion | None:
        """What `task`'s outcomes must have been made with to stay current, when `refresh_stale` is
        on or the run `requested` it; else None."""
        if not (self.refresh_stale or requested):
            return None
        return TaskVersion(model=self.models()[task], prompt_version=PROMPT_VERSIONS[task])

    def tier1_models_by_org(self, orgs: Mapping[int, str], unreadable: dict[int, str] | None = None) -> dict[int, str]:
        """The organisations among `orgs` (id -> slug) that tier-1 labels with a model of their own,
        and that model's name. Only when tier-1 runs on the shipped local model (`headway-local-N`):
        an organisation with a model in the models folder (`headway model train --org SLUG`, see
        `offline/org_models.py`) gets it; the others keep the shipped one.

        An organisation whose model cannot be read raises, unless `unreadable` is given: then it is
        recorded there (org id -> reason) and left out, so the caller can hold that organisation's
        messages without stopping the others'."""
        if self.models()[TIER1] != LOCAL_MODEL:
            return {}
        from headway_assets.offline import org_model_name  # scikit-learn and the offline model load only here

        own: dict[int, str] = {}
        for org_id, slug in orgs.items():
            try:
                name = org_model_name(slug)
            except LlmError as error:
                if unreadable is None:
                    raise
                unreadable[org_id] = str(error)
                continue
            if name is not None:
                own[org_id] = name
        return own

    @property
    def item_cap(self) -> int:
        """Items one run handles before stopping early; 0 means no cap."""
        value = self.max_items_per_run
        return value if value is not None else self._settings().max_items_per_run

    def deadline(self) -> float | None:
        """Monotonic deadline for a run starting now, or None."""
        seconds = self.run_deadline_seconds
        seconds = seconds if seconds is not None else self._settings().run_deadline_seconds
        return time.monotonic() + seconds if seconds else None

    @property
    def batch_mode_in_effect(self) -> str:
        """The batch mode in effect: off, backfill or always."""
        return self.batch_mode or self._settings().llm_batch_mode

    def provider_named(self, name: str) -> LlmProvider:
        """A provider of `name` with this configuration's base URL, timeout and retries (close it after use)."""
        settings = self._settings()
        return build_provider(
            name,
            ProviderOptions(
                base_url=self.base_url or settings.llm_base_url,
                timeout_seconds=self.timeout_seconds or settings.llm_timeout_seconds,
                max_retries=self.max_retries if self.max_retries is not None else settings.llm_max_retries,
            ),
        )

    @asynccontextmanager
    async def engine(
        self,
        database_url: str,
        *,
        progress: ProgressCallback | None = None,
        models: Mapping[str, str] | None = None,
    ) -> AsyncIterator[LlmEngine]:
        """An engine for one run (its provider client is closed afterwards); `models` override the
        configured model of some tasks (an organisation's own call model)."""
        settings = self._settings()
        provider = build_provider(
            self.provider_name,
            ProviderOptions(
                base_url=self.base_url or settings.llm_base_url,
                timeout_seconds=self.timeout_seconds or settings.llm_timeout_seconds,
                max_retries=self.max_retries if self.max_retries is not None else settings.llm_max_retries,
            ),
        )
        config = EngineConfig(
            models={**self.models(), **(models or {})},
            max_in_flight=self.max_in_flight or settings.llm_max_in_flight,
            batch_items={
                TIER1: self.tier1_batch_items or settings.tier1_batch_items,
                TIER2: self.tier2_batch_items or settings.tier2_batch_items,
                INSIGHT: self.insight_batch_items or settings.insight_batch_items,
                MATCH: self.match_batch_items or settings.match_batch_items,
                CALL: self.call_batch_items or settings.call_batch_items,
            },
            batch_chars=self.batch_chars or settings.llm_batch_chars,
            outage_patience_seconds=self.outage_patience_seconds
            if self.outage_patience_seconds is not None
            else settings.llm_outage_patience_seconds,
        )
        engine = LlmEngine(
            provider,
            config,
            LlmCache(database_url) if self.use_cache else None,
            deadline=self.deadline(),
            progress=progress,
            budget_usd=self.run_budget_usd if self.run_budget_usd is not None else settings.llm_run_budget_usd,
        )
        try:
            yield engine
        finally:
            await provider.aclose()
