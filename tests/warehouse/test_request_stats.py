"""`refresh_request_stats` recomputes request aggregates in SQL exactly as `catalog.entry_stats` does."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, insert, select, update

from headway_assets.catalog import CatalogEntry, MentionRecord, entry_stats
from headway_assets.core.warehouse.database import write_transaction
from headway_assets.core.warehouse.request_stats import (
    AddedMention,
    add_to_request_stats,
    refresh_request_stats,
    refresh_request_windows,
)
from headway_assets.core.warehouse.schema import (
    CataloguePin,
    FeatureMention,
    FeatureRequest,
    FeatureRequestMention,
    Message,
    Organization,
)

START = datetime(2025, 1, 1, tzinfo=UTC)


def _org(conn: Connection, slug: str) -> int:
    return conn.execute(
        insert(Organization).values(slug=slug, name=slug, settings={}).returning(Organization.id)
    ).scalar_one()


def _message(conn: Connection, org_id: int, index: int, sent_at: datetime) -> int:
    return conn.execute(
        insert(Message)
        .values(
            org_id=org_id, source="slack", external_id=f"m{index}", sent_at=sent_at, text="t", text_length=1,
            content_hash="h", record_hash="h", source_metadata={},
        )
        .returning(Message.id)
    ).scalar_one()  # fmt: skip


def _mention(conn: Connection, org_id: int, message_id: int, sent_at: datetime, **values: Any) -> int:
    row = {
        "org_id": org_id, "message_id": message_id, "ordinal": 0, "source": "slack", "sent_at": sent_at,
        "title": "Export PDF", "description": "d", "kind": "feature_request", "urgency": "low",
        "sentiment": "neutral", "theme": "reporting", "sub_theme": "reporting/pdf", "customer": None,
        "evidence_quote": "t", "evidence_start": 0, "provider": "offline", "model": "m", "prompt_version": "v",
    }  # fmt: skip
    row.update(values)
    return conn.execute(insert(FeatureMention).values(**row).returning(FeatureMention.id)).scalar_one()


def _request(conn: Connection, org_id: int, key: str, **values: Any) -> int:
    row = {
        "org_id": org_id, "key": key, "title": key, "description": "", "kind": "feature_request",
        "theme": None, "sub_theme": None, "mention_count": 99, "customer_count": 99, "customers": {},
        "sources": {}, "first_seen": START, "last_seen": START,
    }  # fmt: skip
    row.update(values)
    return conn.execute(insert(FeatureRequest).values(**row).returning(FeatureRequest.id)).scalar_one()


def _record(mention_id: int, org_id: int, values: dict[str, Any]) -> MentionRecord:
    return MentionRecord(
        id=mention_id, org_id=org_id, title="t", description="d", kind="k", theme=None, sub_theme=None,
        customer=values["customer"], source=values["source"], sent_at=values["sent_at"], external_id="x", ordinal=0,
    )  # fmt: skip


def test_stats_match_entry_stats_for_random_requests(database_url: str) -> None:
    rng = random.Random(14)
    customers = ["Zeta", "acme", "Acme", "Ünicorn", "beta", None, ""]
    sources = ["slack", "gmail", "gong", "zendesk"]
    entries: dict[int, CatalogEntry] = {}
    with write_transaction(database_url) as conn:
        org_id = _org(conn, "acme")
        request_ids = [_request(conn, org_id, f"r{i}") for i in range(12)]
        for index in range(300):
            sent_at = START + timedelta(minutes=rng.randrange(0, 60 * 24 * 40))
            values = {"sent_at": sent_at, "source": rng.choice(sources), "customer": rng.choice(customers)}
            message_id = _message(conn, org_id, index, sent_at)
            mention_id = _mention(conn, org_id, message_id, **values)
            request_id = rng.choice(request_ids[:10])  # the last two requests get no mention
            conn.execute(
                insert(FeatureRequestMention).values(
                    feature_request_id=request_id, mention_id=mention_id, org_id=org_id, match_method="new",
                    match_score=1.0,
                )
            )  # fmt: skip
            entry = entries.setdefault(request_id, CatalogEntry("k", org_id, "t", "d", "k", None, None))
            entry.links.append((_record(mention_id, org_id, values), "new", 1.0))
        # A person's state keeps an emptied request; without it the request goes.
        conn.execute(update(FeatureRequest).where(FeatureRequest.id == request_ids[10]).values(status="planned"))
        refresh_request_stats(conn, org_id, request_ids)

    as_of = max(m.sent_at for e in entries.values() for m in e.mentions)
    with write_transaction(database_url) as conn:
        rows = {row.id: row for row in conn.execute(select(FeatureRequest))}
    assert set(rows) == set(request_ids[:11])
    for request_id, entry in entries.items():
        expected = entry_stats(entry, as_of)
        row = rows[request_id]
        assert row.mention_count == expected.mention_count
        assert row.customers == {"names": expected.customers}
        assert row.customer_count == len(expected.customers)
        assert row.sources == expected.sources
        assert (row.first_seen, row.last_seen) == (expected.first_seen, expected.last_seen)
        assert (row.mentions_last_7d, row.mentions_prev_7d) == (expected.last_7d, expected.prev_7d)
        assert row.trend == expected.trend
    kept = rows[request_ids[10]]
    assert (kept.mention_count, kept.customer_count, kept.customers, kept.sources) == (0, 0, {"names": []}, {})


def test_explicit_as_of_and_trends(database_url: str) -> None:
    as_of = START + timedelta(days=30)
    with write_transaction(database_url) as conn:
        org_id = _org(conn, "acme")
        # rising: 4 in the last 7 days, 1 the week before; falling: the other way round.
        plans = {
            "rising": [1, 2, 3, 4, 9],
            "falling": [8, 9, 10, 11, 1],
            "new": [1, 2],
            "steady": [20, 8, 1],
        }
        ids: dict[str, int] = {}
        index = 0
        for name, days_ago in plans.items():
            ids[name] = _request(conn, org_id, name)
            for days in days_ago:
                index += 1
                sent_at = as_of - timedelta(days=days, minutes=1)
                mention_id = _mention(conn, org_id, _message(conn, org_id, index, sent_at), sent_at)
                conn.execute(
                    insert(FeatureRequestMention).values(
                        feature_request_id=ids[name], mention_id=mention_id, org_id=org_id, match_method="new",
                        match_score=1.0,
                    )
                )  # fmt: skip
        refresh_request_stats(conn, org_id, ids.values(), as_of=as_of)
        trends = dict(conn.execute(select(FeatureRequest.key, FeatureRequest.trend)).tuples().all())
    assert trends == {name: name for name in plans}


def test_empty_requests_go_unless_a_person_acted(database_url: str) -> None:
    with write_transaction(database_url) as conn:
        org_id = _org(conn, "acme")
        other_org = _org(conn, "globex")
        message_id = _message(conn, org_id, 1, START)
        keep = {
            "status": _request(conn, org_id, "status", status="shipped"),
            "owner": _request(conn, org_id, "owner", owner="pm@acme.example"),
            "title": _request(conn, org_id, "title", title_locked=True),
            "taxonomy": _request(conn, org_id, "taxonomy", taxonomy_locked=True),
            "origin": _request(conn, org_id, "origin", origin="person"),
            "pin": _request(conn, org_id, "pin"),
        }
        target = keep["status"]
        keep["tombstone"] = _request(conn, org_id, "tombstone", merged_into_id=target)
        conn.execute(
            insert(CataloguePin).values(
                org_id=org_id, message_id=message_id, title="t", evidence_quote="t", evidence_start=0,
                feature_request_id=keep["pin"], created_by="pm@acme.example",
            )
        )  # fmt: skip
        gone = _request(conn, org_id, "plain")
        foreign = _request(conn, other_org, "foreign")  # another org's id is ignored, not deleted
        refresh_request_stats(conn, org_id, [*keep.values(), gone, foreign])
        left = set(conn.execute(select(FeatureRequest.id)).scalars())
        counts = set(
            conn.execute(select(FeatureRequest.mention_count).where(FeatureRequest.id.in_(keep.values()))).scalars()
        )
    assert left == {*keep.values(), foreign}
    assert counts == {0}


STAT_COLUMNS = (
    "mention_count", "customer_count", "customers", "sources", "first_seen", "last_seen", "mentions_last_7d",
    "mentions_prev_7d", "trend",
)  # fmt: skip


def _stats(conn: Connection, ids: list[int]) -> dict[int, tuple[Any, ...]]:
    columns = [getattr(FeatureRequest, name) for name in STAT_COLUMNS]
    return {
        row[0]: tuple(row[1:])
        for row in conn.execute(select(FeatureRequest.id, *columns).where(FeatureRequest.id.in_(ids)))
    }


def test_folding_new_mentions_and_recounting_windows_equals_a_full_refresh(database_url: str) -> None:
    """The incremental path (stats of stored requests updated from their new mentions alone, windows
    recounted from the last two weeks) leaves exactly what a full recompute writes."""
    rng = random.Random(7)
    customers = ["Zeta", "acme", "Ünicorn", None, ""]
    sources = ["slack", "gmail", "gong"]
    with write_transaction(database_url) as conn:
        org_id = _org(conn, "acme")
        ids = [_request(conn, org_id, f"r{i}") for i in range(8)]

        def link(index: int, day: float, request_id: int) -> AddedMention:
            sent_at = START + timedelta(days=day)
            values = {"sent_at": sent_at, "source": rng.choice(sources), "customer": rng.choice(customers)}
            mention_id = _mention(conn, org_id, _message(conn, org_id, index, sent_at), **values)
            conn.execute(
                insert(FeatureRequestMention).values(
                    feature_request_id=request_id, mention_id=mention_id, org_id=org_id, match_method="new",
                    match_score=1.0,
                )
            )  # fmt: skip
            return AddedMention(sent_at, values["source"], values["customer"])

        # r7 has no mention yet: a person's status keeps it (counts 0) until it gains some.
        conn.execute(update(FeatureRequest).where(FeatureRequest.id == ids[7]).values(status="planned"))
        for index in range(200):  # history over 60 days
            link(index, rng.uniform(0, 60), rng.choice(ids[:7]))
        refresh_request_stats(conn, org_id, ids)
        added: dict[int, list[AddedMention]] = {}
        for index in range(200, 230):  # a new day, 61 days in: windows move for every request
            request_id = rng.choice(ids[2:])  # r0 and r1 gain nothing, r7 its first mentions
            added.setdefault(request_id, []).append(link(index, rng.uniform(61, 62), request_id))
        folded = add_to_request_stats(conn, org_id, added)
        assert folded == set(added)
        refresh_request_windows(conn, org_id, ids)
        incremental = _stats(conn, ids)
        refresh_request_stats(conn, org_id, ids)
        assert _stats(conn, ids) == incremental
        assert incremental[ids[7]][0] == len(added[ids[7]])
        # Nothing changed since: a second recount writes no row.
        assert refresh_request_windows(conn, org_id, ids) == 0
