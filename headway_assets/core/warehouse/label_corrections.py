"""People's tier-1 labels: a person says what a message is, and the pipeline keeps it.

`set_label` records a person's label for a message (PATCH /v1/messages/{id}/label): the
correction itself (`message_label_corrections`, which outlives every rewrite of the message's
label), the label row that readers see at once (`message_labels`, marked `labelled_by`), and one
audit row. The pipeline honours it:

- tier-1 never sends a message with a correction to a model again: when the message changes, the
  provider changes or a day is back-filled, it writes the person's label again (`human_label_rows`);
- tier-2 follows the label: a message marked noise loses its mentions at once (and the catalogue
  requests they were in are recounted, an emptied one removed unless people decided on it); a
  message marked feedback becomes due for extraction, which the incomplete-partitions sensor
  requests for its day.

`clear_label` withdraws a person's label: tier-1 labels the message again on its day's next run
(from the LLM cache when the model's answer is still there, so at no cost).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Connection, delete, insert, select

from headway_assets.core.kinds import NOT_FEEDBACK, RELEVANCE_THRESHOLD, TIER1_CATEGORIES
from headway_assets.core.warehouse.corrections import CorrectionError, UndoHandler, record_audit
from headway_assets.core.warehouse.request_stats import refresh_request_stats
from headway_assets.core.warehouse.schema import (
    CompetitorMention,
    FeatureMention,
    FeatureRequestMention,
    LabelStatus,
    Message,
    MessageExtraction,
    MessageLabel,
    MessageLabelCorrection,
    utc_now,
)

# What a label row written from a person's correction says of its origin.
HUMAN_PROVIDER = "person"
HUMAN_MODEL = "person"
HUMAN_PROMPT_VERSION = "human"
# Relevance a person's label gets when they do not give one: feedback goes on to tier-2, noise not.
FEEDBACK_RELEVANCE = 8
NOISE_RELEVANCE = 0
MAX_RELEVANCE = 10

# Audit actions (in `catalogue_audit`, with the catalogue's other corrections).
LABEL = "label_message"
UNLABEL = "unlabel_message"


@dataclass(frozen=True)
class LabelChange:
    """What a label correction did: its audit row, and the mentions it took out of the catalogue."""

    audit_id: int
    message_id: int
    mentions_removed: int
    request_ids: tuple[int, ...]


def human_label_row(correction: Any, content_hash: str) -> dict[str, Any]:
    """The `message_labels` row of a person's correction (a `message_label_corrections` row) for the
    message's current text."""
    return {
        "message_id": correction.message_id,
        "org_id": correction.org_id,
        "content_hash": content_hash,
        "status": LabelStatus.LABELLED.value,
        "is_feedback": correction.is_feedback,
        "category": correction.category,
        "relevance": correction.relevance,
        "confidence": 1.0,
        "chunk_count": 1,
        "best_chunk": None,
        "chunks": {},
        "provider": HUMAN_PROVIDER,
        "model": HUMAN_MODEL,
        "prompt_version": HUMAN_PROMPT_VERSION,
        "error": None,
        "attempts": 0,
        "labelled_at": correction.labelled_at,
        "labelled_by": correction.labelled_by,
    }


def human_label_rows(conn: Connection, content_hashes: dict[int, str]) -> dict[int, dict[str, Any]]:
    """For the messages among `content_hashes` (message id -> current content hash) that a person
    labelled: the label row to write in place of a model's."""
    rows: dict[int, dict[str, Any]] = {}
    ids = list(content_hashes)
    for start in range(0, len(ids), 500):
        batch = ids[start : start + 500]
        for correction in conn.execute(
            select(MessageLabelCorrection.__table__).where(MessageLabelCorrection.message_id.in_(batch))
        ):
            rows[correction.message_id] = human_label_row(correction, content_hashes[correction.message_id])
    return rows


def _validated(category: str, is_feedback: bool | None, relevance: int | None) -> tuple[str, bool, int]:
    if category not in TIER1_CATEGORIES:
        raise CorrectionError(
            422, "invalid_parameter", f"`category` must be one of {', '.join(TIER1_CATEGORIES)}", "category"
        )
    feedback = category != NOT_FEEDBACK
    # Well-formed values that contradict each other: 400, as every other refused correction.
    if is_feedback is not None and is_feedback != feedback:
        raise CorrectionError(
            400,
            "contradictory_label",
            f"`is_feedback` {str(is_feedback).lower()} contradicts `category` {category}: `other` is the only "
            "category that is not feedback; leave `is_feedback` out to have it follow the category",
            "is_feedback",
        )
    if relevance is None:
        relevance = FEEDBACK_RELEVANCE if feedback else NOISE_RELEVANCE
    if not 0 <= relevance <= MAX_RELEVANCE:
        raise CorrectionError(422, "invalid_parameter", f"`relevance` must be 0-{MAX_RELEVANCE}", "relevance")
    if not feedback and relevance >= RELEVANCE_THRESHOLD:
        raise CorrectionError(
            400,
            "contradictory_label",
            f"a message that is not feedback cannot have relevance {relevance} (>= {RELEVANCE_THRESHOLD} sends it "
            "to feature extraction)",
            "relevance",
        )
    return category, feedback, relevance


