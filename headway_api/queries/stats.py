"""Stats over time, read from the pre-aggregated `daily_message_stats` table."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import bindparam, cast, func, literal, null, select, union_all

from headway_api.db import Reader
from headway_api.pagination import AnySelect
from headway_api.schemas.stats import TIMELINE_DAYS, TOP_N, Interval
from headway_assets.core.warehouse.llm_spend import SPEND_COLUMNS, spend_per_month
from headway_assets.core.warehouse.schema import (
    CallInsight,
    Customer,
    DailyMessageStat,
    FeatureMention,
    LlmUsage,
    Message,
    MessageAuthor,
    MessageInsight,
)

D = DailyMessageStat.__table__.c
M = Message.__table__.c
MI = MessageInsight.__table__.c
FM = FeatureMention.__table__.c
MA = MessageAuthor.__table__.c
C = Customer.__table__.c
# Longest range per interval, so a series never grows past a few hundred points.
MAX_RANGE_DAYS: dict[str, int] = {"day": 366, "week": 7 * 260, "month": 3660}
_COUNTS = ("messages", "feedback", "relevant", "mentions")


def _grouped(dimension: Any, kind: str, with_source: bool, with_category: bool) -> AnySelect:
    # `refreshed_at` is read from the source rows only (they cover every message), so the
    # category rows carry none: fewer timestamps to transfer and convert.
    refreshed_at = func.min(D.refreshed_at) if kind == "source" else cast(null(), D.refreshed_at.type)
    query = select(
        D.day,
        literal(kind).label("kind"),
        dimension.label("name"),
        func.sum(D.message_count).label("messages"),
        func.sum(D.feedback_count).label("feedback"),
        func.sum(D.relevant_count).label("relevant"),
        func.sum(D.mention_count).label("mentions"),
        refreshed_at.label("refreshed_at"),
    ).where(D.org_id == bindparam("org_id"), D.day >= bindparam("since"), D.day <= bindparam("until"))
    if with_source:
        query = query.where(D.source == bindparam("source"))
    if with_category:
        query = query.where(D.category == bindparam("category"))
    return query.group_by(D.day, dimension)


@lru_cache(maxsize=8)
def _statement(with_source: bool, with_category: bool) -> Any:
    # Per day and source, then per day and category, in one round trip: the database sums the
    # table's (day, source, category) rows, so the API handles a few rows per day, not dozens.
    return union_all(
        _grouped(D.source, "source", with_source, with_category),
        _grouped(D.category, "category", with_source, with_category),
    )


def stats_query(
    org_id: int, since: date, until: date, source: str | None, category: str | None
) -> tuple[Any, dict[str, Any]]:
    """The statement and bound values of the per-day counts by source and by category in range."""
    values: dict[str, Any] = {"org_id": org_id, "since": since, "until": until}
    if source is not None:
        values["source"] = source
    if category is not None:
        values["category"] = category
    return _statement(source is not None, category is not None), values


def period_start(day: date, interval: Interval) -> date:
    """The first day of the interval holding `day` (weeks start on Monday)."""
    if interval == "week":
        return day - timedelta(days=day.weekday())
    if interval == "month":
        return day.replace(day=1)
    return day


def _periods(since: date, until: date, interval: Interval) -> list[date]:
    starts: list[date] = []
    current = period_start(since, interval)
    while current <= until:
        starts.append(current)
        try:
            if interval == "day":
                current += timedelta(days=1)
            elif interval == "week":
                current += timedelta(days=7)
            else:
                current = (current.replace(day=28) + timedelta(days=4)).replace(day=1)
        except OverflowError:  # the period holding 9999-12-31 was the last one a date can start
            break
    return starts


def _zero() -> dict[str, int]:
    return dict.fromkeys(_COUNTS, 0)


async def get_stats(
    db: Reader,
    org_id: int,
    since: date,
    until: date,
    interval: Interval,
    source: str | None,
    category: str | None,
) -> dict[str, Any]:
    """Totals, per-source and per-category counts, and a zero-filled series (a `StatsResponse` document)."""
    statement, values = stats_query(org_id, since, until, source, category)
    rows = await db.rows(statement, values)
    series: dict[date, dict[str, Any]] = {  # points in `StatsPoint`'s field order
        start: {**_zero(), "period_start": start, "by_source": {}, "by_category": {}}
        for start in _periods(since, until, interval)
    }
    points: dict[Any, dict[str, Any]] = {}  # a row's day -> its period's point (a day has several rows)
    by_source: dict[str, dict[str, int]] = {}
    by_category: dict[str, dict[str, int]] = {}
    refreshed_at: datetime | None = None
    for day, kind, name, messages, feedback, relevant, mentions, refreshed in rows:
        point = points.get(day)
        if point is None:
            moment = day if isinstance(day, date) else date.fromisoformat(str(day))
            point = points[day] = series[period_start(moment, interval)]
        if kind == "category":
            breakdown, overall = point["by_category"], by_category
        else:
            # Every message has exactly one source: the source rows add up to the totals.
            breakdown, overall = point["by_source"], by_source
            point["messages"] += messages
            point["feedback"] += feedback
            point["relevant"] += relevant
            point["mentions"] += mentions
            if refreshed is not None and (refreshed_at is None or refreshed < refreshed_at):
                refreshed_at = refreshed
        breakdown[name] = breakdown.get(name, 0) + messages
        target = overall.get(name)
        if target is None:
            target = overall[name] = _zero()
        target["messages"] += messages
        target["feedback"] += feedback
        target["relevant"] += relevant
        target["mentions"] += mentions
    totals = {name: sum(counts[name] for counts in by_source.values()) for name in _COUNTS}
    window = {"org_id": org_id, "start": _midnight(since), "end": _day_after(until)}
    spend = await db.rows(_spend_query(), window)
    dashboard = await _dashboard(db, org_id, since, until, source)
    return {
        "since": since,
        "until": until,
        "interval": interval,
        "totals": totals,
        "by_source": by_source,
        "by_category": by_category,
        "series": list(series.values()),
        "refreshed_at": refreshed_at,
        "llm_spend": spend_per_month(spend),
        **dashboard,
        "risk_distribution": await risk_distribution(db, org_id, since, until, source),
    }


# --- What a dashboard draws (issue 16, item 7) ------------------------------------------------------
# Each reads one range of the organisation's (org_id, sent_at) indexes; `source` narrows them all.


@lru_cache(maxsize=2)
def _sentiment_query(with_source: bool) -> AnySelect:
    query = (
        select(MI.sentiment, func.count())
        .select_from(MessageInsight.__table__.join(Message.__table__, M.id == MI.message_id))
        .where(M.org_id == bindparam("org_id"), M.sent_at >= bindparam("start"), M.sent_at < bindparam("end"))
        .where(MI.org_id == bindparam("org_id"))
        .group_by(MI.sentiment)
        .order_by(MI.sentiment)
    )
    return query.where(M.source == bindparam("source")) if with_source else query


def _mentions_in_range(query: AnySelect, with_source: bool) -> AnySelect:
    query = query.where(
        FM.org_id == bindparam("org_id"), FM.sent_at >= bindparam("start"), FM.sent_at < bindparam("end")
    )
    return query.where(FM.source == bindparam("source")) if with_source else query


@lru_cache(maxsize=2)
def _themes_query(with_source: bool) -> AnySelect:
    mentions = func.count().label("mentions")
    query = select(FM.theme, mentions).where(FM.theme.is_not(None))
    return _mentions_in_range(query, with_source).group_by(FM.theme).order_by(mentions.desc(), FM.theme).limit(TOP_N)


@lru_cache(maxsize=2)
def _customers_query(with_source: bool) -> AnySelect:
    # Per customer first (a range's mentions), then its fields: the customers table is read by id.
    asking = (
        _mentions_in_range(
            select(MA.customer_id, func.count().label("mentions"))
            .select_from(FeatureMention.__table__.join(MessageAuthor.__table__, MA.message_id == FM.message_id))
            .where(MA.customer_id.is_not(None)),
            with_source,
        )
        .group_by(MA.customer_id)
        .subquery("asking")
    )
    return (
        select(C.id, C.name, C.arr, C.segment, asking.c.mentions)
        .select_from(asking.join(Customer.__table__, C.id == asking.c.customer_id))
        .where(C.org_id == bindparam("org_id"))
        .order_by(C.arr.is_(None), C.arr.desc(), asking.c.mentions.desc(), C.id)
        .limit(TOP_N)
    )


@lru_cache(maxsize=2)
def _timeline_query(with_source: bool) -> AnySelect:
    query = select(D.day, D.source, func.sum(D.message_count)).where(
        D.org_id == bindparam("org_id"), D.day >= bindparam("since"), D.day <= bindparam("until")
    )
    if with_source:
        query = query.where(D.source == bindparam("source"))
    return query.group_by(D.day, D.source)


def timeline_days(until: date) -> list[date]:
    """The days of the timeline: `TIMELINE_DAYS` up to `until` (fewer near the first day a date can hold)."""
    span = timedelta(days=TIMELINE_DAYS - 1)
    first = until - span if until - date.min >= span else date.min
    return [first + timedelta(days=offset) for offset in range((until - first).days + 1)]


def dashboard_queries(
    org_id: int, since: date, until: date, source: str | None
) -> dict[str, tuple[AnySelect, dict[str, Any]]]:
    """The statements and bound values of the dashboard's parts (sentiment, themes, customers, timeline)."""
    with_source = source is not None
    only = {"source": source} if with_source else {}
    window: dict[str, Any] = {"org_id": org_id, "start": _midnight(since), "end": _day_after(until), **only}
    days = timeline_days(until)
    span = {"org_id": org_id, "since": days[0], "until": until, **only}
    return {
        "sentiment": (_sentiment_query(with_source), window),
        "top_themes": (_themes_query(with_source), window),
        "top_customers": (_customers_query(with_source), window),
        "timeline": (_timeline_query(with_source), span),
    }


