"""Every LLM provider Headway can use: the catalogue (`headway_assets.core.llm_catalogue`, the one
place a provider is registered, re-exported here) and the building of a provider's client.

The provider module is imported only when the provider is built, so vendor SDKs (about a second
for `anthropic`) load only in runs that use them.
"""

from __future__ import annotations

import importlib

from headway_assets.core.llm_catalogue import (
    _REGISTRY,
    CALL_CUES_MODEL,
    LOCAL_MODEL,
    LOCAL_MODEL_PREFIX,
    OFFLINE_MODEL,
    TASKS,
    ProviderSpec,
    get_provider_spec,
    provider_names,
    register,
    registered_prices,
)
from headway_assets.llm.providers.base import LlmProvider, ProviderOptions

__all__ = [
    "CALL_CUES_MODEL",
    "LOCAL_MODEL",
    "LOCAL_MODEL_PREFIX",
    "OFFLINE_MODEL",
    "TASKS",
    "_REGISTRY",
    "ProviderSpec",
    "build_provider",
    "get_provider_spec",
    "provider_class",
    "provider_names",
    "register",
    "registered_prices",
]


def provider_class(spec: ProviderSpec) -> type[LlmProvider]:
    """The provider's class, importing its module now."""
    module_name, _, class_name = spec.factory.partition(":")
    found: type[LlmProvider] = getattr(importlib.import_module(module_name), class_name)
    return found


def build_provider(name: str, options: ProviderOptions | None = None) -> LlmProvider:
    """A new client of the provider registered as `name`, configured by `options`."""
    return provider_class(get_provider_spec(name)).from_options(options or ProviderOptions())
