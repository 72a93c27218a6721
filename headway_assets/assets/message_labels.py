"""Tier-1 (`message_labels`): is each message of the day product feedback, what kind, how relevant.

Bounded and resumable: a run handles at most `max_items_per_run` messages and stops starting
calls at its deadline; every slice of messages is committed as soon as it is labelled, what
is left is reported, and the incomplete-partitions sensor re-requests the day. Labels are
current when their content hash equals the message's; re-running an unchanged day costs
nothing (cache hits only).
"""

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import dagster as dg
from sqlalchemy import Connection, and_, case, func, or_, select

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
from headway_assets.assets.local_model import (
    EXCERPT_MIN_CHARS,
    FIRST_PASS_PROVIDER,
    LOCAL_MODEL,
    digest_chars,
    feedback_digests,
    first_pass,
    first_pass_thresholds,
    internal_speakers,
    local_model,
    saves_tokens,
)
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
from headway_assets.assets.raw_messages import OWNERS, RAW_MESSAGE_ASSETS
from headway_assets.core.limits import OVERSIZED_CHARS
from headway_assets.core.message import TimeWindow, content_hash
from headway_assets.core.warehouse.bulk import delete_for_messages, insert_rows
from headway_assets.core.warehouse.label_corrections import human_label_rows
from headway_assets.core.warehouse.schema import LabelStatus, Message, MessageLabel, Organization, utc_now
from headway_assets.llm.chunking import CHUNK_SIZE, MAX_CHUNKS, Chunk, chunk_text
from headway_assets.llm.engine import LlmEngine, LlmFailure
from headway_assets.llm.redaction import PiiScope
from headway_assets.llm.schemas import RELEVANCE_THRESHOLD, Tier1Label
from headway_assets.llm.tasks import PROMPT_VERSIONS, TIER1
from headway_assets.resources.llm import LlmResource, TaskVersion
from headway_assets.resources.warehouse import WarehouseResource

CHECK_EVERY_MESSAGE_LABELLED = "every_message_has_outcome"
# A message whose labelling failed this many runs in a row keeps its failed outcome
# (and its reason) instead of being retried forever.
MAX_ATTEMPTS = 3


@dataclass(frozen=True)
class PendingMessage:
    """A message of the window without a current label."""

    id: int
    org_id: int
    text: str
    content_hash: str
    attempts: int  # earlier runs that tried this content and failed
    # The organisation's own speakers of a call with external participants (left out of its digest).
    internal_speakers: frozenset[str] = frozenset()


def pending_filter(stale_unless: TaskVersion | None = None) -> Any:
    """Messages that need tier-1: never labelled, changed since, or failed last time; with
    `stale_unless`, also those labelled with another model or prompt version."""
    conditions = [
        MessageLabel.message_id.is_(None),
        MessageLabel.content_hash != Message.content_hash,
        and_(MessageLabel.status == LabelStatus.FAILED.value, MessageLabel.attempts < MAX_ATTEMPTS),
    ]
    if stale_unless is not None:
        conditions.append(
            and_(
                MessageLabel.labelled_by.is_(None),  # a person's label is never stale
                or_(
                    MessageLabel.model != _model_of_org(stale_unless),
                    MessageLabel.prompt_version != stale_unless.prompt_version,
                ),
            )
        )
    return or_(*conditions)


def _model_of_org(version: TaskVersion) -> Any:
    """The model each message's label must have been made with: its organisation's own, else the configured one."""
    if not version.org_models:
        return version.model
    return case(dict(version.org_models), value=Message.org_id, else_=version.model)


def relevant_label() -> Any:
    """The message's tier-1 label is current and scores it relevant: what tier-2 and insights read."""
    return and_(
        MessageLabel.status == LabelStatus.LABELLED.value,
        MessageLabel.content_hash == Message.content_hash,
        MessageLabel.relevance >= RELEVANCE_THRESHOLD,
    )


def _label_join() -> Any:
    return and_(MessageLabel.message_id == Message.id)


