"""Call intelligence: the list of assessed calls, one call with its reasons, and a customer's health."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import bindparam, func, select

from headway_api.db import Reader
from headway_api.pagination import AnySelect, SortKey, page_document, page_of, page_params, paginate
from headway_api.schemas.calls import CallListParams
from headway_assets.core.warehouse.schema import CallInsight, Customer, CustomerHealth, Message, MessageAuthor

CI = CallInsight.__table__.c
M = Message.__table__.c
MA = MessageAuthor.__table__.c
C = Customer.__table__.c
H = CustomerHealth.__table__.c
LEVELS = ("low", "medium", "high")
DIMENSIONS = ("deal_risk", "churn_risk", "expansion_potential")
CALL_SORT = SortKey("-sent_at", (CI.sent_at, CI.message_id), ("datetime", "int"), descending=True, listing="calls")
_CONDITIONS: dict[str, Any] = {
    "deal_risk": lambda: CI.deal_risk == bindparam("deal_risk"),
    "churn_risk": lambda: CI.churn_risk == bindparam("churn_risk"),
    "expansion_potential": lambda: CI.expansion_potential == bindparam("expansion_potential"),
    "customer_id": lambda: MA.customer_id == bindparam("customer_id"),
    "source": lambda: CI.source == bindparam("source"),
    "since": lambda: CI.sent_at >= bindparam("since"),
    "until": lambda: CI.sent_at < bindparam("until"),
}
_SUMMARY = (
    CI.message_id.label("id"),
    CI.source,
    M.title,
    CI.sent_at,
    M.url,
    C.id.label("customer_id"),
    C.name.label("customer_name"),
    CI.deal_risk,
    CI.churn_risk,
    CI.expansion_potential,
)


def _from() -> Any:
    # The customer through the call's resolved author, when it (still) exists and is the org's.
    return (
        CallInsight.__table__.join(Message.__table__, M.id == CI.message_id)
        .outerjoin(MessageAuthor.__table__, MA.message_id == CI.message_id)
        .outerjoin(Customer.__table__, (C.id == MA.customer_id) & (C.org_id == CI.org_id))
    )


@lru_cache(maxsize=128)
def _list_statement(shape: tuple[str, ...], with_cursor: bool) -> AnySelect:
    query = select(*_SUMMARY).select_from(_from()).where(CI.org_id == bindparam("org_id"))
    for name in shape:
        query = query.where(_CONDITIONS[name]())
    return paginate(query, CALL_SORT, with_cursor=with_cursor)


async def list_calls(db: Reader, org_id: int, params: CallListParams) -> dict[str, Any]:
    """One page of the organisation's assessed calls, newest first, filtered."""
    filters = params.filters()
    statement = _list_statement(tuple(sorted(filters)), params.cursor is not None)
    rows = await db.dicts(
        statement, {"org_id": org_id, **filters, **page_params(CALL_SORT, params.cursor, params.limit)}
    )
    page, next_cursor = page_of(rows, CALL_SORT, params.limit, key_of=lambda row: (row["sent_at"], row["id"]))
    return page_document(page, next_cursor)


_ONE = (
    select(*_SUMMARY, CI.reasons, CI.next_steps, CI.provider, CI.model, CI.prompt_version, CI.created_at)
    .select_from(_from())
    .where(CI.org_id == bindparam("org_id"), CI.message_id == bindparam("call_id"))
)


async def get_call(db: Reader, org_id: int, call_id: int) -> dict[str, Any] | None:
    """One assessed call with its reasons and next steps (a `CallDetail`); None if not the org's."""
    row = await db.dict_or_none(_ONE, {"org_id": org_id, "call_id": call_id})
    if row is None:
        return None
    reasons = row.pop("reasons") or {}
    steps = (row.pop("next_steps") or {}).get("steps", [])
    row["assessed_at"] = row.pop("created_at")
    return row | {"reasons": {dimension: reasons.get(dimension, []) for dimension in DIMENSIONS}, "next_steps": steps}


_CUSTOMER = select(C.id).where(C.org_id == bindparam("org_id"), C.id == bindparam("customer_id"))
_HEALTH = (
    select(
        H.day,
        H.score,
        H.calls,
        H.deal_risk,
        H.churn_risk,
        H.expansion_potential,
        H.messages_positive,
        H.messages_neutral,
        H.messages_negative,
    )
    .where(
        H.org_id == bindparam("org_id"),
        H.customer_id == bindparam("customer_id"),
        H.day >= bindparam("since"),
        H.day <= bindparam("until"),
    )
    .order_by(H.day)
)
_CUSTOMER_LEVELS = [
    select(getattr(CI, dimension).label("level"), func.count().label("calls"))
    .select_from(CallInsight.__table__.join(MessageAuthor.__table__, MA.message_id == CI.message_id))
    .where(
        CI.org_id == bindparam("org_id"),
        MA.customer_id == bindparam("customer_id"),
        CI.sent_at >= bindparam("start"),
        CI.sent_at < bindparam("end"),
    )
    .group_by(getattr(CI, dimension))
    for dimension in DIMENSIONS
]


def _rank(level: str | None) -> int:
    return LEVELS.index(level) if level in LEVELS else -1


def _weekly(days: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Days folded into ISO weeks: the mean score, summed counts, the worst risks and best expansion."""
    weeks: dict[date, list[dict[str, Any]]] = defaultdict(list)
    for day in days:
        weeks[day["period_start"] - timedelta(days=day["period_start"].weekday())].append(day)
    points = []
    for start, members in sorted(weeks.items()):
        point: dict[str, Any] = {
            "period_start": start,
            "score": round(sum(m["score"] for m in members) / len(members), 1),
        }
        point["calls"] = sum(m["calls"] for m in members)
        for dimension in DIMENSIONS:
            point[dimension] = max((m[dimension] for m in members), key=_rank)
        for count in ("messages_positive", "messages_neutral", "messages_negative"):
            point[count] = sum(m[count] for m in members)
        points.append(point)
    return points


async def customer_health(
    db: Reader, org_id: int, customer_id: int, since: date, until: date, interval: str
) -> dict[str, Any] | None:
    """A customer's call risks and health over `[since, until]` (a `CustomerHealth`); None if not the org's."""
    values: dict[str, Any] = {"org_id": org_id, "customer_id": customer_id}
    if await db.dict_or_none(_CUSTOMER, values) is None:
        return None
    days = []
    for row in await db.dicts(_HEALTH, values | {"since": since, "until": until}):
        day = row.pop("day")
        days.append({"period_start": day if isinstance(day, date) else date.fromisoformat(str(day)), **row})
    points = _weekly(days) if interval == "week" else days
    window = values | {"start": _midnight(since), "end": _day_after(until)}
    levels: dict[str, dict[str, int]] = {}
    for dimension, statement in zip(DIMENSIONS, _CUSTOMER_LEVELS, strict=True):
        counts = dict.fromkeys(LEVELS, 0)
        for row in await db.dicts(statement, window):
            if row["level"] in counts:
                counts[row["level"]] = int(row["calls"])
        levels[dimension] = counts
    return {
        "customer_id": customer_id,
        "since": since,
        "until": until,
        "interval": interval,
        "latest_score": points[-1]["score"] if points else None,
        "calls": sum(levels["deal_risk"].values()),
        **levels,
        "points": points,
    }


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _day_after(day: date) -> datetime:
    """The end of `day`, exclusive (the last day a date can hold ends at the last datetime)."""
    return _midnight(day + timedelta(days=1)) if day < date.max else datetime.max.replace(tzinfo=UTC)
