"""Soft removal of messages a source no longer has, the guard in front of it, and restoring.

A message is removed only when a complete, successful read of its connection and window no
longer returns it (`headway_assets.assets.raw_messages.sync_connection` decides when a read may
remove). Removing moves the whole row to `removed_messages` in the same transaction as the delete,
with the Dagster run and sync run that removed it, so a wrong removal is undone with
`restore_removed_messages` (CLI: `headway messages restore`).

The guard (`review_removals`) holds every removal of a connection when the read returned nothing
where messages were stored, or when it would remove more than `max_share` of any day's stored
messages. Small days are exempt from the share rule: a day may always lose up to `floor`
messages (removing 1 of 2 is 50% but is what a single deleted upstream message looks like).
An explicit allowance (the run tag `headway/allow_removals=true`) lets a held removal through.

Restoring does not bring back the message's labels and mentions (they cascade away with the
delete): the next materialisation of the AI assets for those days labels the message again, and
that is free while model and prompt are unchanged, because LLM answers are cached by content
hash (`headway_assets.llm.cache.LlmCache`, keyed by task, prompt version, model and hash).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Connection, delete, insert, select, tuple_, update

from headway_assets.core.message import TimeWindow
from headway_assets.core.warehouse.bulk import batches
from headway_assets.core.warehouse.customer_health import refresh_customer_health
from headway_assets.core.warehouse.schema import Message, MessageAuthor, RemovedMessage, utc_now
from headway_assets.core.warehouse.stats import refresh_daily_stats

# The run tag that lets a held removal through (documented in the check and the held error).
ALLOW_REMOVALS_TAG = "headway/allow_removals"


@dataclass(frozen=True, slots=True)
class RemovalGuard:
    """How much of a window one run may remove before the removal is held."""

    # Largest share of one day's stored messages of a connection that one run may remove.
    max_share: float = 0.5
    # A day may always lose this many messages, whatever the share (small days).
    floor: int = 2


@dataclass(frozen=True, slots=True)
class Removals:
    """Permission for a write to remove stored rows of its window that the read did not return.

    `defer_reason` set: the read finished but may not have seen everything (it skipped items),
    so what it would remove is counted and held, and nothing is removed.
    `allow_beyond_guard`: the run was explicitly allowed to remove more than the guard permits.
    """

    dagster_run_id: str | None
    guard: RemovalGuard = field(default_factory=RemovalGuard)
    allow_beyond_guard: bool = False
    defer_reason: str | None = None


@dataclass(frozen=True, slots=True)
class RemovalReview:
    """What a write would have removed, and whether (and why) it was held."""

    stored: int  # rows of the connection in the window before the write
    would_remove: int
    held: bool = False
    held_by_guard: bool = False  # held by the share/empty-read guard (fails the asset check)
    reason: str | None = None  # why it was held, for sync history and the check

    @property
    def share(self) -> float:
        """The share of the window's stored rows the read would remove."""
        return self.would_remove / self.stored if self.stored else 0.0


def review_removals(
    *,
    stored_days: Counter[date],
    stale_days: Counter[date],
    read_count: int,
    removals: Removals,
) -> RemovalReview:
    """Decide whether the stale rows of a window may go (see the module docstring for the rule)."""
    stored = sum(stored_days.values())
    stale = sum(stale_days.values())
    if not stale:
        return RemovalReview(stored=stored, would_remove=0)
    if removals.defer_reason:
        return RemovalReview(stored=stored, would_remove=stale, held=True, reason=removals.defer_reason)
    reason: str | None = None
    if read_count == 0:
        reason = f"the read returned no messages where {stored} were stored"
    else:
        guard = removals.guard
        over = [
            (stale_days[day] / stored_days[day], day)
            for day in sorted(stale_days)
            if stale_days[day] > guard.floor and stale_days[day] > guard.max_share * stored_days[day]
        ]
        if over:
            share, day = max(over)
            reason = (
                f"it would remove {stale_days[day]} of the {stored_days[day]} messages stored for {day.isoformat()} "
                f"({share:.0%}; the limit is {guard.max_share:.0%} of a day, or up to {guard.floor} messages)"
            )
    if reason is None or removals.allow_beyond_guard:
        return RemovalReview(stored=stored, would_remove=stale)
    return RemovalReview(stored=stored, would_remove=stale, held=True, held_by_guard=True, reason=reason)


