"""Tier-2 (`feature_mentions`): the structured asks in every relevant message of the day.

Relevant means a current tier-1 label with relevance >= 6 (for a long message: one of its
chunks scored so). Tier-2 then reads the whole message: tier-1 sees at most five windows of a
long call, and a call's asks are often outside them (docs/quality.md measures it). Every
mention carries a verbatim evidence quote located in the message (quotes that cannot be found
are rejected and counted), and a theme / sub-theme from the organisation's taxonomy. Bounded
and resumable like tier-1.

The same answer names the organisation's listed competitors the message mentions (issue 16 item 4):
each becomes a `competitor_mentions` row with its context, a verbatim quote (checked like the
asks' quotes) and the ask of the message it co-occurs with (the one whose evidence is nearest).
They are written and replaced with the message's mentions, so re-runs converge.
"""

import hashlib
import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import dagster as dg
from sqlalchemy import Connection, and_, delete, or_, select

from headway_assets.assets.ai_support import (
    AI_GROUP,
    LLM_POOL,
    llm_metadata,
    org_shares,
    record_usage,
    refresh_version,
    run_slices,
    run_with_engine,
    within_budget,
)
from headway_assets.assets.automation import FOLLOW_UPSTREAM
from headway_assets.assets.local_model import feedback_excerpts, internal_speakers, saves_tokens
from headway_assets.assets.message_labels import message_labels, relevant_label
from headway_assets.assets.metadata import (
    PREVIEW_ROWS,
    markdown_table,
    people_of,
    preview_redaction,
    redacted_customer,
    redacted_excerpt,
    safe_error,
)
from headway_assets.assets.partitions import DAILY_PARTITIONS, partition_label, partition_window
from headway_assets.assets.privacy import message_scopes
from headway_assets.assets.raw_messages import OWNERS
from headway_assets.core.message import TimeWindow
from headway_assets.core.pii import Redaction
from headway_assets.core.taxonomy import Taxonomy, load_org_taxonomy
from headway_assets.core.warehouse.bulk import delete_for_messages, insert_rows
from headway_assets.core.warehouse.competitors import CompetitorList, load_competitors
from headway_assets.core.warehouse.schema import (
    CompetitorMention,
    FeatureMention,
    Message,
    MessageExtraction,
    MessageLabel,
    Organization,
    utc_now,
)
from headway_assets.llm.engine import LlmEngine, LlmFailure
from headway_assets.llm.evidence import locate_quote
from headway_assets.llm.redaction import PiiScope
from headway_assets.llm.schemas import CompetitorMentionDraft, MentionDraft, MentionExtraction
from headway_assets.llm.tasks import PROMPT_VERSIONS, TIER2, Tier2Input
from headway_assets.resources.llm import LlmResource, TaskVersion
from headway_assets.resources.warehouse import WarehouseResource

CHECK_QUOTES_ARE_SUBSTRINGS = "evidence_quotes_are_substrings"
CHECK_EVERY_RELEVANT_MESSAGE_EXTRACTED = "every_relevant_message_extracted"
MAX_ATTEMPTS = 3


@dataclass(frozen=True)
class RelevantMessage:
    """A relevant message of the window, due for tier-2."""

    id: int
    org_id: int
    source: str
    external_id: str
    text: str
    title: str | None
    customer: str | None
    sent_at: Any
    content_hash: str
    attempts: int
    # The organisation's own speakers of a call with external participants (left out of excerpts).
    internal_speakers: frozenset[str] = frozenset()


def relevant_in_window(window: TimeWindow) -> Any:
    """Messages of the window whose current tier-1 label makes them relevant (joined to their label)."""
    return and_(Message.sent_at >= window.start, Message.sent_at < window.end, relevant_label())


def extraction_pending() -> Any:
    """A relevant message tier-2 still owes: never extracted, changed since, or failed last time."""
    return or_(
        MessageExtraction.message_id.is_(None),
        MessageExtraction.content_hash != Message.content_hash,
        and_(MessageExtraction.status == "failed", MessageExtraction.attempts < MAX_ATTEMPTS),
    )


