"""Insights: per relevant message (`message_insights`) and per organisation and period (`insights`)."""

import hashlib
import json
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg
from sqlalchemy import Connection, delete, insert, select

from headway_assets.assets.ai_support import (
    AI_GROUP,
    LLM_POOL,
    llm_metadata,
    org_shares,
    record_usage,
    refresh_version,
    run_with_engine,
    within_budget,
)
from headway_assets.assets.automation import FOLLOW_UPSTREAM
from headway_assets.assets.feature_catalog import feature_catalog
from headway_assets.assets.feature_mentions import feature_mentions, relevant_in_window
from headway_assets.assets.metadata import (
    PREVIEW_ROWS,
    markdown_table,
    people_of,
    preview_redaction,
    redacted_excerpt,
    safe_error,
)
from headway_assets.assets.partitions import DAILY_PARTITIONS, partition_label, partition_window
from headway_assets.assets.privacy import message_scopes, register_texts
from headway_assets.assets.raw_messages import OWNERS
from headway_assets.core.message import TimeWindow
from headway_assets.core.warehouse.bulk import delete_for_messages, insert_rows
from headway_assets.core.warehouse.schema import (
    FeatureMention,
    FeatureRequest,
    FeatureRequestMention,
    Message,
    MessageInsight,
    MessageLabel,
    Organization,
    PeriodInsight,
    utc_now,
)
from headway_assets.llm.engine import LlmEngine, LlmFailure
from headway_assets.llm.redaction import PiiScope
from headway_assets.llm.schemas import RELEVANCE_THRESHOLD, InsightDraft
from headway_assets.llm.tasks import INSIGHT, PROMPT_VERSIONS, InsightInput
from headway_assets.resources.llm import LlmResource, TaskVersion
from headway_assets.resources.warehouse import WarehouseResource

# Characters of a long message the summariser reads: its two most relevant chunks (the asks tier-2
# found in it come with it); it was 6,000 (four chunks) until the cost work of issue 15
# (docs/benchmarks.md, batch-vs-live).
INSIGHT_TEXT_LIMIT = 2_500
INSIGHT_CHUNKS = 2
CHECK_EVERY_RELEVANT_MESSAGE_SUMMARISED = "every_relevant_message_summarised"
QUOTES_PER_ASK = 3
ASKS_PER_LIST = 10


# -- message_insights --------------------------------------------------------------------------


def _insight_text(text: str, chunks: list[dict[str, Any]], quotes: Sequence[str] = ()) -> str:
    """What the summariser reads of a message: all of a short one; of a long one, the evidence of the
    asks tier-2 found in it (verbatim), else its most relevant tier-1 chunks, else its start."""
    if len(text) <= INSIGHT_TEXT_LIMIT:
        return text
    if quotes:
        return "\n…\n".join(dict.fromkeys(quotes))[:INSIGHT_TEXT_LIMIT]
    if not chunks:
        return text[:INSIGHT_TEXT_LIMIT]
    relevant = sorted(chunks, key=lambda c: (-(c.get("relevance") or 0), c["index"]))
    picked = sorted(relevant[:INSIGHT_CHUNKS], key=lambda c: c["index"])
    return "\n…\n".join(text[c["start"] : c["end"]] for c in picked)[:INSIGHT_TEXT_LIMIT]


def _insight_hash(item: InsightInput) -> str:
    payload = {"text": item.text, "source": item.source, "customer": item.customer, "asks": item.mention_titles}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def insight_inputs(
    conn: Connection, window: TimeWindow, stale_unless: TaskVersion | None = None
) -> tuple[dict[int, tuple[int, InsightInput, str]], int]:
    """Relevant messages of the window that need an insight: {message id: (org id, input, hash)}, and
    how many relevant messages the window has. With `stale_unless`, also messages whose insight was
    made with another model or prompt version."""
    rows = conn.execute(
        select(
            Message.id,
            Message.org_id,
            Message.source,
            Message.customer,
            Message.text,
            MessageLabel.chunks,
            MessageInsight.content_hash.label("insight_hash"),
            MessageInsight.model,
            MessageInsight.prompt_version,
        )
        .join(MessageLabel, MessageLabel.message_id == Message.id)
        .outerjoin(MessageInsight, MessageInsight.message_id == Message.id)
        .where(relevant_in_window(window))
        .order_by(Message.sent_at, Message.id)
    ).all()
    titles: dict[int, list[str]] = defaultdict(list)
    quotes: dict[int, list[str]] = defaultdict(list)
    if rows:
        for message_id, title, quote in conn.execute(
            select(FeatureMention.message_id, FeatureMention.title, FeatureMention.evidence_quote)
            .where(FeatureMention.sent_at >= window.start, FeatureMention.sent_at < window.end)
            .order_by(FeatureMention.message_id, FeatureMention.ordinal)
        ):
            titles[message_id].append(title)
            quotes[message_id].append(quote)
    due: dict[int, tuple[int, InsightInput, str]] = {}
    for row in rows:
        item = InsightInput(
            text=_insight_text(row.text, list((row.chunks or {}).get("chunks", [])), quotes.get(row.id, ())),
            source=row.source,
            customer=row.customer,
            mention_titles=tuple(titles.get(row.id, [])),
        )
        item_hash = _insight_hash(item)
        stale = stale_unless is not None and stale_unless.differs(row.model, row.prompt_version)
        if row.insight_hash != item_hash or stale:
            due[row.id] = (row.org_id, item, item_hash)
    return due, len(rows)


