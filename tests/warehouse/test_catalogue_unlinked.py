"""The catalogue finds every mention without a link, however old, by reading the newest rows first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Connection, delete, insert

from headway_assets.catalog import store
from headway_assets.core.warehouse.database import write_transaction
from headway_assets.core.warehouse.schema import (
    FeatureMention,
    FeatureRequest,
    FeatureRequestMention,
    Message,
    Organization,
)

START = datetime(2025, 1, 1, tzinfo=UTC)


def _mention(conn: Connection, org_id: int, index: int) -> int:
    sent_at = START + timedelta(hours=index)
    message_id = conn.execute(
        insert(Message)
        .values(
            org_id=org_id, source="slack", external_id=f"m{index}", sent_at=sent_at, text="t", text_length=1,
            content_hash="h", record_hash="h", source_metadata={},
        )
        .returning(Message.id)
    ).scalar_one()  # fmt: skip
    return conn.execute(
        insert(FeatureMention)
        .values(
            org_id=org_id, message_id=message_id, ordinal=0, source="slack", sent_at=sent_at, title=f"Ask {index}",
            description="d", kind="feature_request", urgency="low", sentiment="neutral", theme=None, sub_theme=None,
            customer=None, evidence_quote="t", evidence_start=0, provider="offline", model="m", prompt_version="v",
        )
        .returning(FeatureMention.id)
    ).scalar_one()  # fmt: skip


def test_unlinked_mentions_old_and_new_are_all_found(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store, "UNLINKED_WINDOW", 3)  # so the search needs several, widening ranges
    with write_transaction(database_url) as conn:
        org_id = conn.execute(
            insert(Organization).values(slug="acme", name="Acme", settings={}).returning(Organization.id)
        ).scalar_one()
        request_id = conn.execute(
            insert(FeatureRequest)
            .values(
                org_id=org_id, key="k", title="t", description="", kind="feature_request", mention_count=0,
                customer_count=0, customers={}, sources={}, first_seen=START, last_seen=START,
            )
            .returning(FeatureRequest.id)
        ).scalar_one()  # fmt: skip
        ids = [_mention(conn, org_id, index) for index in range(40)]
        linked = ids[1:30] + ids[31:38]  # unlinked: the oldest, one in the middle, the two newest
        conn.execute(
            insert(FeatureRequestMention),
            [
                {"feature_request_id": request_id, "mention_id": m, "org_id": org_id, "match_method": "new",
                 "match_score": 1.0}
                for m in linked
            ],
        )  # fmt: skip
        expected = {ids[0], ids[30], ids[38], ids[39]}
        assert {m.id for m in store.load_unlinked(conn)} == expected
        assert {m.id for m in store.load_unlinked(conn, [org_id])} == expected
        assert store.load_unlinked(conn, [org_id + 1]) == []
        assert store.orphan_mentions(conn) == 4
        conn.execute(delete(FeatureMention).where(FeatureMention.id.in_(list(expected))))
        assert store.load_unlinked(conn) == []
        assert store.orphan_mentions(conn) == 0