def held_message(review: RemovalReview, window: TimeWindow) -> str:
    """The sync-history text of a held removal: what was held, why, and how to allow it."""
    if not review.held_by_guard:
        return (
            f"kept {review.would_remove} stored message(s) of {window} that this read did not return, because "
            f"{review.reason}; they are removed by the next read that skips nothing"
        )
    return (
        f"removals held: {review.reason}, so none of the {review.would_remove} messages it did not return "
        f"were removed. If they were really deleted at the source, materialise the partition again with the run "
        f"tag {ALLOW_REMOVALS_TAG}=true (removed messages are archived; `headway messages restore --run RUN_ID` "
        "brings them back)"
    )


def archive_and_delete(
    conn: Connection,
    message_ids: Sequence[int],
    *,
    dagster_run_id: str | None,
    sync_run_id: int | None,
    reason: str,
) -> int:
    """Move these messages to `removed_messages` and delete them, in the caller's transaction.

    Their labels, extractions, insights and mentions cascade away with the delete; see the module
    docstring for why re-deriving them after a restore is free. Returns how many were removed.
    """
    removed = 0
    removed_at = utc_now()
    touched: dict[int, set[date]] = {}  # the days whose customer health loses a call or a message
    for batch in batches(list(message_ids)):
        # DELETE ... RETURNING archives exactly the rows this transaction deleted: a concurrent run
        # removing the same rows waits for this one and then finds nothing, so nothing is archived twice.
        rows = [
            dict(row)
            for row in conn.execute(
                delete(Message).where(Message.id.in_(batch)).returning(*Message.__table__.columns)
            ).mappings()
        ]
        if not rows:
            continue
        # Who wrote them goes with them (message_authors has no cascading foreign key, see schema.py).
        conn.execute(delete(MessageAuthor).where(MessageAuthor.message_id.in_([row["id"] for row in rows])))
        for row in rows:
            touched.setdefault(row["org_id"], set()).add(row["sent_at"].astimezone(UTC).date())
            row["message_id"] = row.pop("id")
            row.update(
                removed_at=removed_at,
                removed_by_dagster_run_id=dagster_run_id,
                removed_by_sync_run_id=sync_run_id,
                reason=reason,
            )
        conn.execute(insert(RemovedMessage), rows)
        removed += len(rows)
    for org_id, days in touched.items():
        for day in sorted(days):
            start = datetime.combine(day, time(), tzinfo=UTC)
            refresh_customer_health(conn, TimeWindow(start=start, end=start + timedelta(days=1)), [org_id])
    return removed


def insert_reclaiming_ids(conn: Connection, rows: Sequence[dict[str, Any]]) -> int:
    """Insert new message rows; one that was removed before and now comes back from the source gets
    its old id again (when free), and its archived row is marked restored. Returns how many came back.

    Keeping the id keeps links to the message (API clients, bookmarks) working across a removal
    that is later undone at the source, e.g. a Slack message hidden and shown again.
    """
    returned = 0
    for batch in batches(list(rows)):
        keys = [(row["org_id"], row["source"], row["external_id"]) for row in batch]
        archived: dict[tuple[int, str, str], tuple[int, int]] = {}
        # Newest removal last, so it wins: that is the id the message had most recently.
        for found in conn.execute(
            select(
                RemovedMessage.id,
                RemovedMessage.message_id,
                RemovedMessage.org_id,
                RemovedMessage.source,
                RemovedMessage.external_id,
            )
            .where(
                RemovedMessage.restored_at.is_(None),
                tuple_(RemovedMessage.org_id, RemovedMessage.source, RemovedMessage.external_id).in_(keys),
            )
            .order_by(RemovedMessage.id)
        ):
            archived[(found.org_id, found.source, found.external_id)] = (found.id, found.message_id)
        taken = (
            set(
                conn.execute(
                    select(Message.id).where(Message.id.in_([message_id for _, message_id in archived.values()]))
                ).scalars()
            )
            if archived
            else set()
        )
        fresh: list[dict[str, Any]] = []
        back: list[tuple[dict[str, Any], int]] = []
        for row, key in zip(batch, keys, strict=True):
            match = archived.get(key)
            if match is None or match[1] in taken:
                fresh.append(row)
            else:
                back.append((row | {"id": match[1]}, match[0]))
        if fresh:
            conn.execute(insert(Message), fresh)
        if back:
            conn.execute(insert(Message), [row for row, _ in back])
            restored_at = utc_now()
            for row, archive_id in back:
                conn.execute(
                    update(RemovedMessage)
                    .where(RemovedMessage.id == archive_id)
                    .values(restored_at=restored_at, restored_message_id=row["id"])
                )
            returned += len(back)
    return returned


