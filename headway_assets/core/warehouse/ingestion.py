"""Writing one connection's messages for one time window, idempotently, with its sync history.

A raw partition "replaces exactly its rows": rows of the window that arrive again are kept
as they are when nothing changed (same id, so labels downstream stay attached), rewritten when
the source changed them, inserted when new, and removed when the source no longer has them, but
only when the caller grants removals (a complete, successful read) and the removal guard lets
them through; a removed row is archived, not lost (`headway_assets.core.warehouse.removals`).
All of it, plus the sync-history row and its skipped items, commits in one transaction.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, and_, insert, select, update

from headway_assets.core.message import NormalisedMessage, SkippedItem, TimeWindow
from headway_assets.core.warehouse.bulk import batches
from headway_assets.core.warehouse.removals import (
    RemovalReview,
    Removals,
    archive_and_delete,
    insert_reclaiming_ids,
    review_removals,
)
from headway_assets.core.warehouse.schema import (
    Message,
    Organization,
    SourceConnection,
    SyncRun,
    SyncStatus,
    utc_now,
)
from headway_assets.core.warehouse.schema import (
    SkippedItem as SkippedItemRow,
)


@dataclass(frozen=True, slots=True)
class ConnectionInfo:
    """A source connection as the pipeline sees it (no credentials)."""

    id: int
    org_id: int
    org_slug: str
    source: str
    kind: str
    name: str
    config: dict[str, Any] = field(default_factory=dict)
    # Encrypted; only the live reader decrypts it. Kept out of repr so it never reaches a log.
    credentials_encrypted: str | None = field(default=None, repr=False)

    @property
    def label(self) -> str:
        """How logs and metadata name this connection."""
        return f"{self.org_slug}/{self.source}/{self.name}"


@dataclass(frozen=True, slots=True)
class WriteStats:
    """What one write changed in the warehouse."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    held: int = 0  # rows the read did not return that were kept (see `removal`)
    # What the read would have removed and whether it was held; None when removals were not asked.
    removal: RemovalReview | None = None

    @property
    def written(self) -> int:
        """Rows inserted or rewritten."""
        return self.inserted + self.updated


def record_hash(message: NormalisedMessage) -> str:
    """A hash over every field the warehouse stores for the message."""
    payload = {
        "external_id": message.external_id,
        "sent_at": message.sent_at.isoformat(),
        "text": message.text,
        "thread_id": message.thread_id,
        "channel": message.channel,
        "author_name": message.author_name,
        "author_email": message.author_email,
        "author_is_internal": message.author_is_internal,
        "customer": message.customer,
        "title": message.title,
        "url": message.url,
        "metadata": message.metadata,
    }
    encoded = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(encoded.encode("utf-8")).hexdigest()


def _row(message: NormalisedMessage, org_id: int, connection_id: int, sync_run_id: int) -> dict[str, Any]:
    now = utc_now()
    return {
        "org_id": org_id,
        "connection_id": connection_id,
        "source": message.source,
        "external_id": message.external_id,
        "thread_id": message.thread_id,
        "channel": message.channel,
        "author_name": message.author_name,
        "author_email": message.author_email,
        "author_is_internal": message.author_is_internal,
        "customer": message.customer,
        "sent_at": message.sent_at,
        "title": message.title,
        "text": message.text,
        "text_length": len(message.text),
        "url": message.url,
        "content_hash": message.content_hash,
        "record_hash": record_hash(message),
        "source_metadata": message.metadata,
        "sync_run_id": sync_run_id,
        "ingested_at": now,
        "updated_at": now,
    }


# Columns that never change on rewrite: the row's identity and when it first arrived.
_IDENTITY_COLUMNS = frozenset({"org_id", "source", "external_id", "ingested_at"})


def _dedupe(messages: Iterable[NormalisedMessage]) -> list[NormalisedMessage]:
    """One message per external id (a reader can meet the same item twice, e.g. an edited
    Slack message in two day files); the last one read wins."""
    by_id: dict[str, NormalisedMessage] = {}
    for message in messages:
        by_id[message.external_id] = message
    return list(by_id.values())


