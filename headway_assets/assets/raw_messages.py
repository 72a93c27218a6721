"""Raw message assets: one per source, built by one factory, partitioned by UTC day.

A partition (or a backfill range, in one run) reads the window from every active connection
of its source and makes the warehouse hold exactly those messages. One connection failing is
recorded in sync history and fails the `connections_synced` check; the others still land.

No read removes what it could not see: only a complete read that skipped nothing may remove
stored messages it did not return, removed messages are archived (restorable), and the removal
guard holds a removal that looks like a broken read (an empty read where messages were stored,
or more than the allowed share of a day), failing the `removals_within_limit` check.
"""

import traceback
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import dagster as dg
from sqlalchemy import func, select, tuple_

from headway_assets.assets.metadata import (
    PREVIEW_ROWS,
    markdown_table,
    preview_redaction,
    redacted_customer,
    redacted_excerpt,
    safe_error,
)
from headway_assets.assets.partitions import DAILY_PARTITIONS, partition_label, partition_window
from headway_assets.assets.tags import ORG_TAG
from headway_assets.core.message import (
    NormalisedMessage,
    ReadResult,
    SkippedItem,
    SourceReadError,
    TimeWindow,
)
from headway_assets.core.pii import Redaction, message_people
from headway_assets.core.warehouse.bulk import batches
from headway_assets.core.warehouse.ingestion import (
    ConnectionInfo,
    WriteStats,
    active_connections,
    finish_sync_run,
    latest_resume_state,
    start_sync_run,
    write_window,
)
from headway_assets.core.warehouse.removals import ALLOW_REMOVALS_TAG, Removals, held_message
from headway_assets.core.warehouse.schema import Message, SyncStatus
from headway_assets.core.warehouse.tenants import store_credentials
from headway_assets.llm.redaction import PiiScope
from headway_assets.resources.sources import SourcesResource
from headway_assets.resources.warehouse import WarehouseResource
from headway_assets.sources.registry import get_source, raw_messages_asset_name, source_names

OWNERS = ["team:data"]
INGESTION_GROUP = "ingestion"

CHECK_NO_DUPLICATES = "no_duplicate_messages"
CHECK_SENT_AT_IN_WINDOW = "sent_at_in_window"
CHECK_CONNECTIONS_SYNCED = "connections_synced"
CHECK_WINDOW_COMPLETE = "window_complete"
CHECK_REMOVALS_WITHIN_LIMIT = "removals_within_limit"


@dataclass
class ConnectionOutcome:
    """What happened to one connection in one run."""

    connection: ConnectionInfo
    status: SyncStatus
    messages: list[NormalisedMessage] = field(default_factory=list)
    skipped: list[SkippedItem] = field(default_factory=list)
    ignored: dict[str, int] = field(default_factory=dict)
    stats: WriteStats = field(default_factory=WriteStats)
    error: str | None = None


