"""`message_authors`: every message's author resolved to a contact and a customer.

Daily-partitioned like the other per-message assets and downstream of every raw message asset:
a partition (or a backfill range, in one run) resolves the messages sent in its window, in one
transaction of set-based SQL (`headway_assets.core.warehouse.author_resolution`). Re-running a
partition rewrites nothing that did not change; concurrent runs create each customer and contact
once. The metadata holds counts only: no address, name or message text.
"""

from typing import Any

import dagster as dg
from sqlalchemy import func, select

from headway_assets.assets.automation import FOLLOW_UPSTREAM
from headway_assets.assets.metadata import markdown_table
from headway_assets.assets.partitions import DAILY_PARTITIONS, partition_label, partition_window
from headway_assets.assets.raw_messages import OWNERS, RAW_MESSAGE_ASSETS
from headway_assets.core.people import FREE_EMAIL_DOMAINS
from headway_assets.core.warehouse.author_resolution import ResolutionStats, resolve_message_authors
from headway_assets.core.warehouse.conflicts import retry_transaction
from headway_assets.core.warehouse.schema import CustomerDomain, Message, MessageAuthor
from headway_assets.resources.warehouse import WarehouseResource

CUSTOMERS_GROUP = "customers"
CHECK_EVERY_MESSAGE_RESOLVED = "every_message_has_author_outcome"
CHECK_NO_FREE_MAIL_CUSTOMER = "no_customer_owns_a_free_mail_domain"


@dg.asset(
    name="message_authors",
    description="Every message's author resolved to a contact and a customer: by e-mail domain (free-mail "
    "domains such as gmail.com never make a customer), by Slack Connect team, by a Gong or Fathom call's "
    "external participants' e-mails. Internal authors are not customers; an unknown business domain or "
    "Slack Connect team auto-creates a customer flagged auto_created for review. Each message is resolved, "
    "internal or unresolved with a reason. The feature requests of the messages whose author changed get "
    "their distinct customers and ARR recomputed. Re-run safe: unchanged rows are not rewritten.",
    group_name=CUSTOMERS_GROUP,
    partitions_def=DAILY_PARTITIONS,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=RAW_MESSAGE_ASSETS,
    automation_condition=FOLLOW_UPSTREAM,
    kinds={"python", "sql"},
    owners=OWNERS,
    tags={"layer": "customers"},
    check_specs=[
        dg.AssetCheckSpec(
            CHECK_EVERY_MESSAGE_RESOLVED,
            asset="message_authors",
            description="Every message of the partition has a message_authors row (resolved, internal or "
            "unresolved with a reason).",
        ),
        dg.AssetCheckSpec(
            CHECK_NO_FREE_MAIL_CUSTOMER,
            asset="message_authors",
            description="No customer holds a free-mail domain (gmail.com, outlook.com, ...).",
            blocking=False,
        ),
    ],
)
def message_authors(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Resolve the authors of the partition's messages to contacts and customers."""
    window = partition_window(context)

    def resolve() -> ResolutionStats:
        with warehouse.write() as conn:
            return resolve_message_authors(conn, window)

    # A merge or an import never deadlocks with a run (the organisations' customer lock); anything
    # else PostgreSQL aborts the transaction for (deadlock, serialization) is run again whole, at most
    # twice more, and counted in the metadata.
    stats, retries = retry_transaction(resolve, what="message_authors")
    with warehouse.read() as conn:
        missing = conn.execute(
            select(func.count())
            .select_from(Message)
            .outerjoin(MessageAuthor, MessageAuthor.message_id == Message.id)
            .where(Message.sent_at >= window.start, Message.sent_at < window.end, MessageAuthor.message_id.is_(None))
        ).scalar_one()
        free_mail_domains = conn.execute(
            select(func.count())
            .select_from(CustomerDomain)
            .where(CustomerDomain.domain.in_(sorted(FREE_EMAIL_DOMAINS)))
        ).scalar_one()
    context.log.info(
        f"{stats.messages} messages: {stats.resolved_total} resolved, {stats.internal} internal, "
        f"{stats.unresolved_total} unresolved; {stats.customers_auto_created} customers auto-created"
    )
    return dg.MaterializeResult(
        metadata=resolution_metadata(stats, partition_label(context)) | {"transaction_retries": retries},
        check_results=[
            dg.AssetCheckResult(
                check_name=CHECK_EVERY_MESSAGE_RESOLVED,
                passed=int(missing) == 0,
                metadata={"messages_without_outcome": int(missing)},
            ),
            dg.AssetCheckResult(
                check_name=CHECK_NO_FREE_MAIL_CUSTOMER,
                passed=int(free_mail_domains) == 0,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={"free_mail_domains_held": int(free_mail_domains)},
            ),
        ],
    )


def resolution_metadata(stats: ResolutionStats, partition: str) -> dict[str, Any]:
    """The run's metadata: counts by outcome, method and reason (never an address or a name)."""
    outcomes = [("resolved", method, count) for method, count in sorted(stats.resolved.items())]
    outcomes += [("unresolved", reason, count) for reason, count in sorted(stats.unresolved.items())]
    if stats.internal:
        outcomes.append(("internal", "author_is_internal", stats.internal))
    return {
        "partition": partition,
        "dagster/row_count": stats.messages,
        "messages": stats.messages,
        "resolved": stats.resolved_total,
        "internal": stats.internal,
        "unresolved": stats.unresolved_total,
        "unresolved_by_reason": dict(sorted(stats.unresolved.items())),
        "resolved_by_method": dict(sorted(stats.resolved.items())),
        "customers_auto_created": stats.customers_auto_created,
        "contacts_created": stats.contacts_created,
        "slack_teams_mapped": stats.slack_teams_mapped,
        "rows_written": stats.rows_written,
        "requests_refreshed": stats.requests_refreshed,
        "outcomes": dg.MetadataValue.md(markdown_table(["outcome", "method or reason", "messages"], outcomes)),
    }