@dg.asset(
    name="message_insights",
    automation_condition=FOLLOW_UPSTREAM,
    description="Per relevant message (tier-1 relevance >= 6): a one-sentence summary for the product feed, the "
    "customer's sentiment and the key topics. Refreshed when the message or its extracted asks change.",
    group_name=AI_GROUP,
    partitions_def=DAILY_PARTITIONS,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=[feature_mentions],
    kinds={"python", "sql", "llm"},
    owners=OWNERS,
    tags={"layer": "ai"},
    pool=LLM_POOL,
    check_specs=[
        dg.AssetCheckSpec(
            CHECK_EVERY_RELEVANT_MESSAGE_SUMMARISED,
            asset="message_insights",
            description="Every relevant message of the partition has a current insight.",
        )
    ],
)
def message_insights(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, llm: LlmResource
) -> dg.MaterializeResult:
    """Summarise the window's relevant messages."""
    window = partition_window(context)
    label = partition_label(context)
    with warehouse.write() as conn:
        irrelevant = select(Message.id).where(
            Message.sent_at >= window.start,
            Message.sent_at < window.end,
            Message.id.not_in(select(Message.id).join(MessageLabel).where(relevant_in_window(window))),
        )
        pruned = conn.execute(delete(MessageInsight).where(MessageInsight.message_id.in_(irrelevant))).rowcount
    stale_unless = refresh_version(context, llm, INSIGHT)
    with warehouse.read() as conn:
        due, relevant_total = insight_inputs(conn, window, stale_unless)
    kept, budget = within_budget(context, warehouse, list(due.items()), lambda entry: entry[1][0])
    due = dict(kept[: llm.item_cap] if llm.item_cap else kept)

    with warehouse.read() as conn:
        scopes = message_scopes(conn, due)

    async def work(engine: LlmEngine) -> dict[str, InsightDraft | LlmFailure]:
        register_texts(engine.privacy, scopes, {message_id: [item.text] for message_id, (_, item, _) in due.items()})
        return await engine.summarise({item_hash: item for _, item, item_hash in due.values()})

    shares = org_shares(due.values(), lambda entry: entry[0], lambda entry: len(entry[1].text))
    engine, answers = run_with_engine(context, llm, warehouse, work, progress_every=100, shares=shares)
    rows: list[dict[str, Any]] = []
    failures: list[tuple[int, str]] = []
    for message_id, (org_id, _item, item_hash) in due.items():
        answer = answers.get(item_hash)
        if isinstance(answer, InsightDraft):
            rows.append(
                {
                    "message_id": message_id,
                    "org_id": org_id,
                    "content_hash": item_hash,
                    "summary": answer.summary,
                    "sentiment": answer.sentiment,
                    "key_topics": {"topics": answer.key_topics},
                    "provider": engine.provider.name,
                    "model": engine.model(INSIGHT),
                    "prompt_version": PROMPT_VERSIONS[INSIGHT],
                    "created_at": utc_now(),
                }
            )
        elif answer is not None:
            failures.append((message_id, f"{answer.status}: {answer.error}"))
    with warehouse.write() as conn:
        delete_for_messages(conn, MessageInsight, [row["message_id"] for row in rows])
        insert_rows(conn, MessageInsight, rows)
    record_usage(context, warehouse, engine, partition=label, shares=shares)
    with warehouse.read() as conn:
        remaining = len(insight_inputs(conn, window, stale_unless)[0])
    sentiments = Counter(row["sentiment"] for row in rows)
    return dg.MaterializeResult(
        metadata={
            "partition": label,
            "relevant_messages": relevant_total,
            "summarised_this_run": len(rows),
            "failed": len(failures),
            "remaining": remaining,
            "refreshed_stale": stale_unless is not None,
            "pruned": int(pruned or 0),
            **budget.metadata(),
            "sentiment_counts": dg.MetadataValue.json(dict(sorted(sentiments.items()))),
            "failures": dg.MetadataValue.md(
                markdown_table(["message id", "error"], [(i, safe_error(e)) for i, e in failures], limit=20)
            ),
            "preview": dg.MetadataValue.md(
                markdown_table(
                    ["message id", "sentiment", "summary (redacted)", "topics (redacted)"],
                    _preview(rows[:PREVIEW_ROWS], scopes),
                )
            ),
            **llm_metadata(engine),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name=CHECK_EVERY_RELEVANT_MESSAGE_SUMMARISED,
                passed=remaining == 0,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={"relevant_messages": relevant_total, "without_current_insight": remaining},
            )
        ],
    )