def relevant_messages(
    conn: Connection, window: TimeWindow, stale_unless: TaskVersion | None = None
) -> list[RelevantMessage]:
    """The relevant messages of the window due for tier-2, oldest first: never extracted, changed
    since, or failed last time; with `stale_unless`, also those extracted with another model,
    prompt version or taxonomy."""
    rows = conn.execute(
        select(
            Message.id,
            Message.org_id,
            Message.source,
            Message.external_id,
            Message.text,
            Message.title,
            Message.customer,
            Message.sent_at,
            Message.content_hash,
            Message.source_metadata,
            MessageExtraction.status.label("extraction_status"),
            MessageExtraction.taxonomy_fingerprint,
            MessageExtraction.model,
            MessageExtraction.prompt_version,
            MessageExtraction.attempts,
            extraction_pending().label("pending"),
        )
        .join(MessageLabel, MessageLabel.message_id == Message.id)
        .outerjoin(MessageExtraction, MessageExtraction.message_id == Message.id)
        .where(relevant_in_window(window))
        .order_by(Message.sent_at, Message.id)
    ).all()
    fingerprints: dict[int, str] = {}
    if stale_unless is not None and rows:
        org_ids = {row.org_id for row in rows}
        taxonomies = _taxonomies(conn, org_ids)
        competitors = load_competitors(conn, org_ids)
        fingerprints = {
            org_id: org_fingerprint(taxonomy, competitors[org_id]) for org_id, taxonomy in taxonomies.items()
        }
    return [
        RelevantMessage(
            id=row.id,
            org_id=row.org_id,
            source=row.source,
            external_id=row.external_id,
            text=row.text,
            title=row.title,
            customer=row.customer,
            sent_at=row.sent_at,
            content_hash=row.content_hash,
            attempts=row.attempts if row.extraction_status == "failed" else 0,
            internal_speakers=internal_speakers(row.source_metadata),
        )
        for row in rows
        if row.pending or (stale_unless is not None and _is_stale(row, stale_unless, fingerprints))
    ]


def _is_stale(row: Any, current: TaskVersion, fingerprints: dict[int, str]) -> bool:
    return current.differs(row.model, row.prompt_version) or row.taxonomy_fingerprint != fingerprints.get(row.org_id)


def org_fingerprint(taxonomy: Taxonomy, competitors: CompetitorList | None) -> str:
    """What an extraction was made against (stored as `taxonomy_fingerprint`): the taxonomy's
    fingerprint, combined with the competitor list's when the organisation has one (so an
    organisation without competitors keeps the fingerprints it had)."""
    if competitors is None or not competitors.entries:
        return taxonomy.fingerprint()
    combined = f"{taxonomy.fingerprint()}:{competitors.fingerprint()}"
    return hashlib.sha256(combined.encode()).hexdigest()[:32]


def _taxonomies(conn: Connection, org_ids: set[int]) -> dict[int, Taxonomy]:
    slugs: dict[int, str] = dict(
        conn.execute(select(Organization.id, Organization.slug).where(Organization.id.in_(org_ids))).tuples().all()
    )
    # One reader for pipeline and API; it logs when it falls back to the YAML file.
    return {org_id: load_org_taxonomy(conn, org_id=org_id, org_slug=slug)[0] for org_id, slug in slugs.items()}


def _item_hash(item: Tier2Input, taxonomy_fingerprint: str, privacy: str | None = None) -> str:
    # `taxonomy_fingerprint` is `org_fingerprint`: it covers the competitor list too, when there is one.
    payload = {
        "text": item.text,
        "source": item.source,
        "customer": item.customer,
        "title": item.title,
        "taxonomy": taxonomy_fingerprint,
    }
    if privacy is not None:
        # The answer's placeholders are put back with this message's mapping: an answer made
        # under another redaction (other people, other version) must not be reused.
        payload["privacy"] = privacy
    return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def _normalise_title(title: str) -> str:
    return " ".join("".join(ch.lower() if ch.isalnum() else " " for ch in title).split())


