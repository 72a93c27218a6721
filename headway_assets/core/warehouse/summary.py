"""A plain-text summary of what the warehouse holds, per organisation (the demo prints it)."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import Connection, distinct, func, select

from headway_assets.core.warehouse.database import read_connection
from headway_assets.core.warehouse.schema import (
    CallInsight,
    Competitor,
    CompetitorMention,
    Customer,
    FeatureMention,
    FeatureRequest,
    Message,
    MessageInsight,
    MessageLabel,
    Organization,
    PeriodInsight,
    SkippedItem,
    SyncRun,
)

CI = CallInsight.__table__.c


def warehouse_summary(url: str) -> list[str]:
    """Lines like `acme: 932 messages (slack 539, gmail 306, ...)`, then the AI tiers' counts."""
    lines: list[str] = []
    with read_connection(url) as conn:
        orgs = conn.execute(select(Organization.id, Organization.slug, Organization.name).order_by(Organization.id))
        for org in orgs:
            by_source: dict[str, int] = dict(
                conn.execute(
                    select(Message.source, func.count())
                    .where(Message.org_id == org.id)
                    .group_by(Message.source)
                    .order_by(Message.source)
                )
                .tuples()
                .all()
            )
            total = sum(by_source.values())
            window = conn.execute(
                select(func.min(Message.sent_at), func.max(Message.sent_at)).where(Message.org_id == org.id)
            ).one()
            skipped = conn.execute(
                select(func.count())
                .select_from(SkippedItem)
                .join(SyncRun, SyncRun.id == SkippedItem.sync_run_id)
                .where(SkippedItem.org_id == org.id)
                .where(
                    SyncRun.id.in_(
                        select(func.max(SyncRun.id)).where(SyncRun.org_id == org.id).group_by(SyncRun.connection_id)
                    )
                )
            ).scalar_one()
            sources = ", ".join(f"{source} {count}" for source, count in by_source.items())
            span = f" from {window[0]:%Y-%m-%d} to {window[1]:%Y-%m-%d}" if window[0] else ""
            lines.append(
                f"{org.name} ({org.slug}): {total} messages{span} ({sources}); {skipped} skipped in the last syncs"
            )
            labels: dict[str, int] = defaultdict(int)
            for status, category, count in conn.execute(
                select(MessageLabel.status, MessageLabel.category, func.count())
                .where(MessageLabel.org_id == org.id)
                .group_by(MessageLabel.status, MessageLabel.category)
            ):
                labels[category or status] += count
            if labels:
                feedback = sum(n for key, n in labels.items() if key not in ("other", "skipped_oversized", "failed"))
                details = ", ".join(f"{key} {n}" for key, n in sorted(labels.items(), key=lambda kv: -kv[1]))
                lines.append(f"  tier-1: {sum(labels.values())} labelled, {feedback} feedback ({details})")
            mentions = conn.execute(
                select(func.count()).select_from(FeatureMention).where(FeatureMention.org_id == org.id)
            ).scalar_one()
            requests = conn.execute(
                select(func.count())
                .select_from(FeatureRequest)
                .where(FeatureRequest.org_id == org.id, FeatureRequest.merged_into_id.is_(None))
            ).scalar_one()
            if mentions or requests:
                lines.append(f"  tier-2: {mentions} feature mentions -> {requests} catalogue requests")
                top = conn.execute(
                    select(FeatureRequest.title, FeatureRequest.mention_count, FeatureRequest.customer_count)
                    .where(FeatureRequest.org_id == org.id, FeatureRequest.merged_into_id.is_(None))
                    .order_by(FeatureRequest.mention_count.desc(), FeatureRequest.id)
                    .limit(5)
                ).all()
                for title, count, customers in top:
                    lines.append(f"    - {title}: {count} mentions from {customers} customers")
                lines += _top_asks_by_arr(conn, org.id)
            named = conn.execute(
                select(Competitor.name, func.count(distinct(CompetitorMention.message_id)).label("messages"))
                .join(CompetitorMention, CompetitorMention.competitor_id == Competitor.id, isouter=True)
                .where(Competitor.org_id == org.id)
                .group_by(Competitor.id, Competitor.name)
                .order_by(func.count(distinct(CompetitorMention.message_id)).desc(), Competitor.name)
            ).all()
            if named:
                listed = ", ".join(f"{name} {messages}" for name, messages in named)
                lines.append(f"  competitors (messages naming them): {listed}")
            lines += _calls_line(conn, org.id)
            insights = conn.execute(
                select(func.count()).select_from(MessageInsight).where(MessageInsight.org_id == org.id)
            ).scalar_one()
            periods = conn.execute(
                select(func.count()).select_from(PeriodInsight).where(PeriodInsight.org_id == org.id)
            ).scalar_one()
            if insights or periods:
                lines.append(f"  insights: {insights} message insights, {periods} period insights")
    return lines or ["(no organisations yet)"]


TOP_ASKS = 5


def _top_asks_by_arr(conn: Connection, org_id: int) -> list[str]:
    """The organisation's asks with the most ARR behind them: distinct customers, summed ARR, segments."""
    customers = conn.execute(select(func.count()).select_from(Customer).where(Customer.org_id == org_id)).scalar_one()
    top = conn.execute(
        select(FeatureRequest.title, FeatureRequest.arr_cents, FeatureRequest.account_count, FeatureRequest.segments)
        .where(
            FeatureRequest.org_id == org_id, FeatureRequest.merged_into_id.is_(None), FeatureRequest.account_count > 0
        )
        .order_by(FeatureRequest.arr_cents.desc(), FeatureRequest.id)
        .limit(TOP_ASKS)
    ).all()
    if not top:
        return []
    lines = [f"  top {len(top)} asks by ARR ({customers} customers):"]
    for title, cents, accounts, segments in top:
        names = ", ".join((segments or {}).get("names", [])) or "no segment"
        lines.append(f"    - {title}: ${cents / 100:,.0f} ARR from {accounts} customers ({names})")
    return lines


def _calls_line(conn: Connection, org_id: int) -> list[str]:
    """The call intelligence in one line: calls assessed and how many are high on each dimension."""
    high = [func.count().filter(level == "high") for level in (CI.deal_risk, CI.churn_risk, CI.expansion_potential)]
    calls, deal, churn, expansion = conn.execute(select(func.count(), *high).where(CI.org_id == org_id)).one()
    if not calls:
        return []
    return [
        f"  calls: {calls} assessed; high deal risk {deal}, high churn risk {churn},"
        f" high expansion potential {expansion}"
    ]
