"""The people a `feature_catalog` preview redacts a request's title with: every message behind it.

`_request_people` reads a stored request's messages as their distinct authors and source metadata
(a request of thousands of mentions has far fewer people); it must find exactly the names that
reading every message's scope finds.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert

from headway_assets.assets.feature_catalog import _request_people
from headway_assets.assets.metadata import people_of
from headway_assets.assets.privacy import message_scopes
from headway_assets.catalog.model import MentionRecord, RequestState
from headway_assets.core.warehouse.database import write_transaction
from headway_assets.core.warehouse.schema import (
    FeatureMention,
    FeatureRequest,
    FeatureRequestMention,
    Message,
    Organization,
)

SENT = datetime(2025, 3, 1, tzinfo=UTC)

AUTHORS: list[tuple[str | None, str | None, dict[str, Any]]] = [
    ("Jane Doe", "jane.doe@acme.test", {}),
    ("Jane Doe", "jane.doe@acme.test", {}),  # the same author again: read once, found once
    (None, "bob_lund@acme.test", {"parties": [{"name": "Ada Ng"}, "Ola Berg"]}),
    ("Kim", None, {"turns": [{"speaker": "Kim"}, {"speaker": "Rui Sousa"}], "recorded_by": {"name": "Eve Hart"}}),
    ("Unknown speaker 1", "x@y.test", {"to_names": ["Tom Ek"], "cc_names": "Liv Moe"}),
    ("Ann Sky", None, {"calendar_invitees": ["Max Roe"]}),
]


def _record(mention_id: int, org_id: int, message_id: int) -> MentionRecord:
    return MentionRecord(
        id=mention_id, org_id=org_id, title="Export PDF", description="d", kind="feature_request", theme=None,
        sub_theme=None, customer=None, source="gong", sent_at=SENT, external_id=f"m{message_id}", ordinal=0,
        message_id=message_id,
    )  # fmt: skip


def test_people_of_distinct_authors_equal_every_message_scope(database_url: str) -> None:
    with write_transaction(database_url) as conn:
        org_id = conn.execute(
            insert(Organization).values(slug="acme", name="Acme", settings={}).returning(Organization.id)
        ).scalar_one()
        request_id = conn.execute(
            insert(FeatureRequest)
            .values(
                org_id=org_id, key="export-pdf", title="Export PDF", description="", kind="feature_request",
                mention_count=4, customer_count=0, customers={}, sources={}, first_seen=SENT, last_seen=SENT,
            )
            .returning(FeatureRequest.id)
        ).scalar_one()  # fmt: skip
        messages, mentions = [], []
        for index, (name, email, metadata) in enumerate(AUTHORS):
            message_id = conn.execute(
                insert(Message)
                .values(
                    org_id=org_id, source="gong", external_id=f"m{index}", sent_at=SENT, text="t", text_length=1,
                    content_hash="h", record_hash="h", source_metadata=metadata, author_name=name,
                    author_email=email,
                )
                .returning(Message.id)
            ).scalar_one()  # fmt: skip
            mention_id = conn.execute(
                insert(FeatureMention)
                .values(
                    org_id=org_id, message_id=message_id, ordinal=0, source="gong", sent_at=SENT,
                    title="Export PDF", description="d", kind="feature_request", urgency="low",
                    sentiment="neutral", evidence_quote="t", evidence_start=0, provider="offline", model="m",
                    prompt_version="v",
                )
                .returning(FeatureMention.id)
            ).scalar_one()  # fmt: skip
            messages.append(message_id)
            mentions.append(mention_id)
        # The stored request holds the first four messages' mentions (one of them linked this run);
        # a request founded this run holds the fifth; the sixth is in neither.
        conn.execute(
            insert(FeatureRequestMention),
            [
                {"feature_request_id": request_id, "mention_id": m, "org_id": org_id, "match_method": "new",
                 "match_score": 1.0, "pinned": False}
                for m in mentions[:4]
            ],
        )  # fmt: skip
        stored = RequestState(
            key="export-pdf", org_id=org_id, title="Export PDF", description="", kind="feature_request", theme=None,
            sub_theme=None, id=request_id, links=[(_record(mentions[3], org_id, messages[3]), "ai_match", 0.9)],
        )  # fmt: skip
        founded = RequestState(
            key="export-csv", org_id=org_id, title="Export CSV", description="", kind="feature_request", theme=None,
            sub_theme=None, links=[(_record(mentions[4], org_id, messages[4]), "new", 1.0)],
        )  # fmt: skip
        run_scopes = message_scopes(conn, [messages[3], messages[4]])

        people = _request_people(conn, [stored, founded], run_scopes)

        every_message = message_scopes(conn, messages)
        assert sorted(people[id(stored)]) == sorted(people_of(every_message[m] for m in messages[:4]))
        assert sorted(people[id(founded)]) == sorted(people_of([every_message[messages[4]]]))
        assert set(people[id(stored)]) == {"Jane Doe", "Bob Lund", "Ada Ng", "Ola Berg", "Kim", "Rui Sousa", "Eve Hart"}
        assert "Max Roe" not in people[id(stored)] + people[id(founded)]