async def _dashboard(db: Reader, org_id: int, since: date, until: date, source: str | None) -> dict[str, Any]:
    """The sentiment distribution, top themes and customers of the range, and the 30-day timeline."""
    queries = dashboard_queries(org_id, since, until, source)
    sentiment = {str(name): int(count) for name, count in await db.rows(*queries["sentiment"])}
    themes = [{"theme": theme, "mentions": int(count)} for theme, count in await db.rows(*queries["top_themes"])]
    customers = [
        {"id": row[0], "name": row[1], "arr": None if row[2] is None else float(row[2]), "segment": row[3],
         "mentions": int(row[4])}
        for row in await db.rows(*queries["top_customers"])
    ]  # fmt: skip
    days: dict[date, dict[str, int]] = {day: {} for day in timeline_days(until)}
    for day, name, count in await db.rows(*queries["timeline"]):
        moment = day if isinstance(day, date) else date.fromisoformat(str(day))
        days[moment][str(name)] = days[moment].get(str(name), 0) + int(count)
    timeline = [{"day": day, "by_source": dict(sorted(counts.items()))} for day, counts in days.items()]
    # The risk distribution of call intelligence (issue 16, item 5) joins these when it lands.
    return {"sentiment": sentiment, "top_themes": themes, "top_customers": customers, "timeline": timeline}


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _day_after(day: date) -> datetime:
    """The end of `day`, exclusive (the last day a date can hold ends at the last datetime)."""
    return _midnight(day + timedelta(days=1)) if day < date.max else datetime.max.replace(tzinfo=UTC)