def _first(conn: Connection, *columns: Any, message_id: int) -> dict[str, Any] | None:
    """These columns of the message's row in their table, or None."""
    row = conn.execute(select(*columns).where(columns[0].table.c.message_id == message_id)).first()
    return dict(row._mapping) if row is not None else None


def _label_state(conn: Connection, message_id: int) -> dict[str, Any] | None:
    L = MessageLabel  # noqa: N806
    return _first(
        conn, L.status, L.is_feedback, L.category, L.relevance, L.provider, L.labelled_by, message_id=message_id
    )


def _message(conn: Connection, org_id: int, message_id: int) -> Any:
    message = conn.execute(
        select(Message.id, Message.content_hash).where(Message.id == message_id, Message.org_id == org_id)
    ).first()
    if message is None:
        raise CorrectionError(404, "not_found", f"Message {message_id} not found.")
    return message


def _drop_mentions(conn: Connection, org_id: int, message_ids: Iterable[int]) -> tuple[int, tuple[int, ...]]:
    """Take the messages' mentions out of the catalogue; (mentions removed, requests recounted)."""
    ids = list(message_ids)
    mentions = select(FeatureMention.id).where(FeatureMention.message_id.in_(ids))
    request_ids = sorted(
        {
            row.feature_request_id
            for row in conn.execute(
                select(FeatureRequestMention.feature_request_id).where(FeatureRequestMention.mention_id.in_(mentions))
            )
        }
    )
    conn.execute(delete(FeatureRequestMention).where(FeatureRequestMention.mention_id.in_(mentions)))
    removed = conn.execute(delete(FeatureMention).where(FeatureMention.message_id.in_(ids))).rowcount or 0
    # Its competitor mentions came from the same tier-2 answer: they go too.
    conn.execute(delete(CompetitorMention).where(CompetitorMention.message_id.in_(ids)))
    conn.execute(delete(MessageExtraction).where(MessageExtraction.message_id.in_(ids)))
    if request_ids:
        refresh_request_stats(conn, org_id, request_ids)
    return int(removed), tuple(request_ids)


def _write(conn: Connection, correction: _Correction, content_hash: str) -> tuple[int, tuple[int, ...]]:
    """Store a correction and the label row readers see; drop the message's mentions when it is no
    longer relevant. (Mentions removed, requests recounted.)"""
    message_id = correction.message_id
    conn.execute(delete(MessageLabelCorrection).where(MessageLabelCorrection.message_id == message_id))
    conn.execute(insert(MessageLabelCorrection), asdict(correction))
    conn.execute(delete(MessageLabel).where(MessageLabel.message_id == message_id))
    conn.execute(insert(MessageLabel), human_label_row(correction, content_hash))
    if correction.relevance >= RELEVANCE_THRESHOLD:
        return 0, ()
    return _drop_mentions(conn, correction.org_id, [message_id])


def _withdraw(conn: Connection, message_id: int) -> None:
    """Remove a person's label: tier-1 labels the message again on its day's next run."""
    conn.execute(delete(MessageLabelCorrection).where(MessageLabelCorrection.message_id == message_id))
    conn.execute(
        delete(MessageLabel).where(MessageLabel.message_id == message_id, MessageLabel.labelled_by.is_not(None))
    )


def set_label(
    conn: Connection,
    *,
    org_id: int,
    message_id: int,
    actor: str,
    category: str,
    is_feedback: bool | None = None,
    relevance: int | None = None,
) -> LabelChange:
    """Record a person's tier-1 label for a message of the organisation (see the module docs).

    `is_feedback` follows `category` when omitted (`other` is not feedback); `relevance` defaults
    to 8 for feedback (it goes on to tier-2) and 0 for noise. Refused (`CorrectionError`, nothing
    written) for a message of another organisation, an unknown category or a contradiction.
    """
    category, feedback, relevance = _validated(category, is_feedback, relevance)
    message = _message(conn, org_id, message_id)
    before = _label_state(conn, message_id)
    correction = _Correction(message_id, org_id, feedback, category, relevance, actor, utc_now())
    removed, request_ids = _write(conn, correction, message.content_hash)
    after = {"category": category, "is_feedback": feedback, "relevance": relevance, "labelled_by": actor}
    audit_id = record_audit(
        conn,
        org_id=org_id,
        request_id=None,
        actor=actor,
        action=LABEL,
        before={"message_id": message_id, "label": before},
        after={"message_id": message_id, "label": after, "mentions_removed": removed},
    )
    return LabelChange(audit_id, message_id, removed, request_ids)