def sync_connection(
    connection: ConnectionInfo,
    window: TimeWindow,
    *,
    warehouse: WarehouseResource,
    sources: SourcesResource,
    run_id: str | None,
    log: Any,
    allow_removals: bool = False,
) -> ConnectionOutcome:
    """Read one connection's window and write it in one transaction, recording sync history.

    A capped live read writes what it fetched (without removing rows it has not reached),
    records where it stopped, and the next sync of the window continues from there. A failed or
    rejected read writes nothing. Only a complete read of the whole window that skipped nothing
    may remove stored rows it did not return, within the removal guard unless `allow_removals`
    (the run tag `headway/allow_removals=true`); a held removal is recorded in sync history.
    """
    with warehouse.read() as conn:
        resume_state = latest_resume_state(conn, connection=connection, window=window)
    if resume_state:
        log.info(f"{connection.label}: resuming the sync of {window} where the last run stopped")

    def save_credentials(values: dict[str, Any]) -> None:
        with warehouse.write() as conn:
            store_credentials(conn, connection_id=connection.id, values=values)

    try:
        result: ReadResult = sources.read(
            connection, window, resume_state=resume_state, save_credentials=save_credentials
        )
    except SourceReadError as error:
        return _record_failure(connection, window, warehouse, run_id, log, str(error))
    except Exception as error:  # a reader bug must not cost the other connections their data
        # The traceback's frames, not `log.exception`: an exception's message may quote what it
        # choked on (a message's text, an address), and reaches the log only redacted.
        frames = "".join(traceback.format_tb(error.__traceback__))
        log.error(
            f"{connection.label}: unexpected error while reading {window}: "
            f"{type(error).__name__}: {safe_error(str(error))}\n{frames}"
        )
        return _record_failure(
            connection, window, warehouse, run_id, log, f"{type(error).__name__}: {error} (see the run log)"
        )

    if not result.complete:
        status = SyncStatus.INCOMPLETE
    else:
        status = SyncStatus.PARTIAL if result.skipped else SyncStatus.SUCCESS
    with warehouse.write() as conn:
        sync_run_id = start_sync_run(conn, connection=connection, window=window, dagster_run_id=run_id)
        stats = write_window(
            conn,
            connection=connection,
            window=window,
            messages=result.messages,
            sync_run_id=sync_run_id,
            removals=_removals_for(result, resume_state, sources, run_id, allow_removals),
        )
        held = held_message(stats.removal, window) if stats.removal and stats.removal.held else None
        finish_sync_run(
            conn,
            sync_run_id=sync_run_id,
            connection=connection,
            status=status,
            messages_read=len(result.messages),
            stats=stats,
            skipped=result.skipped,
            error=held,
            resume_state=result.resume_state if not result.complete else None,
        )
    if not result.complete:
        log.warning(f"{connection.label}: stopped early (per-sync cap or rate limit); the next run resumes")
    if held:
        log.warning(f"{connection.label}: {held}")
    log.info(
        f"{connection.label}: {len(result.messages)} messages in {window} "
        f"(+{stats.inserted} new, {stats.updated} changed, {stats.unchanged} unchanged, "
        f"{stats.removed} removed, {stats.held} removals held, {len(result.skipped)} skipped)"
    )
    for item in result.skipped:
        log.warning(f"{connection.label}: skipped {safe_error(item.location)}: {safe_error(item.reason)}")
    return ConnectionOutcome(
        connection=connection,
        status=status,
        messages=result.messages,
        skipped=result.skipped,
        ignored=dict(result.ignored),
        stats=stats,
        error=held,
    )


def _removals_for(
    result: ReadResult,
    resume_state: dict[str, Any],
    sources: SourcesResource,
    run_id: str | None,
    allow_removals: bool,
) -> Removals | None:
    """What this read may remove: nothing unless it saw the whole window (see `sync_connection`)."""
    if not result.complete or resume_state:
        # A capped read, or one that resumed a capped one: it has not seen the whole window in one go.
        return None
    defer = None
    if result.skipped:
        # A skipped item may be a stored message the read could not parse: keep what it did not return.
        defer = f"the read skipped {len(result.skipped)} item(s) it could not read and may not have seen them"
    return Removals(
        dagster_run_id=run_id,
        guard=sources.removal_guard(),
        allow_beyond_guard=allow_removals,
        defer_reason=defer,
    )


def _record_failure(
    connection: ConnectionInfo,
    window: TimeWindow,
    warehouse: WarehouseResource,
    run_id: str | None,
    log: Any,
    error: str,
) -> ConnectionOutcome:
    log.error(f"{connection.label}: sync of {window} failed: {safe_error(error)}")
    with warehouse.write() as conn:
        sync_run_id = start_sync_run(conn, connection=connection, window=window, dagster_run_id=run_id)
        finish_sync_run(conn, sync_run_id=sync_run_id, connection=connection, status=SyncStatus.FAILED, error=error)
    return ConnectionOutcome(connection=connection, status=SyncStatus.FAILED, error=error)


def _duplicate_groups(warehouse: WarehouseResource, source: str, window: TimeWindow) -> list[Any]:
    """Rows of the window that look like the same message stored under different ids."""
    key = (Message.org_id, Message.channel, Message.author_name, Message.sent_at, Message.content_hash)
    with warehouse.read() as conn:
        return list(
            conn.execute(
                select(*key, func.count().label("copies"))
                .where(
                    Message.source == source,
                    Message.sent_at >= window.start,
                    Message.sent_at < window.end,
                )
                .group_by(*key)
                .having(func.count() > 1)
                .limit(20)
            )
        )


