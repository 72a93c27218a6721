"""The provider registry: one registration per provider, read by settings, the resource, the CLI and prices."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

import pytest

from headway_assets.commands.llm import register_commands
from headway_assets.core.settings import HeadwaySettings
from headway_assets.llm import registry
from headway_assets.llm.pricing import DEFAULT_PRICES, price_list
from headway_assets.llm.providers.base import LlmProvider, LlmRequest, LlmResponse, ProviderOptions
from headway_assets.llm.registry import (
    CALL_CUES_MODEL,
    OFFLINE_MODEL,
    ProviderSpec,
    build_provider,
    get_provider_spec,
    provider_names,
    register,
)
from headway_assets.llm.tasks import CALL, INSIGHT, MATCH, TIER1, TIER2
from headway_assets.offline import OfflineProvider
from headway_assets.resources.llm import CALL_MODEL_SETTING, LlmResource


class EchoProvider(LlmProvider):
    """A provider defined outside the package, as a new one would be."""

    name = "echo"

    def __init__(self, options: ProviderOptions) -> None:
        self.options = options

    @classmethod
    def from_options(cls, options: ProviderOptions) -> LlmProvider:
        return cls(options)

    async def generate(self, request: LlmRequest, model: str) -> LlmResponse:
        raise NotImplementedError


@pytest.fixture
def echo_registered() -> Iterator[ProviderSpec]:
    spec = register(
        ProviderSpec(
            "echo",
            "Echo",
            f"{__name__}:EchoProvider",
            default_models=dict.fromkeys((TIER1, TIER2, INSIGHT, MATCH), "echo-1"),
        )
    )
    try:
        yield spec
    finally:
        registry._REGISTRY.pop("echo")


def test_the_three_providers_are_registered() -> None:
    assert provider_names() == ["offline", "anthropic", "openai"]
    assert isinstance(build_provider("offline"), OfflineProvider)


def test_an_unknown_provider_names_the_registered_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown LLM provider 'mistral'.*offline, anthropic, openai"):
        get_provider_spec("mistral")
    # Settings take any name; it is checked when the provider is used.
    resource = LlmResource(provider="mistral")
    with pytest.raises(ValueError, match="offline, anthropic, openai"):
        resource.models()
    assert HeadwaySettings(llm_provider="mistral").llm_provider == "mistral"


def test_models_default_per_provider_and_follow_overrides() -> None:
    anthropic = get_provider_spec("anthropic")
    # Haiku for every task by default: Sonnet's tier-2 alone was over the cost target (docs/benchmarks.md).
    assert anthropic.models()[TIER2] == "claude-haiku-4-5"
    assert anthropic.models({TIER1: "claude-opus-4-5", TIER2: None})[TIER1] == "claude-opus-4-5"
    assert anthropic.models({TIER1: "claude-opus-4-5", TIER2: None})[TIER2] == "claude-haiku-4-5"
    assert anthropic.models({TIER2: "claude-sonnet-4-5"})[TIER2] == "claude-sonnet-4-5"
    # The offline provider has one model, part of every cache key: overrides do not apply.
    assert get_provider_spec("offline").models({TIER1: "gpt-4.1"}) == dict.fromkeys(
        (TIER1, TIER2, INSIGHT, MATCH), OFFLINE_MODEL
    )
    assert LlmResource(provider="openai", tier2_model="gpt-4o-mini").models()[TIER2] == "gpt-4o-mini"


def test_calls_are_assessed_locally_unless_a_model_is_asked_for() -> None:
    # A hosted provider: the cue-phrase heuristics by default (no LLM call), a model when one is set.
    default = LlmResource(provider="anthropic")
    assert default.models()[CALL] == CALL_CUES_MODEL == HeadwaySettings().call_model
    assert default.calls_assessed_locally
    asked = LlmResource(provider="anthropic", call_model="claude-haiku-4-5")
    assert asked.models()[CALL] == "claude-haiku-4-5" and not asked.calls_assessed_locally
    # The offline provider keeps its one model (the same heuristics, through the engine).
    offline = LlmResource(provider="offline", call_model="claude-haiku-4-5")
    assert offline.models()[CALL] == OFFLINE_MODEL and not offline.calls_assessed_locally


def test_prices_come_from_the_registrations() -> None:
    assert registry.registered_prices() == DEFAULT_PRICES
    assert {"claude-haiku-4-5", "gpt-4.1"} <= set(price_list())


def test_a_registration_is_checked() -> None:
    with pytest.raises(ValueError, match="registered twice"):
        register(ProviderSpec("offline", "Again", "x:y", default_models=dict.fromkeys((TIER1, TIER2, INSIGHT, MATCH))))
    with pytest.raises(ValueError, match="no default model for tier2, insight, match"):
        register(ProviderSpec("partial", "Partial", "x:y", default_models={TIER1: "m"}))
    assert "partial" not in provider_names()


def test_one_registration_makes_a_provider_usable_everywhere(echo_registered: ProviderSpec) -> None:
    built = build_provider("echo", ProviderOptions(base_url="http://127.0.0.1:9", max_retries=1))
    assert isinstance(built, EchoProvider) and built.options.base_url == "http://127.0.0.1:9"
    assert LlmResource(provider="echo").models()[TIER1] == "echo-1"
    parser = argparse.ArgumentParser()
    register_commands(parser.add_subparsers())
    args = parser.parse_args(["classify", "--input", "a", "--output", "b", "--provider", "echo"])
    assert args.provider == "echo"


def test_an_organisation_chooses_its_call_model_among_the_providers() -> None:
    anthropic = LlmResource(provider="anthropic")
    assert anthropic.call_model_choices()[0] == CALL_CUES_MODEL
    assert {"claude-haiku-4-5", "claude-sonnet-4-5"} <= set(anthropic.call_model_choices())
    assert anthropic.call_model_of_org(None) == anthropic.call_model_of_org({}) == CALL_CUES_MODEL
    assert anthropic.call_model_of_org({CALL_MODEL_SETTING: "claude-sonnet-4-5"}) == "claude-sonnet-4-5"
    # Another provider's model is refused, naming what is allowed (set from the CLI, or stored before a
    # provider change: the asset then warns and uses the deployment's model).
    with pytest.raises(ValueError, match=r"'gpt-4\.1'.*headway-call-cues-1.*claude-haiku-4-5"):
        anthropic.call_model_of_org({CALL_MODEL_SETTING: "gpt-4.1"})
    # The offline provider reads calls with its own model: the setting does not apply there.
    offline = LlmResource(provider="offline")
    assert offline.call_model_choices() == (CALL_CUES_MODEL,)
    assert offline.call_model_of_org({CALL_MODEL_SETTING: "claude-haiku-4-5"}) == OFFLINE_MODEL