def pending_messages(
    conn: Connection, window: TimeWindow, limit: int | None, stale_unless: TaskVersion | None = None
) -> list[PendingMessage]:
    """Messages of the window needing tier-1, oldest first."""
    query = (
        select(
            Message.id,
            Message.org_id,
            Message.text,
            Message.content_hash,
            Message.source_metadata,
            MessageLabel.content_hash.label("label_hash"),
            MessageLabel.status,
            MessageLabel.attempts,
        )
        .outerjoin(MessageLabel, _label_join())
        .where(Message.sent_at >= window.start, Message.sent_at < window.end, pending_filter(stale_unless))
        .order_by(Message.sent_at, Message.id)
    )
    if limit:
        query = query.limit(limit)
    return [
        PendingMessage(
            r.id,
            r.org_id,
            r.text,
            r.content_hash,
            # Failed attempts count only while the content is the same.
            r.attempts if r.status == LabelStatus.FAILED.value and r.label_hash == r.content_hash else 0,
            internal_speakers(r.source_metadata),
        )
        for r in conn.execute(query)
    ]


def _org_of(message: PendingMessage) -> int:
    return message.org_id


def sent_chars(message: PendingMessage) -> int:
    """About how many characters of `message` tier-1 sends: its chunks, or its digest (none when oversized)."""
    length = len(message.text)
    if length > OVERSIZED_CHARS:
        return 0
    digest = digest_chars()
    return min(length, digest if digest and length >= EXCERPT_MIN_CHARS else MAX_CHUNKS * CHUNK_SIZE)


def sent_chunks(message: PendingMessage) -> int:
    """How many tier-1 items `message` becomes: its chunks (none when oversized or empty)."""
    if len(message.text) > OVERSIZED_CHARS or not message.text.strip():
        return 0
    return len(chunk_text(message.text))


def count_pending(conn: Connection, window: TimeWindow, stale_unless: TaskVersion | None = None) -> tuple[int, int]:
    """(messages in the window, messages of it still needing tier-1)."""
    total = conn.execute(
        select(func.count()).where(Message.sent_at >= window.start, Message.sent_at < window.end)
    ).scalar_one()
    pending = conn.execute(
        select(func.count())
        .select_from(Message)
        .outerjoin(MessageLabel, _label_join())
        .where(Message.sent_at >= window.start, Message.sent_at < window.end, pending_filter(stale_unless))
    ).scalar_one()
    return int(total), int(pending)


def _label_row(message: PendingMessage, engine: LlmEngine, **values: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "message_id": message.id,
        "org_id": message.org_id,
        "content_hash": message.content_hash,
        "is_feedback": None,
        "category": None,
        "relevance": None,
        "confidence": None,
        "chunk_count": 1,
        "best_chunk": None,
        "chunks": {},
        "provider": engine.provider.name,
        "model": engine.model(TIER1),
        "prompt_version": PROMPT_VERSIONS[TIER1],
        "error": None,
        "attempts": message.attempts + 1,
        "labelled_at": utc_now(),
        "labelled_by": None,
    }
    row.update(values)
    return row


def _first_pass_rows(
    engine: LlmEngine, messages: list[PendingMessage], thresholds: Mapping[int, float]
) -> list[dict[str, Any]]:
    """Label rows of the messages the local model is confident are not feedback (item 3 of issue 15):
    recorded with provider `local-first-pass` and the local model's name, never sent to the LLM."""
    candidates = [m for m in messages if m.text.strip() and len(m.text) <= OVERSIZED_CHARS]
    decided = first_pass([m.text for m in candidates], [thresholds.get(m.org_id, 0.0) for m in candidates])
    model = local_model() if any(decided) else None
    rows = []
    for message, decision in zip(candidates, decided, strict=True):
        if decision is None or model is None:
            continue
        p_feedback = 1.0 - decision.p_not_feedback
        rows.append(
            _label_row(
                message,
                engine,
                status=LabelStatus.LABELLED.value,
                is_feedback=False,
                category="other",
                # The local model's own scale for `other`: below tier-2's threshold whatever happens.
                relevance=min(RELEVANCE_THRESHOLD - 1, round(4 * p_feedback / max(model.threshold, 1e-6))),
                confidence=round(decision.p_not_feedback, 4),
                provider=FIRST_PASS_PROVIDER,
                model=LOCAL_MODEL,
                prompt_version=model.version[:32],
            )
        )
    return rows


