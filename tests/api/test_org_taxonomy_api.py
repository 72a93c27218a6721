"""The API's themes follow the warehouse taxonomy: an edit stored there is what `/v1/themes` lists."""

from __future__ import annotations

from pathlib import Path

from headway_assets.core.taxonomy import parse_taxonomy, store_org_taxonomy
from headway_assets.core.warehouse.database import write_transaction
from tests.api.support import app_client, bearer, items_of, seed_warehouse, walk_pages


def test_themes_list_the_edited_warehouse_taxonomy(database_url: str, tmp_path: Path) -> None:
    seed = seed_warehouse(database_url)
    edited = parse_taxonomy(
        {
            "org": "acme",
            "themes": [{"path": "billing", "name": "Billing", "sub_themes": [{"path": "tax", "name": "Tax"}]}],
        },
        source="test",
    )
    with write_transaction(database_url) as conn:
        store_org_taxonomy(conn, org_id=seed.a.id, taxonomy=edited, source="edited")
    with app_client(database_url, tmp_path) as client:
        items = items_of(walk_pages(client, "/v1/themes", bearer(client, seed.a.user_id, "acme")))
    assert sorted(item["path"] for item in items) == ["billing", "billing/tax"]
