"""`feature_catalog`: every mention of every day, de-duplicated into canonical feature requests."""

import hashlib
import json
from collections import Counter
from dataclasses import asdict
from datetime import datetime
from typing import Any

import dagster as dg
from sqlalchemy import Connection, delete, insert, select, update

from headway_assets.assets.ai_support import AI_GROUP, LLM_POOL, llm_metadata, record_usage, run_with_engine
from headway_assets.assets.automation import FOLLOW_UPSTREAM
from headway_assets.assets.feature_mentions import feature_mentions
from headway_assets.assets.metadata import PREVIEW_ROWS, markdown_table
from headway_assets.assets.raw_messages import OWNERS
from headway_assets.catalog import CatalogEntry, MentionRecord, build_catalog, entry_stats
from headway_assets.core.warehouse.bulk import insert_rows
from headway_assets.core.warehouse.schema import (
    FeatureMention,
    FeatureRequest,
    FeatureRequestMention,
    Message,
    Organization,
    utc_now,
)
from headway_assets.llm.engine import LlmEngine, LlmFailure
from headway_assets.llm.schemas import CatalogMatch
from headway_assets.llm.tasks import MatchInput
from headway_assets.resources.llm import LlmResource
from headway_assets.resources.warehouse import WarehouseResource

CHECK_EVERY_MENTION_CATALOGUED = "every_mention_in_one_request"


def load_mentions(conn: Connection) -> list[MentionRecord]:
    """Every stored mention, with its message's source and external id."""
    rows = conn.execute(
        select(
            FeatureMention.id,
            FeatureMention.org_id,
            FeatureMention.title,
            FeatureMention.description,
            FeatureMention.kind,
            FeatureMention.theme,
            FeatureMention.sub_theme,
            FeatureMention.customer,
            FeatureMention.source,
            FeatureMention.sent_at,
            FeatureMention.ordinal,
            Message.external_id,
        ).join(Message, Message.id == FeatureMention.message_id)
    )
    return [
        MentionRecord(
            id=row.id,
            org_id=row.org_id,
            title=row.title,
            description=row.description,
            kind=row.kind,
            theme=row.theme,
            sub_theme=row.sub_theme,
            customer=row.customer,
            source=row.source,
            sent_at=row.sent_at,
            external_id=row.external_id,
            ordinal=row.ordinal,
        )
        for row in rows
    ]


