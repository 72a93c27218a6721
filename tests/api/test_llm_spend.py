"""GET /v1/stats reports the organisation's LLM spend per month (issue 15, item 7), on SQLite and
PostgreSQL: its own share of each run only, months of the range only."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert

from headway_api.schemas.stats import StatsResponse
from headway_assets.core.warehouse.database import get_engine
from headway_assets.core.warehouse.schema import LlmUsage
from tests.api.support import app_client, bearer, seed_warehouse


def _usage(org_id: int | None, when: datetime, cost: float, calls: int) -> dict[str, object]:
    return {
        "asset": "message_labels",
        "task": "tier1",
        "provider": "anthropic",
        "model": "claude-haiku-4-5",
        "org_id": org_id,
        "calls": calls,
        "cache_hits": 1,
        "input_tokens": 1000 * calls,
        "output_tokens": 100 * calls,
        "cache_read_tokens": 10,
        "cache_write_tokens": 5,
        "cost_usd": cost,
        "created_at": when,
    }


def test_stats_report_spend_per_month_for_the_organisation_only(database_url: str, tmp_path: Path) -> None:
    seed = seed_warehouse(database_url)
    march, late_march, april = (
        datetime(2025, 3, 2, 10, tzinfo=UTC),
        datetime(2025, 3, 31, 23, 59, tzinfo=UTC),
        datetime(2025, 4, 15, tzinfo=UTC),
    )
    with get_engine(database_url).begin() as conn:
        conn.execute(
            insert(LlmUsage),
            [
                _usage(seed.a.id, march, 0.25, 2),
                _usage(seed.a.id, late_march, 0.5, 3),
                _usage(seed.a.id, april, 1.0, 1),
                _usage(seed.a.id, datetime(2025, 5, 1, tzinfo=UTC), 9.0, 9),  # after the range
                _usage(seed.b.id, march, 7.0, 7),  # the other tenant
                _usage(None, march, 3.0, 3),  # nobody's (written before spend was shared out)
            ],
        )
    with app_client(database_url, tmp_path) as client:
        response = client.get(
            "/v1/stats",
            params={"since": "2025-03-01", "until": "2025-04-30", "interval": "month"},
            headers=bearer(client, seed.a.user_id, "acme"),
        )
    assert response.status_code == 200, response.text
    spend = StatsResponse.model_validate(response.json()).llm_spend
    assert [(m.month, m.calls, m.input_tokens, m.cache_write_tokens, m.cost_usd) for m in spend] == [
        ("2025-03", 5, 5000, 10, 0.75),
        ("2025-04", 1, 1000, 5, 1.0),
    ]