def write_window(
    conn: Connection,
    *,
    connection: ConnectionInfo,
    window: TimeWindow,
    messages: Sequence[NormalisedMessage],
    sync_run_id: int,
    removals: Removals | None = None,
) -> WriteStats:
    """Upsert `messages` for this connection and window; with `removals`, also remove the rest.

    Without `removals` (the default: an incomplete, resumed or webhook write) rows are only added
    or updated. With it, stored rows of the connection and window that the read did not return
    are archived and deleted, unless `review_removals` holds them (an empty read, too large a
    share of a day, or a read that skipped items); held rows stay and are counted in `held`.
    Messages outside the window are refused (a reader bug must not leak into other partitions).
    """
    outside = [m.external_id for m in messages if not window.contains(m.sent_at)]
    if outside:
        raise ValueError(
            f"{len(outside)} message(s) outside {window} given to write_window (first: {outside[0]}); "
            "the reader must filter by sent time"
        )
    incoming = _dedupe(messages)
    source = connection.source
    # What the window holds before this write: the base of the removal guard's shares.
    stored_before = (
        conn.execute(
            select(Message.id, Message.external_id, Message.sent_at).where(
                Message.connection_id == connection.id,
                Message.sent_at >= window.start,
                Message.sent_at < window.end,
            )
        ).all()
        if removals is not None
        else []
    )
    existing: dict[str, tuple[int, str]] = {}
    for ids in batches([m.external_id for m in incoming]):
        for found_row in conn.execute(
            select(Message.id, Message.external_id, Message.record_hash).where(
                Message.org_id == connection.org_id,
                Message.source == source,
                Message.external_id.in_(ids),
            )
        ):
            existing[found_row.external_id] = (found_row.id, found_row.record_hash)
    to_insert: list[dict[str, Any]] = []
    updated = unchanged = 0
    for message in incoming:
        row = _row(message, connection.org_id, connection.id, sync_run_id)
        found = existing.get(message.external_id)
        if found is None:
            to_insert.append(row)
        elif found[1] == row["record_hash"]:
            unchanged += 1
        else:
            # Keep the id (and ingested_at) so downstream rows stay attached to the message.
            values = {k: v for k, v in row.items() if k not in _IDENTITY_COLUMNS}
            conn.execute(update(Message).where(Message.id == found[0]).values(**values))
            updated += 1
    # A message removed earlier that the source has again comes back under its old id.
    insert_reclaiming_ids(conn, to_insert)

    stats = WriteStats(inserted=len(to_insert), updated=updated, unchanged=unchanged)
    if removals is None:
        return stats
    keep = {m.external_id for m in incoming}
    stale = [row for row in stored_before if row.external_id not in keep]
    review = review_removals(
        stored_days=Counter(_utc_day(row.sent_at) for row in stored_before),
        stale_days=Counter(_utc_day(row.sent_at) for row in stale),
        read_count=len(incoming),
        removals=removals,
    )
    if review.held:
        return replace(stats, held=len(stale), removal=review)
    removed = archive_and_delete(
        conn,
        [row.id for row in stale],
        dagster_run_id=removals.dagster_run_id,
        sync_run_id=sync_run_id,
        reason=f"not returned by a complete read of {connection.label} for {window}",
    )
    return replace(stats, removed=removed, removal=review)


def _utc_day(moment: datetime) -> date:
    return moment.astimezone(UTC).date()


def start_sync_run(
    conn: Connection, *, connection: ConnectionInfo, window: TimeWindow, dagster_run_id: str | None
) -> int:
    """Open a sync-history row for this connection and window; returns its id."""
    result = conn.execute(
        insert(SyncRun)
        .values(
            org_id=connection.org_id,
            connection_id=connection.id,
            source=connection.source,
            window_start=window.start,
            window_end=window.end,
            status=SyncStatus.RUNNING.value,
            dagster_run_id=dagster_run_id,
            started_at=utc_now(),
            resume_state={},
        )
        .returning(SyncRun.id)
    )
    return int(result.scalar_one())


def finish_sync_run(
    conn: Connection,
    *,
    sync_run_id: int,
    connection: ConnectionInfo,
    status: SyncStatus,
    messages_read: int = 0,
    stats: WriteStats | None = None,
    skipped: Sequence[SkippedItem] = (),
    error: str | None = None,
    finished_at: datetime | None = None,
    resume_state: dict[str, Any] | None = None,
) -> None:
    """Close a sync-history row, record its skipped items and update the connection's status."""
    finished = finished_at or utc_now()
    stats = stats or WriteStats()
    conn.execute(
        update(SyncRun)
        .where(SyncRun.id == sync_run_id)
        .values(
            status=status.value,
            finished_at=finished,
            messages_read=messages_read,
            messages_written=stats.written,
            messages_removed=stats.removed,
            messages_held=stats.held,
            items_skipped=len(skipped),
            error=error,
            resume_state=resume_state or {},
        )
    )
    if skipped:
        conn.execute(
            insert(SkippedItemRow),
            [
                {
                    "sync_run_id": sync_run_id,
                    "org_id": connection.org_id,
                    "source": connection.source,
                    "location": item.location,
                    "reason": item.reason,
                    "created_at": finished,
                }
                for item in skipped
            ],
        )
    values: dict[str, Any] = {"last_error": error}
    if status is not SyncStatus.FAILED:
        values["last_synced_at"] = finished
    conn.execute(update(SourceConnection).where(SourceConnection.id == connection.id).values(**values))


def active_connections(conn: Connection, source: str) -> list[ConnectionInfo]:
    """Every active connection of `source`, across all active organisations, in a stable order."""
    rows = conn.execute(
        select(
            SourceConnection.id,
            SourceConnection.org_id,
            Organization.slug,
            SourceConnection.source,
            SourceConnection.kind,
            SourceConnection.name,
            SourceConnection.config,
            SourceConnection.credentials_encrypted,
        )
        .join(Organization, Organization.id == SourceConnection.org_id)
        .where(
            and_(
                SourceConnection.source == source,
                SourceConnection.is_active.is_(True),
                Organization.is_active.is_(True),
            )
        )
        .order_by(SourceConnection.id)
    )
    return [
        ConnectionInfo(
            id=row.id,
            org_id=row.org_id,
            org_slug=row.slug,
            source=row.source,
            kind=row.kind,
            name=row.name,
            config=dict(row.config or {}),
            credentials_encrypted=row.credentials_encrypted,
        )
        for row in rows
    ]


def latest_resume_state(conn: Connection, *, connection: ConnectionInfo, window: TimeWindow) -> dict[str, Any]:
    """Where the last sync of this exact window stopped, if it stopped early; else `{}`."""
    row = conn.execute(
        select(SyncRun.status, SyncRun.resume_state)
        .where(
            SyncRun.connection_id == connection.id,
            SyncRun.window_start == window.start,
            SyncRun.window_end == window.end,
            SyncRun.status != SyncStatus.FAILED.value,
        )
        .order_by(SyncRun.id.desc())
        .limit(1)
    ).first()
    if row is None or row.status != SyncStatus.INCOMPLETE.value:
        return {}
    return dict(row.resume_state or {})