def _preview(rows: list[dict[str, Any]], scopes: Mapping[int, PiiScope]) -> list[tuple[Any, ...]]:
    """Preview rows of insights: the model-written summary and topics redacted with the people of the
    messages shown (an organisation that sends text as it is gets summaries that may name them)."""
    people = people_of(scope for row in rows if (scope := scopes.get(row["message_id"])) is not None)
    shown = []
    for row in rows:
        topics = ", ".join(row["key_topics"]["topics"])
        redaction = preview_redaction(scopes.get(row["message_id"]), names=people, texts=[row["summary"], topics])
        shown.append(
            (
                row["message_id"],
                row["sentiment"],
                redacted_excerpt(row["summary"], redaction),
                redacted_excerpt(topics, redaction),
            )
        )
    return shown


def _latest_figures(content: Mapping[str, Any]) -> tuple[Any, ...]:
    """(asks, new asks, rising asks, top request id and its mentions) of one period insight."""
    top = content["top_asks"]
    asks = sum(source["mentions"] for source in content["by_source"].values())
    leader = f"#{top[0]['feature_request_id']} ({top[0]['mentions']})" if top else ""
    return asks, len(content["new_asks"]), len(content["rising_asks"]), leader


# -- insights (per org and period) --------------------------------------------------------------


def _week_start(moment: datetime) -> datetime:
    day = moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return day - timedelta(days=day.weekday())


