"""Every LLM provider Headway can use and its models, registered once, as plain data.

The pipeline's LLM layer (`headway_assets.llm.registry`, which re-exports all of this and builds
the clients), the settings, the CLI, the price list and the read API (which lists the models an
organisation may choose as its `call_model` and may import only the kernel) all read this one
catalogue.

Adding a provider (say Mistral):

1. write `headway_assets/llm/providers/mistral_provider.py` with a `MistralProvider(LlmProvider)`
   (for a vendor SDK shaped like Anthropic's and OpenAI's, subclass `RemoteProvider` and write
   only `_make_client`, `_send` and `_read`);
2. add one registration (one `register(...)` statement) at the bottom of this file:
   `register(ProviderSpec("mistral", "Mistral", "headway_assets.llm.providers.mistral_provider:MistralProvider",
   default_models={...}, prices={...}))`.

`HEADWAY_LLM_PROVIDER=mistral`, `headway classify --provider mistral` and cost estimates then
work without touching anything else. The factory is a dotted path, imported only when the
provider is built (`headway_assets.llm.registry.build_provider`), so vendor SDKs load only in runs
that use them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final

from headway_assets.core.settings import HeadwaySettings

# The AI tasks (their prompts and schemas are in headway_assets.llm.tasks).
TIER1: Final = "tier1"
TIER2: Final = "tier2"
INSIGHT: Final = "insight"
MATCH: Final = "match"
CALL: Final = "call"  # call intelligence of a Gong or Fathom call (issue 16, item 5)
TASKS: Final = (TIER1, TIER2, INSIGHT, MATCH)

# The provider that runs every task in-process, with no key and no network.
OFFLINE_PROVIDER: Final = "offline"
# Part of every cache key: bump when the offline classifier or extractor changes behaviour.
OFFLINE_MODEL: Final = "headway-offline-4"
# The offline provider's trained tier-1 model (headway_assets/offline/trained/): the one shipped in
# the package, or `local:PATH` for an artefact `headway model train` wrote. Bump the shipped
# name when its artefact is retrained: the name is the cache key, not the file.
LOCAL_MODEL: Final = "headway-local-2"
LOCAL_MODEL_PREFIX: Final = "local:"
# Call intelligence with a hosted provider, by default: the cue-phrase heuristics (`offline/calls.py`)
# read each whole call in-process, no LLM call (issue 15's cost target; docs/benchmarks.md). Set
# HEADWAY_CALL_MODEL to a provider model to have the model assess every call instead.
CALL_CUES_MODEL: Final = "headway-call-cues-1"
# The organisation setting that overrides HEADWAY_CALL_MODEL for its calls (`headway orgs call-model`,
# PATCH /v1/organization/settings).
CALL_MODEL_SETTING: Final = "call_model"


@dataclass(frozen=True)
class ModelPrice:
    """US dollars per million tokens."""

    input: float
    output: float
    cache_read: float
    cache_write: float
    # What a vendor batch (Anthropic Message Batches, OpenAI Batch API) costs against this list price.
    batch_discount: float = 0.5


@dataclass(frozen=True)
class ProviderSpec:
    """One provider: its name in settings and on the command line, where its class lives
    (`"package.module:Class"`), its model per task, and list prices of its models.

    `configurable_models=False` means the per-task model settings do not apply (the offline
    provider has one model, which is part of every cache key), except overrides that start with
    one of `own_models[task]` (the offline provider's trained tier-1 models)."""

    name: str
    display_name: str
    factory: str
    default_models: Mapping[str, str]
    prices: Mapping[str, ModelPrice] = field(default_factory=dict)
    configurable_models: bool = True
    own_models: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def models(self, overrides: Mapping[str, str | None] | None = None) -> dict[str, str]:
        """The model per task: an override where one is set and the provider allows it, else the default."""
        chosen = dict(self.default_models)
        for task, model in (overrides or {}).items():
            if model and (self.configurable_models or model.startswith(self.own_models.get(task, ()))):
                chosen[task] = model
        return chosen


_REGISTRY: dict[str, ProviderSpec] = {}


def register(spec: ProviderSpec) -> ProviderSpec:
    """Make `spec` available under `spec.name` (a second registration of a name is a mistake)."""
    if spec.name in _REGISTRY:
        raise ValueError(f"LLM provider {spec.name!r} is registered twice")
    missing = [task for task in TASKS if task not in spec.default_models]
    if missing:
        raise ValueError(f"LLM provider {spec.name!r} names no default model for {', '.join(missing)}")
    _REGISTRY[spec.name] = spec
    return spec


def provider_names() -> list[str]:
    """The registered provider names, in registration order (the CLI's choices)."""
    return list(_REGISTRY)


def get_provider_spec(name: str) -> ProviderSpec:
    """The provider registered as `name`; a `ValueError` listing the registered ones otherwise."""
    spec = _REGISTRY.get(name)
    if spec is None:
        raise ValueError(
            f"unknown LLM provider {name!r}: set HEADWAY_LLM_PROVIDER (or --provider) to one of "
            f"{', '.join(provider_names())}"
        )
    return spec


def registered_prices() -> dict[str, ModelPrice]:
    """List prices of every registered provider's models, per million tokens."""
    return {model: price for spec in _REGISTRY.values() for model, price in spec.prices.items()}


def task_models(provider: str, overrides: Mapping[str, str | None], call_model: str) -> dict[str, str]:
    """The model per task (calls included) with `provider`, the per-task `overrides` and `call_model`."""
    spec = get_provider_spec(provider)
    models = spec.models(overrides)
    if spec.configurable_models:
        # A hosted provider assesses calls with the local heuristics unless a model is asked for: a
        # model reading every call costs about twice issue 15's whole per-message target (benchmarks.md).
        models[CALL] = call_model
    else:
        models.setdefault(CALL, models[INSIGHT])  # the offline provider: its own model, the same heuristics
    return models


def deployment_models(settings: HeadwaySettings) -> dict[str, str]:
    """The model per task the deployment's HEADWAY_* settings give (no run's own overrides)."""
    overrides = {
        TIER1: settings.tier1_model,
        TIER2: settings.tier2_model,
        INSIGHT: settings.insight_model,
        MATCH: settings.match_model,
    }
    return task_models(settings.llm_provider, overrides, settings.call_model)


def call_model_choices(provider: str, models: Iterable[str]) -> tuple[str, ...]:
    """What an organisation's `call_model` setting may name with `provider`, whose tasks use `models`:
    the local heuristics, or one of the provider's models (registered, or configured for a task). The
    offline provider reads calls with its own model, so only the heuristics' name is accepted."""
    spec = get_provider_spec(provider)
    if not spec.configurable_models:
        return (CALL_CUES_MODEL,)
    known = [*spec.default_models.values(), *spec.prices, *models]
    return tuple(dict.fromkeys([CALL_CUES_MODEL, *known]))


def checked_call_model(provider: str, models: Iterable[str], model: str) -> str:
    """`model` when an organisation may set it as its `call_model`; a `ValueError` naming the allowed
    values otherwise."""
    choices = call_model_choices(provider, models)
    if model not in choices:
        listed = f" or a model: {', '.join(choices[1:])}" if len(choices) > 1 else " (it has no model to choose)"
        raise ValueError(
            f"unknown call model {model!r} for the {provider} provider: use {CALL_CUES_MODEL} "
            f"(the local cue-phrase heuristics, no LLM call){listed}"
        )
    return model


register(
    ProviderSpec(
        OFFLINE_PROVIDER,
        "Offline (no key, no network)",
        "headway_assets.offline:OfflineProvider",
        default_models=dict.fromkeys(TASKS, OFFLINE_MODEL),
        configurable_models=False,
        own_models={TIER1: (OFFLINE_MODEL, LOCAL_MODEL, LOCAL_MODEL_PREFIX)},
    )
)
register(
    ProviderSpec(
        "anthropic",
        "Anthropic",
        "headway_assets.llm.providers.anthropic_provider:AnthropicProvider",
        # Tier-2 on Haiku too (issue 15's cost target: Sonnet's output price alone was $0.00027 a demo
        # message); HEADWAY_TIER2_MODEL=claude-sonnet-4-5 buys the larger model back (docs/benchmarks.md).
        default_models={
            TIER1: "claude-haiku-4-5",
            TIER2: "claude-haiku-4-5",
            INSIGHT: "claude-haiku-4-5",
            MATCH: "claude-haiku-4-5",
        },
        prices={
            "claude-haiku-4-5": ModelPrice(1.00, 5.00, 0.10, 1.25),
            "claude-sonnet-4-5": ModelPrice(3.00, 15.00, 0.30, 3.75),
            "claude-opus-4-5": ModelPrice(5.00, 25.00, 0.50, 6.25),
        },
    )
)
register(
    ProviderSpec(
        "openai",
        "OpenAI",
        "headway_assets.llm.providers.openai_provider:OpenAIProvider",
        default_models={TIER1: "gpt-4.1-mini", TIER2: "gpt-4.1", INSIGHT: "gpt-4.1-mini", MATCH: "gpt-4.1-mini"},
        prices={
            "gpt-4.1-mini": ModelPrice(0.40, 1.60, 0.10, 0.40),
            "gpt-4.1": ModelPrice(2.00, 8.00, 0.50, 2.00),
            "gpt-4o-mini": ModelPrice(0.15, 0.60, 0.075, 0.15),
        },
    )
)
