"""Period insights written in the pipeline's old shape (`by_source` as bare counts) are still served.

Before issue 12 the insights asset wrote `{"slack": 11}` where the API documents an object per
source; a warehouse holding such rows answered 500 until the next run rewrote them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert

from headway_api.schemas.insights import PeriodInsightOut, PeriodInsightPage
from headway_assets.core.warehouse.database import write_transaction
from headway_assets.core.warehouse.schema import PeriodInsight
from tests.api.support import People, app_client, bearer

WEEK = datetime(2026, 10, 5, tzinfo=UTC)


def _insight(org_id: int, start: datetime, by_source: dict[str, object]) -> dict[str, object]:
    return {
        "org_id": org_id,
        "period": "week",
        "period_start": start,
        "period_end": start + timedelta(days=7),
        "headline": "12 asks from 3 customers",
        "content": {"top_asks": [], "new_asks": [], "rising_asks": [], "by_source": by_source, "by_customer": []},
    }


def test_bare_source_counts_are_served_as_objects_beside_the_current_shape(
    database_url: str, people: People, tmp_path: Path
) -> None:
    org_id = people.orgs["acme"]
    with write_transaction(database_url) as conn:
        old_id, new_id = (
            conn.execute(insert(PeriodInsight).values(**row).returning(PeriodInsight.id)).scalar_one()
            for row in (
                _insight(org_id, WEEK, {"slack": 11, "gong": 1}),
                _insight(org_id, WEEK + timedelta(days=7), {"slack": {"mentions": 4, "customers": 2}}),
            )
        )
    with app_client(database_url, tmp_path) as client:
        headers = bearer(client, people.users["pm@acme.example"], "acme")
        old = client.get(f"/v1/insights/{old_id}", headers=headers)
        assert old.status_code == 200, old.text
        assert old.json()["content"]["by_source"] == {"slack": {"mentions": 11}, "gong": {"mentions": 1}}
        PeriodInsightOut.model_validate(old.json())

        new = client.get(f"/v1/insights/{new_id}", headers=headers)
        assert new.status_code == 200, new.text
        assert new.json()["content"]["by_source"] == {"slack": {"mentions": 4, "customers": 2}}

        listing = client.get("/v1/insights", headers=headers)
        assert listing.status_code == 200, listing.text
        page = PeriodInsightPage.model_validate(listing.json())
        assert [item.id for item in page.items] == [new_id, old_id]
        assert page.items[1].content.by_source["slack"].mentions == 11
