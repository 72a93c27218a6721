"""Estimated LLM cost, in US dollars, from token counts and a per-model price list."""

from __future__ import annotations

import json
from datetime import date

from headway_assets.core.settings import get_settings
from headway_assets.llm.providers.base import ModelPrice, TokenUsage
from headway_assets.llm.registry import registered_prices

# List prices per million tokens at the time of writing, as each provider registers them
# (core/llm_catalogue.py); override or extend with
# HEADWAY_LLM_PRICES='{"model": [input, output, cache_read, cache_write]}'.
DEFAULT_PRICES: dict[str, ModelPrice] = registered_prices()
# The day the registered list prices were written down from the providers' price pages; a cost
# figure is an estimate at these prices (override them with HEADWAY_LLM_PRICES).
PRICES_AS_OF = date(2026, 11, 26)
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


def estimate_cost(
    model: str, usage: TokenUsage, prices: dict[str, ModelPrice] | None = None, *, batch: bool = False
) -> float:
    """Estimated cost of `usage` on `model`; unknown models (and the offline provider) cost 0.
    `batch`: bought through a vendor batch API, at the price's batch discount (half price)."""
    table = prices if prices is not None else price_list()
    price = table.get(model)
    if price is None:
        # Dated snapshots ("claude-haiku-4-5-20251001") are priced as their family.
        price = next((p for name, p in table.items() if model.startswith(name)), FREE)
    cost = (
        usage.input_tokens * price.input
        + usage.output_tokens * price.output
        + usage.cache_read_tokens * price.cache_read
        + usage.cache_write_tokens * price.cache_write
    ) / 1_000_000
    return cost * price.batch_discount if batch else cost
