"""Asset keys read off the asset objects, for the layers above (sensors, schedules, jobs).

Orchestration names an asset by its object's `key`, never by a spelled-out string, so renaming an
asset cannot leave a sensor or schedule pointing at nothing.
"""

from __future__ import annotations

import dagster as dg

from headway_assets.assets.raw_messages import RAW_MESSAGE_ASSETS


def _source_of(asset: dg.AssetsDefinition) -> str:
    # Each raw asset carries its source in the `source` tag it is built with.
    return asset.tags_by_key[asset.key]["source"]


RAW_MESSAGE_KEYS: dict[str, dg.AssetKey] = {_source_of(asset): asset.key for asset in RAW_MESSAGE_ASSETS}


def raw_messages_key(source: str) -> dg.AssetKey:
    """The key of `source`'s raw message asset (a source name as the warehouse stores it)."""
    return RAW_MESSAGE_KEYS[source]