@dataclass(frozen=True, slots=True)
class RestoreStats:
    """What a restore did."""

    restored: int = 0  # rows put back into `messages`
    new_ids: int = 0  # of which under a new id, because the original one was taken
    already_present: int = 0  # archived rows whose message is in `messages` again (left archived)
    days: tuple[date, ...] = ()  # the UTC days that got messages back (re-run the AI assets for them)


# Archived columns that are not message columns.
_REMOVAL_COLUMNS = frozenset(
    {
        "id",
        "message_id",
        "removed_at",
        "removed_by_dagster_run_id",
        "removed_by_sync_run_id",
        "reason",
        "restored_at",
        "restored_message_id",
    }
)


def restore_removed_messages(
    conn: Connection,
    *,
    dagster_run_id: str | None = None,
    connection_id: int | None = None,
    window: TimeWindow | None = None,
) -> RestoreStats:
    """Put archived messages back into `messages`, in the caller's transaction.

    Selects the not-yet-restored archive rows removed by Dagster run `dagster_run_id`, and/or of
    connection `connection_id`, and/or sent inside `window` (at least one is required). Each goes
    back under its original id when that id is free, else under a new one; a message that is in
    `messages` again (the source returned it since) is left alone. When a message was removed more
    than once, its latest archived version is restored. The daily stats of the restored days are
    refreshed; labels and mentions come back with the next AI run of those days (free: cached
    answers). Running it again restores nothing more.
    """
    conditions: list[Any] = [RemovedMessage.restored_at.is_(None)]
    if dagster_run_id is not None:
        conditions.append(RemovedMessage.removed_by_dagster_run_id == dagster_run_id)
    if connection_id is not None:
        conditions.append(RemovedMessage.connection_id == connection_id)
    if window is not None:
        conditions += [RemovedMessage.sent_at >= window.start, RemovedMessage.sent_at < window.end]
    if len(conditions) == 1:
        raise ValueError("say which removals to restore: a Dagster run id, a connection or a window")
    # Newest removal first, so a message removed twice comes back in its latest version.
    archived = [
        dict(row)
        for row in conn.execute(
            select(RemovedMessage.__table__).where(*conditions).order_by(RemovedMessage.id.desc())
        ).mappings()
    ]
    restored = new_ids = already_present = 0
    restored_at = utc_now()
    days_by_org: dict[int, set[date]] = {}
    seen: set[tuple[int, str, str]] = set()
    for batch in batches(archived):
        keys = [(row["org_id"], row["source"], row["external_id"]) for row in batch]
        present = {
            (row.org_id, row.source, row.external_id)
            for row in conn.execute(
                select(Message.org_id, Message.source, Message.external_id).where(
                    tuple_(Message.org_id, Message.source, Message.external_id).in_(keys)
                )
            )
        }
        taken = set(
            conn.execute(select(Message.id).where(Message.id.in_([row["message_id"] for row in batch]))).scalars()
        )
        for row in batch:
            key = (row["org_id"], row["source"], row["external_id"])
            if key in present or key in seen:
                already_present += 1
                continue
            seen.add(key)
            message = {name: value for name, value in row.items() if name not in _REMOVAL_COLUMNS}
            if row["message_id"] not in taken:
                message["id"] = row["message_id"]
            else:
                new_ids += 1
            message_id = conn.execute(insert(Message).values(**message).returning(Message.id)).scalar_one()
            conn.execute(
                update(RemovedMessage)
                .where(RemovedMessage.id == row["id"])
                .values(restored_at=restored_at, restored_message_id=message_id)
            )
            restored += 1
            days_by_org.setdefault(row["org_id"], set()).add(row["sent_at"].astimezone(UTC).date())
    for org_id, days in days_by_org.items():
        # The dashboards' counts must include the restored messages again (as unlabelled for now).
        start = datetime.combine(min(days), time(0), tzinfo=UTC)
        end = datetime.combine(max(days) + timedelta(days=1), time(0), tzinfo=UTC)
        refresh_daily_stats(conn, TimeWindow(start, end), org_id=org_id)
    all_days = sorted({day for days in days_by_org.values() for day in days})
    return RestoreStats(restored=restored, new_ids=new_ids, already_present=already_present, days=tuple(all_days))