async def label_slice(
    engine: LlmEngine,
    messages: list[PendingMessage],
    scopes: Mapping[int, PiiScope] | None = None,
    first_pass_thresholds: Mapping[int, float] | None = None,
) -> list[dict[str, Any]]:
    """Label rows for the messages of one slice; messages the deadline left untouched get none.
    `scopes` say how to redact each message's text (default: the engine's default redaction);
    `first_pass_thresholds` (per organisation) let the local model label confident noise itself."""
    rows: list[dict[str, Any]] = _first_pass_rows(engine, messages, first_pass_thresholds or {})
    local = {row["message_id"] for row in rows}
    messages = [message for message in messages if message.id not in local]
    chunked: dict[int, list[tuple[Any, str]]] = {}
    texts: dict[str, str] = {}
    # A long call is one item: its customers' lines the local model finds most likely feedback.
    digests: list[str | None] = [None] * len(messages)
    if saves_tokens(engine.provider.name):
        digests = feedback_digests([m.text for m in messages], [m.internal_speakers for m in messages])
    for message, digest in zip(messages, digests, strict=True):
        if len(message.text) > OVERSIZED_CHARS:
            rows.append(
                _label_row(
                    message,
                    engine,
                    status=LabelStatus.SKIPPED_OVERSIZED.value,
                    error=f"{len(message.text):,} characters is over the {OVERSIZED_CHARS:,} limit; not sent",
                )
            )
            continue
        if not message.text.strip():
            rows.append(_label_row(message, engine, status=LabelStatus.SKIPPED_EMPTY.value, error="no text"))
            continue
        pieces: list[tuple[Any, str]] = []
        # A digest stands for the whole message (its text is not a slice of it: one piece, no chunk map).
        chunks = [Chunk(0, 0, len(message.text), digest)] if digest is not None else chunk_text(message.text)
        for chunk in chunks:
            chunk_hash = content_hash(chunk.text)
            texts[chunk_hash] = chunk.text
            pieces.append((chunk, chunk_hash))
            if scopes and message.id in scopes:
                engine.privacy.register(chunk.text, scopes[message.id])
        chunked[message.id] = pieces
    answers = await engine.label(texts)
    for message in messages:
        if message.id not in chunked:
            continue
        pieces = chunked[message.id]
        outcomes = [answers.get(chunk_hash) for _, chunk_hash in pieces]
        if any(outcome is None for outcome in outcomes):
            continue  # not attempted before the deadline: stays pending
        failures = [o for o in outcomes if isinstance(o, LlmFailure)]
        if failures:
            rows.append(
                _label_row(
                    message,
                    engine,
                    status=LabelStatus.FAILED.value,
                    chunk_count=len(pieces),
                    error=f"{failures[0].status}: {failures[0].error}",
                )
            )
            continue
        labels = [o for o in outcomes if isinstance(o, Tier1Label)]
        # The message takes its best chunk: highest relevance, feedback over not, earliest.
        best_index = max(range(len(labels)), key=lambda i: (labels[i].relevance, labels[i].is_feedback, -i))
        best = labels[best_index]
        rows.append(
            _label_row(
                message,
                engine,
                status=LabelStatus.LABELLED.value,
                is_feedback=best.is_feedback,
                category=best.category,
                relevance=best.relevance,
                confidence=best.confidence,
                chunk_count=len(pieces),
                best_chunk=best_index,
                chunks={
                    "chunks": [
                        {
                            "index": chunk.index,
                            "start": chunk.start,
                            "end": chunk.end,
                            "category": label.category,
                            "relevance": label.relevance,
                        }
                        for (chunk, _), label in zip(pieces, labels, strict=True)
                    ]
                }
                if len(pieces) > 1
                else {},
            )
        )
    return rows


def write_labels(warehouse: WarehouseResource, rows: list[dict[str, Any]]) -> None:
    """Replace the labels of these messages in one transaction."""
    if not rows:
        return
    with warehouse.write() as conn:
        delete_for_messages(conn, MessageLabel, [row["message_id"] for row in rows])
        insert_rows(conn, MessageLabel, rows)


PREVIEW_COLUMNS = [
    "message id",
    "source",
    "customer",
    "category",
    "relevance",
    "confidence",
    "model",
    "chars",
    "text (redacted)",
]