def _rows_outside_window(
    warehouse: WarehouseResource, outcomes: list[ConnectionOutcome], window: TimeWindow
) -> list[tuple[int, str]]:
    """Stored rows of this run's messages whose sent time, read back, is outside the window."""
    found: list[tuple[int, str]] = []
    with warehouse.read() as conn:
        for outcome in outcomes:
            keys = [(outcome.connection.org_id, m.external_id) for m in outcome.messages]
            for batch in batches(keys):
                rows = conn.execute(
                    select(Message.id, Message.sent_at).where(
                        Message.source == outcome.connection.source,
                        tuple_(Message.org_id, Message.external_id).in_(batch),
                        (Message.sent_at < window.start) | (Message.sent_at >= window.end),
                    )
                )
                # The warehouse id: an external id can be a mail's Message-ID, which may hold an address.
                found += [(row.id, row.sent_at.isoformat()) for row in rows]
    return found


def _check_results(
    source: str, warehouse: WarehouseResource, outcomes: list[ConnectionOutcome], window: TimeWindow
) -> list[dg.AssetCheckResult]:
    duplicates = _duplicate_groups(warehouse, source, window)
    outside = _rows_outside_window(warehouse, outcomes, window)
    failed = [o for o in outcomes if o.status is SyncStatus.FAILED]
    incomplete = [o for o in outcomes if o.status is SyncStatus.INCOMPLETE]
    held = [(o, o.stats.removal) for o in outcomes if o.stats.removal and o.stats.removal.held_by_guard]
    return [
        dg.AssetCheckResult(
            check_name=CHECK_WINDOW_COMPLETE,
            passed=not incomplete,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={
                "incomplete_connections": len(incomplete),
                "connections": dg.MetadataValue.md(
                    markdown_table(
                        ["connection", "fetched this run"], [(o.connection.label, len(o.messages)) for o in incomplete]
                    )
                ),
            },
        ),
        dg.AssetCheckResult(
            check_name=CHECK_NO_DUPLICATES,
            passed=not duplicates,
            metadata={
                "duplicate_groups": len(duplicates),
                "examples": dg.MetadataValue.md(
                    markdown_table(
                        ["org", "channel", "sent at", "text hash", "copies"],
                        [
                            (d.org_id, safe_error(d.channel), d.sent_at, d.content_hash[:12], d.copies)
                            for d in duplicates
                        ],
                    )
                ),
            },
        ),
        dg.AssetCheckResult(
            check_name=CHECK_SENT_AT_IN_WINDOW,
            passed=not outside,
            metadata={
                "window": str(window),
                "rows_outside": len(outside),
                "examples": dg.MetadataValue.md(markdown_table(["message id", "sent at"], outside, limit=10)),
            },
        ),
        dg.AssetCheckResult(
            check_name=CHECK_CONNECTIONS_SYNCED,
            passed=not failed,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={
                "connections": len(outcomes),
                "failed": len(failed),
                "failures": dg.MetadataValue.md(
                    markdown_table(["connection", "error"], [(o.connection.label, safe_error(o.error)) for o in failed])
                ),
            },
        ),
        dg.AssetCheckResult(
            check_name=CHECK_REMOVALS_WITHIN_LIMIT,
            passed=not held,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={
                "connections_held": len(held),
                "messages_held": sum(review.would_remove for _, review in held),
                "held": dg.MetadataValue.md(
                    markdown_table(
                        ["connection", "stored", "would remove", "share", "why"],
                        [
                            (
                                o.connection.label,
                                review.stored,
                                review.would_remove,
                                f"{review.share:.0%}",
                                review.reason,
                            )
                            for o, review in held
                        ],
                    )
                ),
                "allow_with": f"run tag {ALLOW_REMOVALS_TAG}=true",
            },
        ),
    ]


