"""The definitions as the Dagster UI shows them: every asset described, and the lists that name them complete."""

from __future__ import annotations

from headway_assets.definitions import defs
from headway_assets.testing.graphql import ALL_ASSETS


def test_every_asset_has_a_description_group_kinds_and_owners() -> None:
    for spec in defs.resolve_all_asset_specs():
        name = spec.key.to_user_string()
        assert spec.description and len(spec.description) > 40, f"{name}: no description worth reading"
        assert spec.group_name and spec.group_name != "default", f"{name}: no group"
        assert spec.kinds, f"{name}: no kinds"
        assert spec.owners, f"{name}: no owners"


def test_the_backfill_over_all_assets_names_every_asset() -> None:
    """The deployment test and the backfill benchmark backfill `ALL_ASSETS`: an asset left out is never tested there."""
    defined = {spec.key.to_user_string() for spec in defs.resolve_all_asset_specs()}
    assert set(ALL_ASSETS) == defined
    assert len(ALL_ASSETS) == len(set(ALL_ASSETS))