def _match_key(item: MatchInput) -> str:
    return hashlib.sha256(json.dumps(asdict(item), sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def write_catalog(conn: Connection, org_id: int, entries: list[CatalogEntry]) -> dict[str, int]:
    """Make the org's catalogue hold exactly `entries`; request ids survive rebuilds by key."""
    existing: dict[str, int] = dict(
        conn.execute(select(FeatureRequest.key, FeatureRequest.id).where(FeatureRequest.org_id == org_id))
        .tuples()
        .all()
    )
    as_of = max((m.sent_at for e in entries for m in e.mentions), default=utc_now())
    wanted = {entry.key for entry in entries}
    stale = [request_id for key, request_id in existing.items() if key not in wanted]
    if stale:
        conn.execute(delete(FeatureRequest).where(FeatureRequest.id.in_(stale)))
    conn.execute(delete(FeatureRequestMention).where(FeatureRequestMention.org_id == org_id))
    now = utc_now()
    links: list[dict[str, Any]] = []
    counts = Counter[str]()
    for entry in entries:
        stats = entry_stats(entry, as_of)
        values = {
            "title": entry.title,
            "description": entry.description,
            "kind": entry.kind,
            "theme": entry.theme,
            "sub_theme": entry.sub_theme,
            "mention_count": stats.mention_count,
            "customer_count": len(stats.customers),
            "customers": {"names": stats.customers},
            "sources": stats.sources,
            "first_seen": stats.first_seen,
            "last_seen": stats.last_seen,
            "mentions_last_7d": stats.last_7d,
            "mentions_prev_7d": stats.prev_7d,
            "trend": stats.trend,
            "updated_at": now,
        }
        request_id = existing.get(entry.key)
        if request_id is None:
            request_id = conn.execute(
                insert(FeatureRequest).values(org_id=org_id, key=entry.key, **values).returning(FeatureRequest.id)
            ).scalar_one()
            counts["created"] += 1
        else:
            conn.execute(update(FeatureRequest).where(FeatureRequest.id == request_id).values(**values))
            counts["kept"] += 1
        links += [
            {
                "feature_request_id": request_id,
                "mention_id": mention.id,
                "org_id": org_id,
                "match_method": method,
                "match_score": score,
            }
            for mention, method, score in entry.links
        ]
    insert_rows(conn, FeatureRequestMention, links)
    counts["removed"] = len(stale)
    return dict(counts)


def _orphan_mentions(conn: Connection) -> int:
    linked = select(FeatureRequestMention.mention_id)
    return len(conn.execute(select(FeatureMention.id).where(FeatureMention.id.not_in(linked))).all())


@dg.asset(
    name="feature_catalog",
    automation_condition=FOLLOW_UPSTREAM,
    description="The de-duplicated catalogue of feature requests: mentions of all days merged (title "
    "similarity >= 0.9 at once, else an AI match >= 0.75 within the sub-theme, else a new request), with "
    "mention counts, distinct customers, first/last seen, sources, trend and a link to every mention. "
    "Rebuilt from all mentions in a canonical order, so it does not depend on how days were materialised.",
    group_name=AI_GROUP,
    deps=[feature_mentions],
    kinds={"python", "sql", "llm"},
    owners=OWNERS,
    tags={"layer": "ai"},
    pool=LLM_POOL,
    check_specs=[
        dg.AssetCheckSpec(
            CHECK_EVERY_MENTION_CATALOGUED,
            asset="feature_catalog",
            description="Every feature mention belongs to exactly one catalogue request.",
        )
    ],
)
def feature_catalog(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, llm: LlmResource
) -> dg.MaterializeResult:
    """Rebuild the catalogue of every organisation."""
    with warehouse.read() as conn:
        mentions = load_mentions(conn)
        org_slugs: dict[int, str] = dict(conn.execute(select(Organization.id, Organization.slug)).tuples().all())
    context.log.info(f"building the catalogue from {len(mentions)} mentions")
    match_failures: list[str] = []

    async def build(engine: LlmEngine) -> list[CatalogEntry]:
        async def matcher(item: MatchInput) -> tuple[str | None, float]:
            key = _match_key(item)
            answer = (await engine.match({key: item})).get(key)
            if isinstance(answer, CatalogMatch):
                return answer.candidate_id, answer.score
            if isinstance(answer, LlmFailure):
                match_failures.append(f"{item.title}: {answer.status}")
            return None, 0.0

        return await build_catalog(mentions, matcher)

    engine, entries = run_with_engine(context, llm, warehouse, build, progress_every=None)
    record_usage(context, warehouse, engine, partition=None)
    by_org: dict[int, list[CatalogEntry]] = {org_id: [] for org_id in org_slugs}
    for entry in entries:
        by_org.setdefault(entry.org_id, []).append(entry)
    changes: Counter[str] = Counter()
    with warehouse.write() as conn:
        for org_id, org_entries in sorted(by_org.items()):
            changes.update(write_catalog(conn, org_id, org_entries))
    with warehouse.read() as conn:
        orphans = _orphan_mentions(conn)
    methods = Counter(method for entry in entries for _, method, _ in entry.links)
    top = sorted(entries, key=lambda e: (-len(e.links), e.key))[:PREVIEW_ROWS]
    as_of: dict[int, datetime] = {}
    for entry in entries:
        latest = max(m.sent_at for m in entry.mentions)
        as_of[entry.org_id] = max(as_of.get(entry.org_id, latest), latest)
    if match_failures:
        context.log.warning(f"{len(match_failures)} AI match call(s) failed; those mentions started new requests")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(entries),
            "feature_requests": len(entries),
            "mentions": len(mentions),
            "created": changes["created"],
            "kept": changes["kept"],
            "removed": changes["removed"],
            "match_methods": dg.MetadataValue.json(dict(sorted(methods.items()))),
            "match_failures": len(match_failures),
            "by_org": dg.MetadataValue.json(
                {org_slugs.get(org, str(org)): len(items) for org, items in sorted(by_org.items())}
            ),
            "top_requests": dg.MetadataValue.md(
                markdown_table(
                    ["org", "request", "mentions", "customers", "sub-theme", "trend"],
                    [
                        (
                            org_slugs.get(e.org_id),
                            e.title,
                            len(e.links),
                            len({m.customer for m in e.mentions if m.customer}),
                            e.sub_theme,
                            entry_stats(e, as_of[e.org_id]).trend,
                        )
                        for e in top
                    ],
                )
            ),
            **llm_metadata(engine),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name=CHECK_EVERY_MENTION_CATALOGUED,
                passed=orphans == 0,
                metadata={"mentions_without_request": orphans},
            )
        ],
    )