def _month_start(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _next_month(start: datetime) -> datetime:
    return (start + timedelta(days=32)).replace(day=1)


def _periods(first: datetime, last: datetime) -> list[tuple[str, datetime, datetime]]:
    periods: list[tuple[str, datetime, datetime]] = []
    week = _week_start(first)
    while week <= last:
        periods.append(("week", week, week + timedelta(days=7)))
        week += timedelta(days=7)
    month = _month_start(first)
    while month <= last:
        periods.append(("month", month, _next_month(month)))
        month = _next_month(month)
    return periods


def _ask(request: Any, mentions: list[Any]) -> dict[str, Any]:
    quotes = [
        {"message_id": m.message_id, "quote": m.evidence_quote, "customer": m.customer, "source": m.source}
        for m in sorted(mentions, key=lambda m: (m.sent_at, m.message_id))[:QUOTES_PER_ASK]
    ]
    return {
        "feature_request_id": request.id,
        "title": request.title,
        "mentions": len(mentions),
        "customers": len({m.customer for m in mentions if m.customer}),
        "quotes": quotes,
    }


def _by_source(mentions: list[Any]) -> dict[str, dict[str, int]]:
    """Mentions and distinct customers per source, as `{"slack": {"mentions": 11, "customers": 4}}`.

    An object per source (not a bare count) is the API's documented shape and leaves room for
    more figures per source without breaking readers.
    """
    per_source: dict[str, list[Any]] = defaultdict(list)
    for mention in mentions:
        per_source[mention.source].append(mention)
    return {
        source: {"mentions": len(ms), "customers": len({m.customer for m in ms if m.customer})}
        for source, ms in sorted(per_source.items())
    }


def period_insights(conn: Connection, org_id: int) -> list[dict[str, Any]]:
    """Weekly and monthly insights of one organisation, computed from the catalogue."""
    requests = {r.id: r for r in conn.execute(select(FeatureRequest).where(FeatureRequest.org_id == org_id))}
    mentions = conn.execute(
        select(
            FeatureRequestMention.feature_request_id,
            FeatureMention.message_id,
            FeatureMention.sent_at,
            FeatureMention.source,
            FeatureMention.customer,
            FeatureMention.evidence_quote,
        )
        .join(FeatureMention, FeatureMention.id == FeatureRequestMention.mention_id)
        .where(FeatureRequestMention.org_id == org_id)
    ).all()
    if not mentions:
        return []
    first = min(m.sent_at for m in mentions)
    last = max(m.sent_at for m in mentions)
    results = []
    for period, start, end in _periods(first, last):
        length = end - start
        inside = [m for m in mentions if start <= m.sent_at < end]
        before = [m for m in mentions if start - length <= m.sent_at < start]
        by_request: dict[int, list[Any]] = defaultdict(list)
        for mention in inside:
            by_request[mention.feature_request_id].append(mention)
        previous = Counter(m.feature_request_id for m in before)
        ranked = sorted(by_request.items(), key=lambda kv: (-len(kv[1]), kv[0]))
        top = [_ask(requests[rid], ms) for rid, ms in ranked[:ASKS_PER_LIST]]
        new = [_ask(requests[rid], ms) for rid, ms in ranked if start <= requests[rid].first_seen < end][:ASKS_PER_LIST]
        rising = [
            _ask(requests[rid], ms) | {"previous_mentions": previous[rid]}
            for rid, ms in ranked
            if requests[rid].first_seen < start and len(ms) >= 2 and len(ms) >= 2 * max(previous[rid], 1)
        ][:ASKS_PER_LIST]
        by_source = _by_source(inside)
        customers: dict[str, list[Any]] = defaultdict(list)
        for mention in inside:
            if mention.customer:
                customers[mention.customer].append(mention)
        by_customer = [
            {
                "customer": customer,
                "mentions": len(ms),
                "top_asks": [
                    requests[rid].title for rid, _ in Counter(m.feature_request_id for m in ms).most_common(3)
                ],
            }
            for customer, ms in sorted(customers.items(), key=lambda kv: (-len(kv[1]), kv[0]))[:ASKS_PER_LIST]
        ]
        headline = (
            f"{len(inside)} asks from {len(customers)} customers"
            + (f"; most asked: {top[0]['title']} ({top[0]['mentions']})" if top else "")
            + (f"; {len(new)} new" if new else "")
            + (f"; rising: {rising[0]['title']}" if rising else "")
        )
        results.append(
            {
                "org_id": org_id,
                "period": period,
                "period_start": start,
                "period_end": end,
                "headline": headline,
                "content": {
                    "top_asks": top,
                    "new_asks": new,
                    "rising_asks": rising,
                    "by_source": by_source,
                    "by_customer": by_customer,
                },
                "created_at": utc_now(),
            }
        )
    return results


@dg.asset(
    name="insights",
    automation_condition=FOLLOW_UPSTREAM,
    description="Period insights per organisation (ISO weeks and calendar months): top asks, new asks, rising "
    "asks, mentions by source and by customer, each ask with evidence quotes. Computed from the catalogue.",
    group_name=AI_GROUP,
    deps=[feature_catalog, message_insights],
    kinds={"python", "sql"},
    owners=OWNERS,
    tags={"layer": "ai"},
)
def insights(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Recompute every organisation's period insights."""
    with warehouse.read() as conn:
        orgs: dict[int, str] = dict(conn.execute(select(Organization.id, Organization.slug)).tuples().all())
        computed = {org_id: period_insights(conn, org_id) for org_id in orgs}
    with warehouse.write() as conn:
        for org_id, rows in computed.items():
            conn.execute(delete(PeriodInsight).where(PeriodInsight.org_id == org_id))
            if rows:
                conn.execute(insert(PeriodInsight), rows)
    # Counts and ids, not the headline: it quotes request titles, which a model wrote from messages.
    latest = [
        (orgs[org_id], rows[-1]["period"], rows[-1]["period_start"].date(), *_latest_figures(rows[-1]["content"]))
        for org_id, rows in computed.items()
        if rows
    ]
    weekly = [r for rows in computed.values() for r in rows if r["period"] == "week"]
    context.log.info(f"{sum(len(r) for r in computed.values())} period insights for {len(orgs)} organisations")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": sum(len(rows) for rows in computed.values()),
            "organisations": len(orgs),
            "weeks": len(weekly),
            "latest": dg.MetadataValue.md(
                markdown_table(
                    ["org", "period", "start", "asks", "new asks", "rising asks", "top request (mentions)"],
                    latest,
                )
            ),
            "relevance_threshold": RELEVANCE_THRESHOLD,
        }
    )