def _place_in_taxonomy(draft: MentionDraft, taxonomy: Taxonomy) -> tuple[str | None, str | None]:
    """(theme, sub_theme) paths that exist in the taxonomy; unknown paths become None."""
    sub = taxonomy.node(draft.sub_theme)
    if sub is None and draft.sub_theme and draft.theme and "/" not in draft.sub_theme:
        sub = taxonomy.node(f"{draft.theme}/{draft.sub_theme}")
    if sub is not None and sub.parent is not None:
        return sub.parent, sub.path
    theme = taxonomy.node(draft.theme)
    if theme is not None and theme.parent is None:
        return theme.path, None
    if theme is not None:  # a sub-theme path given as the theme
        return theme.parent, theme.path
    return None, None


def build_mention_rows(
    message: RelevantMessage,
    drafts: list[MentionDraft],
    taxonomy: Taxonomy,
    engine: LlmEngine,
    redaction: Redaction | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """Mention rows with located quotes; returns (rows, rejected quote count). With the message's
    `redaction`, the placeholders of each quote are put back before it is looked for in the text."""
    rows: list[dict[str, Any]] = []
    rejected = 0
    seen_titles: set[str] = set()
    for draft in drafts:
        quote = redaction.restore(draft.evidence_quote) if redaction is not None else draft.evidence_quote
        located = locate_quote(message.text, quote)
        if located is None:
            rejected += 1
            continue
        key = _normalise_title(draft.title)
        if key in seen_titles:  # the same ask answered twice for one message
            continue
        seen_titles.add(key)
        start, quote = located
        theme, sub_theme = _place_in_taxonomy(draft, taxonomy)
        rows.append(
            {
                "org_id": message.org_id,
                "message_id": message.id,
                "ordinal": len(rows),
                "source": message.source,
                "sent_at": message.sent_at,
                "title": draft.title.strip(),
                "description": draft.description.strip(),
                "problem_statement": draft.problem_statement,
                "desired_outcome": draft.desired_outcome,
                "kind": draft.kind,
                "urgency": draft.urgency,
                "sentiment": draft.sentiment,
                "theme": theme,
                "sub_theme": sub_theme,
                "customer": message.customer,
                "evidence_quote": quote,
                "evidence_start": start,
                "provider": engine.provider.name,
                "model": engine.model(TIER2),
                "prompt_version": PROMPT_VERSIONS[TIER2],
                "created_at": utc_now(),
            }
        )
    return rows, rejected


def _nearest_ask(start: int, end: int, asks: list[dict[str, Any]]) -> int | None:
    """The ordinal of the ask whose evidence overlaps or is nearest text[start:end], if any."""
    best: tuple[int, int] | None = None
    for ask in asks:
        ask_start = ask["evidence_start"]
        ask_end = ask_start + len(ask["evidence_quote"])
        gap = max(0, ask_start - end, start - ask_end)
        if best is None or gap < best[0]:
            best = (gap, ask["ordinal"])
    return None if best is None else best[1]


def build_competitor_rows(
    message: RelevantMessage,
    drafts: list[CompetitorMentionDraft],
    competitors: CompetitorList,
    mention_rows: list[dict[str, Any]],
    engine: LlmEngine,
    redaction: Redaction | None = None,
) -> tuple[list[dict[str, Any]], int, int]:
    """Competitor mention rows with located quotes, each tied to the nearest ask of the message;
    returns (rows, rejected quote count, answers naming no listed competitor)."""
    rows: list[dict[str, Any]] = []
    rejected = unknown = 0
    seen: set[tuple[int, str]] = set()
    for draft in drafts:
        competitor_id = competitors.lookup(draft.competitor)
        if competitor_id is None:
            unknown += 1
            continue
        quote = redaction.restore(draft.evidence_quote) if redaction is not None else draft.evidence_quote
        located = locate_quote(message.text, quote)
        if located is None:
            rejected += 1
            continue
        if (competitor_id, draft.context) in seen:  # one row per competitor and context in a message
            continue
        seen.add((competitor_id, draft.context))
        start, quote = located
        rows.append(
            {
                "org_id": message.org_id,
                "message_id": message.id,
                "ordinal": len(rows),
                "competitor_id": competitor_id,
                "context": draft.context,
                "source": message.source,
                "sent_at": message.sent_at,
                "evidence_quote": quote,
                "evidence_start": start,
                "mention_ordinal": _nearest_ask(start, start + len(quote), mention_rows),
                "provider": engine.provider.name,
                "model": engine.model(TIER2),
                "prompt_version": PROMPT_VERSIONS[TIER2],
                "created_at": utc_now(),
            }
        )
    return rows, rejected, unknown


async def extract_slice(
    engine: LlmEngine,
    messages: list[RelevantMessage],
    taxonomies: dict[int, Taxonomy],
    scopes: Mapping[int, PiiScope] | None = None,
    competitors: Mapping[int, CompetitorList] | None = None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """(mention rows, extraction rows, competitor mention rows) for the messages of one slice that
    got an outcome. `scopes` say how to redact each message (default: the engine's default
    redaction); `competitors` are each organisation's list (default: none)."""
    items: dict[str, Tier2Input] = {}
    keys: dict[int, str] = {}
    lists = {org_id: (competitors or {}).get(org_id) or CompetitorList() for org_id in taxonomies}
    # Each organisation's taxonomy listed and hashed once per slice, not once or twice per message.
    listings = {org_id: taxonomy.listing() for org_id, taxonomy in taxonomies.items()}
    fingerprints = {org_id: org_fingerprint(taxonomy, lists[org_id]) for org_id, taxonomy in taxonomies.items()}
    prompts = {org_id: found.prompt for org_id, found in lists.items()}
    # A long call goes as its lines the local model finds possibly feedback (the quotes stay verbatim).
    texts = [m.text for m in messages]
    if saves_tokens(engine.provider.name):
        texts = feedback_excerpts(texts, [m.internal_speakers for m in messages])
    for message, text in zip(messages, texts, strict=True):
        item = Tier2Input(
            text=text,
            source=message.source,
            customer=message.customer,
            title=message.title,
            taxonomy=listings[message.org_id],
            competitors=prompts[message.org_id],
        )
        scope = (scopes or {}).get(message.id)
        if scope is not None:
            engine.privacy.register(text, scope)
        privacy = engine.privacy.scope(text).fingerprint()
        keys[message.id] = key = _item_hash(item, fingerprints[message.org_id], privacy)
        items[key] = item
    answers = await engine.extract(items)
    mention_rows: list[dict[str, Any]] = []
    extraction_rows: list[dict[str, Any]] = []
    competitor_rows: list[dict[str, Any]] = []
    for message in messages:
        outcome = answers.get(keys[message.id])
        if outcome is None:
            continue  # not attempted before the deadline
        base = {
            "message_id": message.id,
            "org_id": message.org_id,
            "content_hash": message.content_hash,
            "taxonomy_fingerprint": fingerprints[message.org_id],
            "attempts": message.attempts + 1,
            "provider": engine.provider.name,
            "model": engine.model(TIER2),
            "prompt_version": PROMPT_VERSIONS[TIER2],
            "extracted_at": utc_now(),
        }
        if isinstance(outcome, LlmFailure):
            extraction_rows.append(
                base
                | {
                    "status": "failed",
                    "mention_count": 0,
                    "rejected_quotes": 0,
                    "error": f"{outcome.status}: {outcome.error}",
                }
            )
            continue
        found = list(outcome.competitors) if isinstance(outcome, MentionExtraction) else []
        drafts = list(outcome.mentions) if isinstance(outcome, MentionExtraction) else []
        redaction = engine.privacy.tier2_redaction(items[keys[message.id]])
        rows, rejected = build_mention_rows(message, drafts, taxonomies[message.org_id], engine, redaction)
        named, rejected_named, unknown = build_competitor_rows(
            message, found, lists[message.org_id], rows, engine, redaction
        )
        mention_rows += rows
        competitor_rows += named
        extraction_rows.append(
            base
            | {
                "status": "extracted",
                "mention_count": len(rows),
                # Quotes of asks and of competitor mentions alike: both must stand in the message.
                "rejected_quotes": rejected + rejected_named,
                "error": None,
                "unknown_competitors": unknown,
            }
        )
    return mention_rows, extraction_rows, competitor_rows


def write_extractions(
    warehouse: WarehouseResource,
    mention_rows: list[dict[str, Any]],
    extraction_rows: list[dict[str, Any]],
    competitor_rows: list[dict[str, Any]] | None = None,
) -> None:
    """Replace the mentions, competitor mentions and extraction records of these messages in one
    transaction."""
    if not extraction_rows:
        return
    ids = [row["message_id"] for row in extraction_rows]
    columns = set(MessageExtraction.__table__.columns.keys())
    with warehouse.write() as conn:
        delete_for_messages(conn, CompetitorMention, ids)
        delete_for_messages(conn, FeatureMention, ids)
        delete_for_messages(conn, MessageExtraction, ids)
        insert_rows(conn, FeatureMention, mention_rows)
        insert_rows(conn, CompetitorMention, competitor_rows or [])
        # Only the table's columns: a row also carries counts for the asset's metadata.
        stored = [{key: value for key, value in row.items() if key in columns} for row in extraction_rows]
        insert_rows(conn, MessageExtraction, stored)


def prune_irrelevant(conn: Connection, window: TimeWindow) -> int:
    """Drop mentions and extraction records of window messages that are no longer relevant."""
    irrelevant = select(Message.id).where(
        Message.sent_at >= window.start,
        Message.sent_at < window.end,
        ~Message.id.in_(
            select(Message.id)
            .join(MessageLabel, MessageLabel.message_id == Message.id)
            .where(relevant_in_window(window))
        ),
    )
    removed = conn.execute(delete(FeatureMention).where(FeatureMention.message_id.in_(irrelevant))).rowcount
    conn.execute(delete(CompetitorMention).where(CompetitorMention.message_id.in_(irrelevant)))
    conn.execute(delete(MessageExtraction).where(MessageExtraction.message_id.in_(irrelevant)))
    return int(removed or 0)


def window_quote_problems(conn: Connection, window: TimeWindow) -> list[tuple[int, str]]:
    """Mentions of the window whose quote is not at its recorded place in the message."""
    rows = conn.execute(
        select(FeatureMention.id, FeatureMention.evidence_quote, FeatureMention.evidence_start, Message.text)
        .join(Message, Message.id == FeatureMention.message_id)
        .where(FeatureMention.sent_at >= window.start, FeatureMention.sent_at < window.end)
    )
    return [
        (row.id, row.evidence_quote)
        for row in rows
        if row.text[row.evidence_start : row.evidence_start + len(row.evidence_quote)] != row.evidence_quote
    ]


def window_competitor_quote_problems(conn: Connection, window: TimeWindow) -> list[tuple[int, str]]:
    """Competitor mentions of the window whose quote is not at its recorded place in the message."""
    rows = conn.execute(
        select(CompetitorMention.id, CompetitorMention.evidence_quote, CompetitorMention.evidence_start, Message.text)
        .join(Message, Message.id == CompetitorMention.message_id)
        .where(CompetitorMention.sent_at >= window.start, CompetitorMention.sent_at < window.end)
    )
    return [
        (row.id, row.evidence_quote)
        for row in rows
        if row.text[row.evidence_start : row.evidence_start + len(row.evidence_quote)] != row.evidence_quote
    ]


def competitor_counts(
    rows: list[dict[str, Any]], competitors: Mapping[int, CompetitorList]
) -> dict[str, dict[str, int]]:
    """Competitor mentions per competitor ("name (#id)") and context, for the asset's metadata."""
    names = {cid: name for found in competitors.values() for cid, name, _ in found.entries}
    counts: dict[str, Counter[str]] = {}
    for row in rows:
        label = f"{names.get(row['competitor_id'], '?')} (#{row['competitor_id']})"
        counts.setdefault(label, Counter())[row["context"]] += 1
    return {label: dict(sorted(found.items())) for label, found in sorted(counts.items())}


def _competitor_preview(
    warehouse: WarehouseResource, rows: list[dict[str, Any]], competitors: Mapping[int, CompetitorList]
) -> list[tuple[Any, ...]]:
    """Preview rows of competitor mentions, the quote redacted with the people of the messages shown."""
    if not rows:
        return []
    names = {cid: name for found in competitors.values() for cid, name, _ in found.entries}
    with warehouse.read() as conn:
        scopes = message_scopes(conn, [row["message_id"] for row in rows])
    people = people_of(scopes.values())
    shown = []
    for row in rows:
        redaction = preview_redaction(scopes.get(row["message_id"]), names=people, texts=[row["evidence_quote"]])
        shown.append(
            (
                row["message_id"],
                names.get(row["competitor_id"], "?"),
                row["context"],
                row["mention_ordinal"],
                redacted_excerpt(row["evidence_quote"], redaction),
            )
        )
    return shown


def _preview(warehouse: WarehouseResource, rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """Preview rows of mentions: the model-written title and the quote redacted with the people of
    the messages shown (an organisation that sends text as it is gets titles that may name them)."""
    if not rows:
        return []
    with warehouse.read() as conn:
        scopes = message_scopes(conn, [row["message_id"] for row in rows])
    people = people_of(scopes.values())
    shown = []
    for row in rows:
        redaction = preview_redaction(
            scopes.get(row["message_id"]),
            names=people,
            texts=[row["title"], row["customer"], row["evidence_quote"]],
        )
        shown.append(
            (
                row["message_id"],
                redacted_excerpt(row["title"], redaction),
                row["kind"],
                row["urgency"],
                row["sub_theme"],
                redacted_customer(row["customer"], redaction),
                redacted_excerpt(row["evidence_quote"], redaction),
            )
        )
    return shown


def count_due(conn: Connection, window: TimeWindow, stale_unless: TaskVersion | None = None) -> tuple[int, int]:
    """(relevant messages in the window, of which still due for tier-2)."""
    total = conn.execute(
        select(Message.id).join(MessageLabel, MessageLabel.message_id == Message.id).where(relevant_in_window(window))
    ).all()
    return len(total), len(relevant_messages(conn, window, stale_unless))


# What one slice of tier-2 writes: mention rows, extraction rows, competitor mention rows.
_SliceRows = tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]


@dg.asset(
    name="feature_mentions",
    automation_condition=FOLLOW_UPSTREAM,
    description="Tier-2: the structured product asks in every relevant message (tier-1 relevance >= 6): "
    "title, description, problem, desired outcome, kind, urgency, sentiment, theme and sub-theme from the "
    "org's taxonomy, customer, and a verbatim evidence quote (quotes not found in the message are rejected).",
    group_name=AI_GROUP,
    partitions_def=DAILY_PARTITIONS,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=[message_labels],
    kinds={"python", "sql", "llm"},
    owners=OWNERS,
    tags={"layer": "ai", "tier": "2"},
    pool=LLM_POOL,
    check_specs=[
        dg.AssetCheckSpec(
            CHECK_QUOTES_ARE_SUBSTRINGS,
            asset="feature_mentions",
            description="Every mention's (and competitor mention's) evidence quote stands verbatim in its message "
            "at the recorded offset.",
        ),
        dg.AssetCheckSpec(
            CHECK_EVERY_RELEVANT_MESSAGE_EXTRACTED,
            asset="feature_mentions",
            description="Every relevant message of the partition went through tier-2 with its current text "
            "and taxonomy; fails (warning) while a bounded run left work for the next.",
        ),
    ],
)
def feature_mentions(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, llm: LlmResource
) -> dg.MaterializeResult:
    """Extract the asks of the window's relevant messages, slice by slice."""
    window = partition_window(context)
    label = partition_label(context)
    with warehouse.write() as conn:
        pruned = prune_irrelevant(conn, window)
    stale_unless = refresh_version(context, llm, TIER2)
    with warehouse.read() as conn:
        due = relevant_messages(conn, window, stale_unless)
        taxonomies = _taxonomies(conn, {m.org_id for m in due}) if due else {}
        competitors = load_competitors(conn, taxonomies)
    due, budget = within_budget(context, warehouse, due, lambda message: message.org_id)
    cap = llm.item_cap
    if cap:
        due = due[:cap]
    context.log.info(f"{len(due)} relevant message(s) of {label} need tier-2")
    mentions_written: list[dict[str, Any]] = []
    extractions_written: list[dict[str, Any]] = []
    competitors_written: list[dict[str, Any]] = []

    def commit(rows: _SliceRows) -> None:
        mention_rows, extraction_rows, competitor_rows = rows
        write_extractions(warehouse, mention_rows, extraction_rows, competitor_rows)
        mentions_written.extend(mention_rows)
        extractions_written.extend(extraction_rows)
        competitors_written.extend(competitor_rows)

    async def work(engine: LlmEngine) -> None:
        async def extract(piece: list[RelevantMessage]) -> _SliceRows:
            with warehouse.read() as conn:
                scopes = message_scopes(conn, [message.id for message in piece])
            return await extract_slice(engine, piece, taxonomies, scopes, competitors)

        # The next slice asks while this one's rows are written (see `run_slices`).
        await run_slices(
            engine,
            engine.slices(TIER2, due, size=lambda message: len(message.text)),
            extract,
            commit,
            on_stop=lambda reason: context.log.warning(f"{reason}: the rest stays pending for the next run"),
        )

    shares = org_shares(due, lambda message: message.org_id, lambda message: len(message.text))
    engine, _ = run_with_engine(context, llm, warehouse, work, progress_every=50, shares=shares)
    record_usage(context, warehouse, engine, partition=label, shares=shares)
    with warehouse.read() as conn:
        relevant_total, remaining = count_due(conn, window, stale_unless)
        problems = window_quote_problems(conn, window)
        competitor_problems = window_competitor_quote_problems(conn, window)
    rejected = sum(row["rejected_quotes"] for row in extractions_written)
    failed = [(row["message_id"], safe_error(row["error"])) for row in extractions_written if row["status"] == "failed"]
    kinds = Counter(row["kind"] for row in mentions_written)
    themes = Counter(row["sub_theme"] or row["theme"] or "(none)" for row in mentions_written)
    metadata: dict[str, Any] = {
        "partition": label,
        "relevant_messages": relevant_total,
        "extracted_this_run": len(extractions_written),
        "remaining": remaining,
        "complete": remaining == 0,
        "refreshed_stale": stale_unless is not None,
        "mentions_this_run": len(mentions_written),
        "rejected_quotes": rejected,
        "pruned_mentions": pruned,
        "competitor_mentions_this_run": len(competitors_written),
        "competitor_mention_counts": dg.MetadataValue.json(competitor_counts(competitors_written, competitors)),
        "answers_naming_unlisted_competitors": sum(row.get("unknown_competitors", 0) for row in extractions_written),
        "competitor_preview": dg.MetadataValue.md(
            markdown_table(
                ["message id", "competitor", "context", "with ask #", "evidence (redacted)"],
                _competitor_preview(warehouse, competitors_written[:PREVIEW_ROWS], competitors),
            )
        ),
        **budget.metadata(),
        "kind_counts": dg.MetadataValue.json(dict(sorted(kinds.items()))),
        "theme_counts": dg.MetadataValue.json(dict(themes.most_common(20))),
        "failures": dg.MetadataValue.md(markdown_table(["message id", "error"], failed, limit=20)),
        "preview": dg.MetadataValue.md(
            markdown_table(
                ["message id", "title (redacted)", "kind", "urgency", "sub-theme", "customer", "evidence (redacted)"],
                _preview(warehouse, mentions_written[:PREVIEW_ROWS]),
            )
        ),
        **llm_metadata(engine),
    }
    return dg.MaterializeResult(
        metadata=metadata,
        check_results=[
            dg.AssetCheckResult(
                check_name=CHECK_QUOTES_ARE_SUBSTRINGS,
                passed=not problems and not competitor_problems,
                metadata={
                    "mentions_with_bad_quotes": len(problems),
                    "competitor_mentions_with_bad_quotes": len(competitor_problems),
                    # Where, not what: the quote is the message's text.
                    "examples": dg.MetadataValue.md(
                        markdown_table(["mention id", "quote chars"], [(i, len(q)) for i, q in problems], limit=10)
                    ),
                },
            ),
            dg.AssetCheckResult(
                check_name=CHECK_EVERY_RELEVANT_MESSAGE_EXTRACTED,
                passed=remaining == 0,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={"relevant_messages": relevant_total, "still_due": remaining},
            ),
        ],
    )