def _people(message: NormalisedMessage) -> tuple[str, ...]:
    return message_people(message.author_name, message.author_email, message.metadata)


def _preview_row(org: str, message: NormalisedMessage, people: tuple[str, ...], channels: Redaction) -> tuple[Any, ...]:
    """One preview row: the author as a placeholder, the text redacted (see `preview_redaction`)."""
    redaction = preview_redaction(
        PiiScope(names=_people(message), keep=(message.customer,) if message.customer else ()),
        names=people,
        texts=[message.author_name, message.customer, message.text],
    )
    # The author first: it is <PERSON_1> wherever the text names them too.
    author = redaction.redact(message.author_name) if message.author_name else ""
    return (
        org,
        message.sent_at.strftime("%Y-%m-%d %H:%M"),
        channels.redact(message.channel) if message.channel else "",
        author,
        redacted_customer(message.customer, redaction),
        len(message.text),
        redacted_excerpt(message.text, redaction),
    )


def _metadata(outcomes: list[ConnectionOutcome], window: TimeWindow, label: str) -> dict[str, Any]:
    messages = [(o.connection.org_slug, m) for o in outcomes for m in o.messages]
    by_channel = Counter((org, m.channel or "-") for org, m in messages)
    by_org = Counter(org for org, _ in messages)
    skipped = [(o.connection.label, safe_error(s.location), safe_error(s.reason)) for o in outcomes for s in o.skipped]
    ignored: Counter[str] = Counter()
    for outcome in outcomes:
        ignored.update(outcome.ignored)
    total = WriteStats(
        inserted=sum(o.stats.inserted for o in outcomes),
        updated=sum(o.stats.updated for o in outcomes),
        unchanged=sum(o.stats.unchanged for o in outcomes),
        removed=sum(o.stats.removed for o in outcomes),
        held=sum(o.stats.held for o in outcomes),
    )
    preview = sorted(messages, key=lambda pair: pair[1].sent_at)[:PREVIEW_ROWS]
    # No personal data in metadata: the people of every message of the run are redacted in each
    # shown (one may name another), and a channel that is a mailbox shows as a placeholder.
    people = tuple(dict.fromkeys(name for _, m in messages for name in _people(m)))
    channels = preview_redaction(names=people, texts={m.channel for _, m in messages})
    shown_channels: Counter[tuple[str, str]] = Counter()
    for (org, channel), count in by_channel.items():
        shown_channels[org, channels.redact(channel) or "-"] += count
    return {
        "partition": label,
        "window": str(window),
        "dagster/row_count": len(messages),
        "messages": len(messages),
        "inserted": total.inserted,
        "updated": total.updated,
        "unchanged": total.unchanged,
        "removed": total.removed,
        "removals_held": total.held,
        "skipped": len(skipped),
        "ignored_noise": sum(ignored.values()),
        "connections": len(outcomes),
        "connections_failed": sum(1 for o in outcomes if o.status is SyncStatus.FAILED),
        "connections_incomplete": sum(1 for o in outcomes if o.status is SyncStatus.INCOMPLETE),
        "by_org": dg.MetadataValue.md(markdown_table(["org", "messages"], sorted(by_org.items()))),
        "by_org_and_channel": dg.MetadataValue.md(
            markdown_table(["org", "channel", "messages"], [(o, c, n) for (o, c), n in sorted(shown_channels.items())])
        ),
        "preview": dg.MetadataValue.md(
            markdown_table(
                ["org", "sent at (UTC)", "channel", "author", "customer", "chars", "text (redacted)"],
                [_preview_row(org, m, people, channels) for org, m in preview],
            )
        ),
        "skipped_items": dg.MetadataValue.md(markdown_table(["connection", "where", "why"], skipped, limit=25)),
        "ignored_by_reason": dg.MetadataValue.json(dict(sorted(ignored.items()))),
        "sync": dg.MetadataValue.md(
            markdown_table(
                ["connection", "status", "read", "new", "changed", "removed", "removals held", "skipped", "error"],
                [
                    (
                        o.connection.label,
                        o.status.value,
                        len(o.messages),
                        o.stats.inserted,
                        o.stats.updated,
                        o.stats.removed,
                        o.stats.held,
                        len(o.skipped),
                        safe_error(o.error),
                    )
                    for o in outcomes
                ],
            )
        ),
    }