@lru_cache(maxsize=1)
def _spend_query() -> Any:
    return select(*SPEND_COLUMNS).where(
        LlmUsage.org_id == bindparam("org_id"),
        LlmUsage.created_at >= bindparam("start"),
        LlmUsage.created_at < bindparam("end"),
    )


RISK_LEVELS = ("low", "medium", "high")
RISK_DIMENSIONS = ("deal_risk", "churn_risk", "expansion_potential")


@lru_cache(maxsize=2)
def _risk_query(with_source: bool) -> Any:
    # Calls per (deal, churn, expansion) combination: a few dozen rows at most, summed here.
    CI = CallInsight.__table__.c  # noqa: N806
    query = select(CI.deal_risk, CI.churn_risk, CI.expansion_potential, func.count().label("calls")).where(
        CI.org_id == bindparam("org_id"), CI.sent_at >= bindparam("start"), CI.sent_at < bindparam("end")
    )
    if with_source:
        query = query.where(CI.source == bindparam("source"))
    return query.group_by(CI.deal_risk, CI.churn_risk, CI.expansion_potential)


async def risk_distribution(db: Reader, org_id: int, since: date, until: date, source: str | None) -> dict[str, Any]:
    """Assessed calls of `[since, until]` counted by deal risk, churn risk and expansion potential level
    (a `RiskDistribution` document)."""
    values: dict[str, Any] = {"org_id": org_id, "start": _midnight(since), "end": _day_after(until)}
    if source is not None:
        values["source"] = source
    counts = {dimension: dict.fromkeys(RISK_LEVELS, 0) for dimension in RISK_DIMENSIONS}
    total = 0
    for *levels, calls in await db.rows(_risk_query(source is not None), values):
        total += calls
        for dimension, level in zip(RISK_DIMENSIONS, levels, strict=True):
            if level in counts[dimension]:
                counts[dimension][level] += calls
    return {"calls": total, **counts}