def _preview(warehouse: WarehouseResource, ids: list[int]) -> list[tuple[Any, ...]]:
    """The most relevant feedback of the run: ids, labels and the model, the text redacted."""
    if not ids:
        return []
    with warehouse.read() as conn:
        rows = conn.execute(
            select(
                Message.id,
                Message.source,
                Message.customer,
                Message.text,
                MessageLabel.category,
                MessageLabel.relevance,
                MessageLabel.confidence,
                MessageLabel.model,
            )
            .join(MessageLabel, _label_join())
            .where(Message.id.in_(ids[:500]), MessageLabel.is_feedback.is_(True))
            .order_by(MessageLabel.relevance.desc(), Message.id)
            .limit(PREVIEW_ROWS)
        ).all()
        scopes = message_scopes(conn, [row.id for row in rows])
    people = people_of(scopes.values())
    shown = []
    for row in rows:
        redaction = preview_redaction(scopes.get(row.id), names=people, texts=[row.customer, row.text])
        shown.append(
            (
                row.id,
                row.source,
                redacted_customer(row.customer, redaction),
                row.category,
                row.relevance,
                row.confidence,
                row.model,
                len(row.text),
                redacted_excerpt(row.text, redaction),
            )
        )
    return shown


@dg.asset(
    name="message_labels",
    automation_condition=FOLLOW_UPSTREAM,
    description="Tier-1: for every message of the day, whether it is product feedback, its category "
    "(feature_request, bug_report, pain_point, praise, question, other), a 0-10 relevance (>= 6 goes to "
    "tier-2), confidence, provider, model and prompt version. A label a person set (PATCH "
    "/v1/messages/{id}/label) is kept and never sent to a model. Long messages are chunked; messages over "
    "50,000 characters are marked skipped_oversized. Bounded: stops at an item cap or deadline and resumes. "
    "On the shipped local model (HEADWAY_TIER1_MODEL=headway-local-2), an organisation with a model of its own "
    "(headway model train --org SLUG) is labelled with it.",
    group_name=AI_GROUP,
    partitions_def=DAILY_PARTITIONS,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=RAW_MESSAGE_ASSETS,
    kinds={"python", "sql", "llm"},
    owners=OWNERS,
    tags={"layer": "ai", "tier": "1"},
    pool=LLM_POOL,
    check_specs=[
        dg.AssetCheckSpec(
            CHECK_EVERY_MESSAGE_LABELLED,
            asset="message_labels",
            description="Every message of the partition has a current tier-1 outcome (labelled, "
            "skipped_oversized, skipped_empty); fails while a bounded run left work for the next.",
        )
    ],
)
def message_labels(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, llm: LlmResource
) -> dg.MaterializeResult:
    """Label the window's pending messages, slice by slice, within the run's cap and deadline."""
    window = partition_window(context)
    label = partition_label(context)
    cap = llm.item_cap
    with warehouse.read() as conn:
        org_slugs: dict[int, str] = dict(conn.execute(select(Organization.id, Organization.slug)).tuples().all())
    # Organisations with a tier-1 model of their own (offline/org_models.py); the rest use the configured one.
    # An organisation whose own model cannot be read is held (its messages stay pending, the check
    # says so) rather than labelled with another model or stopping every other organisation.
    unreadable_models: dict[int, str] = {}
    org_models = llm.tier1_models_by_org(org_slugs, unreadable_models)
    for reason in unreadable_models.values():
        context.log.error(f"{reason}; its messages stay pending until the model is retrained or removed")
    stale_unless = refresh_version(context, llm, TIER1)
    if stale_unless is not None and org_models:
        stale_unless = replace(stale_unless, org_models=tuple(sorted(org_models.items())))
    with warehouse.read() as conn:
        todo = pending_messages(conn, window, cap or None, stale_unless)
        human = human_label_rows(conn, {message.id: message.content_hash for message in todo})
    context.log.info(f"{len(todo)} message(s) of {label} need tier-1" + (f" (cap {cap})" if cap else ""))

    # A person labelled these: their label is written again for the message's current text, and no
    # model is asked (a changed message, a provider change, a back-fill all keep it).
    written: list[dict[str, Any]] = list(human.values())
    write_labels(warehouse, written)
    todo = [message for message in todo if message.id not in human]
    held_for_model = Counter(message.org_id for message in todo if message.org_id in unreadable_models)
    todo = [message for message in todo if message.org_id not in unreadable_models]
    todo, budget = within_budget(context, warehouse, todo, lambda message: message.org_id)
    # The local first pass works for hosted providers only (the kernel's rule: 0 with the offline one).
    thresholds: dict[int, float] = {}
    if todo:
        with warehouse.read() as conn:
            thresholds = first_pass_thresholds(conn, {message.org_id for message in todo}, llm.provider_name)

    def commit(rows: list[dict[str, Any]]) -> None:
        write_labels(warehouse, rows)
        written.extend(rows)

    async def work(engine: LlmEngine) -> None:
        async def label(piece: list[PendingMessage]) -> list[dict[str, Any]]:
            with warehouse.read() as conn:
                scopes = message_scopes(conn, [message.id for message in piece])
            if not org_models:
                return await label_slice(engine, piece, scopes, thresholds)
            # Each organisation's messages by its own model (the model is part of the cache key).
            by_model: dict[str, list[PendingMessage]] = {}
            for message in piece:
                by_model.setdefault(org_models.get(message.org_id, engine.model(TIER1)), []).append(message)
            rows: list[dict[str, Any]] = []
            for model, messages in by_model.items():
                rows += await label_slice(engine.for_model(TIER1, model), messages, scopes, thresholds)
            return rows

        # The next slice asks while this one's labels are written (see `run_slices`).
        await run_slices(
            engine,
            engine.slices(TIER1, todo, size=sent_chars, weight=sent_chunks),
            label,
            commit,
            on_stop=lambda reason: context.log.warning(f"{reason}: stopping; the rest stays pending for the next run"),
        )

    shares = org_shares(todo, _org_of, sent_chars)
    engine, _ = run_with_engine(context, llm, warehouse, work, shares=shares)
    record_usage(context, warehouse, engine, partition=label, shares=shares)

    with warehouse.read() as conn:
        total, remaining = count_pending(conn, window, stale_unless)
    statuses = Counter(row["status"] for row in written)
    categories = Counter(row["category"] for row in written if row["category"])
    relevant = sum(1 for row in written if (row["relevance"] or 0) >= RELEVANCE_THRESHOLD)
    failures = [
        (row["message_id"], safe_error(row["error"])) for row in written if row["status"] == LabelStatus.FAILED.value
    ]
    if remaining:
        context.log.warning(f"{remaining} message(s) of {label} still need tier-1; the sensor will re-request")
    metadata: dict[str, Any] = {
        "partition": label,
        "messages_in_window": total,
        "labelled_this_run": len(written),
        "remaining": remaining,
        "complete": remaining == 0,
        "refreshed_stale": stale_unless is not None,
        "relevant_this_run": relevant,
        "kept_human_labels": len(human),
        "labelled_by_local_first_pass": sum(1 for row in written if row["provider"] == FIRST_PASS_PROVIDER),
        **budget.metadata(),
        # Messages held because their organisation's own tier-1 model cannot be read, and why.
        "held_for_unreadable_org_model": dg.MetadataValue.json(
            {
                org_slugs[org_id]: {"messages": held_for_model[org_id], "reason": unreadable_models[org_id]}
                for org_id in sorted(unreadable_models)
            }
        ),
        "status_counts": dg.MetadataValue.json(dict(sorted(statuses.items()))),
        "category_counts": dg.MetadataValue.json(dict(sorted(categories.items()))),
        "failures": dg.MetadataValue.md(markdown_table(["message id", "error"], failures, limit=20)),
        "labels_by_model": dg.MetadataValue.json(dict(sorted(Counter(row["model"] for row in written).items()))),
        # Organisations labelled with a model of their own this run, and which (the others: `llm_tier1`'s).
        "tier1_org_models": dg.MetadataValue.json(
            {org_slugs[org_id]: model for org_id, model in sorted(org_models.items())}
        ),
        "preview": dg.MetadataValue.md(
            markdown_table(
                PREVIEW_COLUMNS,
                _preview(warehouse, [row["message_id"] for row in written]),
            )
        ),
        **llm_metadata(engine),
    }
    return dg.MaterializeResult(
        metadata=metadata,
        check_results=[
            dg.AssetCheckResult(
                check_name=CHECK_EVERY_MESSAGE_LABELLED,
                passed=remaining == 0,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={"messages": total, "without_current_outcome": remaining},
            )
        ],
    )