def build_raw_messages_asset(source: str) -> dg.AssetsDefinition:
    """The raw message asset of one registered source (`raw_<source>_messages`)."""
    spec = get_source(source)
    source = spec.name
    asset_name = raw_messages_asset_name(source)

    @dg.asset(
        name=asset_name,
        description=spec.description,
        group_name=INGESTION_GROUP,
        partitions_def=DAILY_PARTITIONS,
        # A backfill of any length is one run: the function reads the whole range at once.
        backfill_policy=dg.BackfillPolicy.single_run(),
        kinds={source, "sql"},
        owners=OWNERS,
        tags={"layer": "raw", "source": source},
        check_specs=[
            dg.AssetCheckSpec(
                CHECK_NO_DUPLICATES,
                asset=asset_name,
                description="No message of the window is stored twice under different ids "
                "(same org, channel, author, sent time and text).",
            ),
            dg.AssetCheckSpec(
                CHECK_SENT_AT_IN_WINDOW,
                asset=asset_name,
                description="Every message this partition wrote, read back from the warehouse, "
                "has its sent time inside the partition window.",
            ),
            dg.AssetCheckSpec(
                CHECK_WINDOW_COMPLETE,
                asset=asset_name,
                description="Every connection's sync covered the whole window; a capped live sync "
                "fails this (warning) until the next runs have fetched the rest.",
            ),
            dg.AssetCheckSpec(
                CHECK_CONNECTIONS_SYNCED,
                asset=asset_name,
                description="Every active connection of the source was read; a failure names the "
                "connection and its error (the other connections' messages are still written).",
            ),
            dg.AssetCheckSpec(
                CHECK_REMOVALS_WITHIN_LIMIT,
                asset=asset_name,
                description="No connection's removals were held. A sync removes (archives) stored messages a "
                "complete read no longer returns, but removes nothing for a connection whose read came back "
                "empty where messages were stored, or would remove more than HEADWAY_MAX_REMOVAL_SHARE "
                "(default 50%) of a day's stored messages and more than HEADWAY_REMOVAL_GUARD_FLOOR (default 2) "
                "of them; this fails naming the connection, stored and would-remove counts and the share. If the "
                f"messages were really deleted at the source, re-run the partition with the run tag "
                f"{ALLOW_REMOVALS_TAG}=true; `headway messages restore --run RUN_ID` undoes a removal.",
            ),
        ],
    )
    def raw_messages(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource, sources: SourcesResource
    ) -> dg.MaterializeResult:
        window = partition_window(context)
        label = partition_label(context)
        with warehouse.read() as conn:
            connections = active_connections(conn, source)
        only_org = context.run.tags.get(ORG_TAG)
        if only_org:  # an on-demand sync request of one organisation
            connections = [c for c in connections if str(c.org_id) == only_org]
            context.log.info(f"syncing only organisation {only_org}'s {source} connections")
        if not connections:
            context.log.warning(f"no active {source} connection: nothing to sync for {label}")
        allow_removals = context.run.tags.get(ALLOW_REMOVALS_TAG, "").strip().lower() == "true"
        if allow_removals:
            context.log.warning(f"{ALLOW_REMOVALS_TAG}=true: removals beyond the guard go through in this run")
        outcomes = [
            sync_connection(
                connection,
                window,
                warehouse=warehouse,
                sources=sources,
                run_id=context.run.run_id,
                log=context.log,
                allow_removals=allow_removals,
            )
            for connection in connections
        ]
        return dg.MaterializeResult(
            metadata=_metadata(outcomes, window, label),
            check_results=_check_results(source, warehouse, outcomes, window),
        )

    return raw_messages


def build_raw_message_assets() -> list[dg.AssetsDefinition]:
    """One raw message asset per registered source."""
    return [build_raw_messages_asset(name) for name in source_names()]


RAW_MESSAGE_ASSETS: list[dg.AssetsDefinition] = build_raw_message_assets()