def clear_label(conn: Connection, *, org_id: int, message_id: int, actor: str) -> LabelChange:
    """Withdraw a person's label of a message: tier-1 labels it again on its day's next run.

    Refused (404) when the message is not the organisation's or no person labelled it.
    """
    _message(conn, org_id, message_id)
    correction = conn.execute(
        select(MessageLabelCorrection.__table__).where(MessageLabelCorrection.message_id == message_id)
    ).first()
    if correction is None:
        raise CorrectionError(404, "not_found", f"No person labelled message {message_id}; there is nothing to clear.")
    before = {
        "category": correction.category,
        "is_feedback": correction.is_feedback,
        "relevance": correction.relevance,
        "labelled_by": correction.labelled_by,
    }
    _withdraw(conn, message_id)
    audit_id = record_audit(
        conn,
        org_id=org_id,
        request_id=None,
        actor=actor,
        action=UNLABEL,
        before={"message_id": message_id, "label": before},
        after={"message_id": message_id, "label": None},
    )
    return LabelChange(audit_id, message_id, 0, ())


@dataclass(frozen=True)
class _Correction:
    """A correction's values before they are read back as a row (same attribute names)."""

    message_id: int
    org_id: int
    is_feedback: bool
    category: str
    relevance: int
    labelled_by: str
    labelled_at: Any


def _current(conn: Connection, message_id: int) -> dict[str, Any] | None:
    C = MessageLabelCorrection  # noqa: N806
    return _first(conn, C.category, C.is_feedback, C.relevance, C.labelled_by, message_id=message_id)


def undo_label_change(
    conn: Connection, org_id: int, _org_slug: str, action: str, before: Mapping[str, Any], after: Mapping[str, Any]
) -> tuple[int, ...]:
    """Undo a `label_message` or `unlabel_message` (for `corrections.undo`): the person's label the
    message had before comes back, or, when it had a model's, tier-1 labels it again on its day's
    next run (mentions a noise label removed come back with tier-2 then). Refused (409) when the
    message was labelled again since."""
    message_id = int(after["message_id"])
    message = _message(conn, org_id, message_id)
    current = _current(conn, message_id)
    expected = after.get("label") or {}
    if action == LABEL and (
        current is None or any(current[key] != expected[key] for key in ("category", "relevance", "labelled_by"))
    ):
        raise CorrectionError(409, "conflict", f"Message {message_id} was labelled again since; undo that first.")
    if action == UNLABEL and current is not None:
        raise CorrectionError(409, "conflict", f"Message {message_id} was labelled again since; undo that first.")
    previous = before.get("label")
    if previous is not None and (action == UNLABEL or previous.get("provider") == HUMAN_PROVIDER):
        restored = _Correction(
            message_id,
            org_id,
            bool(previous["is_feedback"]),
            str(previous["category"]),
            int(previous["relevance"]),
            str(previous["labelled_by"]),
            utc_now(),
        )
        _, request_ids = _write(conn, restored, message.content_hash)
        return request_ids
    _withdraw(conn, message_id)
    return ()


# What `corrections.undo` is given to undo label corrections.
LABEL_UNDO_HANDLERS: dict[str, UndoHandler] = {LABEL: undo_label_change, UNLABEL: undo_label_change}


def corrected_examples(conn: Connection, org_slug: str) -> list[tuple[str, str]]:
    """(message text, category) of every message a person of the organisation labelled, oldest
    first: the organisation's own training examples for the local tier-1 model."""
    from headway_assets.core.warehouse.schema import Organization

    org_id = conn.execute(select(Organization.id).where(Organization.slug == org_slug)).scalar_one_or_none()
    if org_id is None:
        raise LookupError(f"no organisation with slug {org_slug!r}")
    rows = conn.execute(
        select(Message.text, MessageLabelCorrection.category)
        .join(Message, Message.id == MessageLabelCorrection.message_id)
        .where(MessageLabelCorrection.org_id == org_id)
        .order_by(MessageLabelCorrection.labelled_at, MessageLabelCorrection.message_id)
    )
    return [(text, category) for text, category in rows if text and text.strip()]
