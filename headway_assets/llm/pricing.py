"""Estimated LLM cost, in US dollars, from token counts and a per-model price list."""

from __future__ import annotations

import json
from dataclasses import dataclass

from headway_assets.core.settings import get_settings
from headway_assets.llm.providers.base import TokenUsage


@dataclass(frozen=True)
class ModelPrice:
    """US dollars per million tokens."""

    input: float
    output: float
    cache_read: float
    cache_write: float


# List prices per million tokens at the time of writing; override or extend with
# HEADWAY_LLM_PRICES='{"model": [input, output, cache_read, cache_write]}'.
DEFAULT_PRICES: dict[str, ModelPrice] = {
    "claude-haiku-4-5": ModelPrice(1.00, 5.00, 0.10, 1.25),
    "claude-sonnet-4-5": ModelPrice(3.00, 15.00, 0.30, 3.75),
    "claude-opus-4-5": ModelPrice(5.00, 25.00, 0.50, 6.25),
    "gpt-4.1-mini": ModelPrice(0.40, 1.60, 0.10, 0.40),
    "gpt-4.1": ModelPrice(2.00, 8.00, 0.50, 2.00),
    "gpt-4o-mini": ModelPrice(0.15, 0.60, 0.075, 0.15),
}
FREE = ModelPrice(0.0, 0.0, 0.0, 0.0)


def price_list() -> dict[str, ModelPrice]:
    """The default prices merged with HEADWAY_LLM_PRICES."""
    prices = dict(DEFAULT_PRICES)
    override = get_settings().pipeline.llm_prices
    if override:
        try:
            for model, values in json.loads(override).items():
                prices[model] = ModelPrice(*(float(v) for v in values))
        except (ValueError, TypeError) as error:
            raise ValueError(
                "HEADWAY_LLM_PRICES must be JSON like "
                '{"model-name": [input, output, cache_read, cache_write]} in USD per million tokens'
            ) from error
    return prices


def estimate_cost(model: str, usage: TokenUsage, prices: dict[str, ModelPrice] | None = None) -> float:
    """Estimated cost of `usage` on `model`; unknown models (and the offline provider) cost 0."""
    table = prices if prices is not None else price_list()
    price = table.get(model)
    if price is None:
        # Dated snapshots ("claude-haiku-4-5-20251001") are priced as their family.
        price = next((p for name, p in table.items() if model.startswith(name)), FREE)
    return (
        usage.input_tokens * price.input
        + usage.output_tokens * price.output
        + usage.cache_read_tokens * price.cache_read
        + usage.cache_write_tokens * price.cache_write
    ) / 1_000_000
