"""Telling the team: Slack channel subscriptions per theme, the signals they hear, and the record of posts.

A subscription names a Slack channel of an organisation, a theme (or every theme) and which
signals it hears. The signals are read from the catalogue as it stands:

- `new_request`: a feature request whose catalogue trend is `new` (first mentioned within the
  7 days before the organisation's latest mention, `request_stats.trend_of`), keyed by the
  request's stable `key`, so each is announced once per subscription however often the
  catalogue is rebuilt;
- `rising_request`: a request whose trend is `rising` (its last 7 days at least twice the 7
  before), keyed by the request and the ISO week it rose in: told once a week at most;
- `high_risk_call`: a Gong or Fathom call the call intelligence scored high for deal or churn
  risk (`high_risk_calls`, from `call_insights`);
- `weekly_digest`: one summary a subscription a week.

`notification_deliveries` holds one row per (subscription, kind, signal key). The row is
inserted before the post (`claim`): whoever inserts it owns the post, so re-runs, retries and
concurrent ticks post a signal at most once. A rate-limited or transiently failed post goes to
`retry` with a `retry_at` and is claimed again by a later tick; a post whose outcome is unknown
(the process died between claim and answer) is never repeated.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, exists, func, insert, or_, select, update

from headway_assets.core.warehouse.corrections import CorrectionError
from headway_assets.core.warehouse.customers import dialect_insert
from headway_assets.core.warehouse.request_stats import TREND_DAYS, org_as_of
from headway_assets.core.warehouse.schema import (
    CallInsight,
    FeatureMention,
    FeatureRequest,
    Message,
    NotificationDelivery,
    NotificationSubscription,
    Organization,
    Theme,
    utc_now,
)


class SignalKind(enum.StrEnum):
    """What a delivery announces."""

    NEW_REQUEST = "new_request"
    RISING_REQUEST = "rising_request"
    HIGH_RISK_CALL = "high_risk_call"
    WEEKLY_DIGEST = "weekly_digest"


class DeliveryStatus(enum.StrEnum):
    """Where a delivery is."""

    SENDING = "sending"  # claimed; the post is under way
    SENT = "sent"
    RETRY = "retry"  # rate-limited or a transient failure: a later tick tries again after `retry_at`
    FAILED = "failed"  # not posted and not tried again; `error` says why


# The subscription's flags, as the API names them, and the signal kind each lets through.
SIGNAL_FLAGS: dict[str, SignalKind] = {
    "new_requests": SignalKind.NEW_REQUEST,
    "rising_requests": SignalKind.RISING_REQUEST,
    "high_risk_calls": SignalKind.HIGH_RISK_CALL,
    "weekly_digest": SignalKind.WEEKLY_DIGEST,
}
FLAG_OF_KIND: dict[SignalKind, str] = {kind: flag for flag, kind in SIGNAL_FLAGS.items()}
# A Slack conversation id: public (C...) or private (G...) channel.
CHANNEL_ID_PATTERN = re.compile(r"^[CG][A-Z0-9]{8,20}$")
MAX_SUBSCRIPTIONS = 100  # per organisation: the API lists them in one page
MAX_ATTEMPTS = 5  # posts of one signal before a transient failure is final
# A claimed delivery older than this with no outcome: the process died mid-post.
STALE_SENDING = timedelta(minutes=15)
HIGH = "high"
RATE_LIMITED = "ratelimited"  # how a rate-limited delivery's error begins

NS = NotificationSubscription.__table__.c
ND = NotificationDelivery.__table__.c
FR = FeatureRequest.__table__.c


# --- Subscriptions --------------------------------------------------------------------------


def subscription_document(row: Any) -> dict[str, Any]:
    """A subscription row as the API shows it (a `NotificationSubscription` document)."""
    values = dict(row._mapping) if hasattr(row, "_mapping") else dict(row)
    return {
        "id": values["id"],
        "theme": values["theme"],
        "channel_id": values["channel_id"],
        "signals": [flag for flag in SIGNAL_FLAGS if values[flag]],
        "is_active": bool(values["is_active"]),
        "created_by": values["created_by"],
        "created_at": values["created_at"],
        "updated_at": values["updated_at"],
    }


def _subscription_row(conn: Connection, org_id: int, subscription_id: int) -> Any:
    return conn.execute(select(NotificationSubscription).where(NS.org_id == org_id, NS.id == subscription_id)).first()


def list_subscriptions(conn: Connection, org_id: int) -> list[dict[str, Any]]:
    """The organisation's subscriptions, oldest first."""
    rows = conn.execute(select(NotificationSubscription).where(NS.org_id == org_id).order_by(NS.id))
    return [subscription_document(row) for row in rows]


def get_subscription(conn: Connection, org_id: int, subscription_id: int) -> dict[str, Any] | None:
    """One subscription of the organisation, or None (another organisation's is None too)."""
    row = _subscription_row(conn, org_id, subscription_id)
    return None if row is None else subscription_document(row)


def _invalid(field_name: str, message: str) -> CorrectionError:
    return CorrectionError(400, "invalid_value", message, field_name)


def _checked(conn: Connection, org_id: int, changes: dict[str, Any]) -> dict[str, Any]:
    """Column values for `changes` (theme, channel_id, signals, is_active), or a CorrectionError."""
    values: dict[str, Any] = {}
    if "theme" in changes:
        theme = changes["theme"]
        if theme is not None:
            theme = str(theme).strip().strip("/") or None
        if theme is not None:
            known = conn.execute(select(Theme.id).where(Theme.org_id == org_id, Theme.path == theme)).first()
            if known is None:
                raise _invalid(
                    "theme", f"theme {theme[:200]!r} is not in your organisation's taxonomy (GET /v1/themes)"
                )
        values["theme"] = theme
    if "channel_id" in changes:
        channel = str(changes["channel_id"] or "").strip()
        if not CHANNEL_ID_PATTERN.match(channel):
            raise _invalid(
                "channel_id",
                "channel_id is a Slack channel id such as C0123456789 (channel details > About), not a name",
            )
        values["channel_id"] = channel
    if "signals" in changes:
        signals = changes["signals"]
        if signals is None or not signals:
            raise _invalid("signals", f"name at least one signal: {', '.join(SIGNAL_FLAGS)}")
        unknown = sorted({str(name) for name in signals} - set(SIGNAL_FLAGS))
        if unknown:
            raise _invalid("signals", f"unknown signal {unknown[0][:40]!r}; known: {', '.join(SIGNAL_FLAGS)}")
        values |= {flag: flag in signals for flag in SIGNAL_FLAGS}
    if "is_active" in changes:
        if changes["is_active"] is None:
            raise _invalid("is_active", "is_active is true or false")
        values["is_active"] = bool(changes["is_active"])
    return values


def _check_duplicate(conn: Connection, org_id: int, subscription_id: int | None, values: dict[str, Any]) -> None:
    """409 when another subscription of the organisation has the same channel and theme."""
    theme = values["theme"]
    duplicate = conn.execute(
        select(NS.id).where(
            NS.org_id == org_id,
            NS.channel_id == values["channel_id"],
            NS.theme.is_(None) if theme is None else NS.theme == theme,
            NS.id != (subscription_id or 0),
        )
    ).scalar()
    if duplicate is not None:
        raise CorrectionError(
            409,
            "conflict",
            f"subscription {duplicate} already sends this theme to this channel; change its signals instead",
            "channel_id",
        )


def create_subscription(conn: Connection, org_id: int, actor: str, body: dict[str, Any]) -> dict[str, Any]:
    """Create a subscription (every signal unless `signals` says otherwise); it as a document."""
    values = _checked(conn, org_id, {"theme": None, "signals": list(SIGNAL_FLAGS), "is_active": True, **body})
    _check_duplicate(conn, org_id, None, values)
    held = conn.execute(select(func.count()).where(NS.org_id == org_id)).scalar_one()
    if held >= MAX_SUBSCRIPTIONS:
        raise CorrectionError(409, "conflict", f"an organisation has at most {MAX_SUBSCRIPTIONS} subscriptions")
    now = utc_now()
    subscription_id = conn.execute(
        insert(NotificationSubscription)
        .values(values | {"org_id": org_id, "created_by": actor, "created_at": now, "updated_at": now})
        .returning(NS.id)
    ).scalar_one()
    return subscription_document(_subscription_row(conn, org_id, subscription_id))


def update_subscription(conn: Connection, org_id: int, subscription_id: int, changes: dict[str, Any]) -> dict[str, Any]:
    """Change a subscription's theme, channel, signals or active flag; it as a document."""
    row = _subscription_row(conn, org_id, subscription_id)
    if row is None:
        raise CorrectionError(404, "not_found", "Subscription not found.")
    values = _checked(conn, org_id, changes)
    merged = {"theme": row.theme, "channel_id": row.channel_id} | values
    _check_duplicate(conn, org_id, subscription_id, merged)
    if values:
        conn.execute(
            update(NotificationSubscription).where(NS.id == subscription_id).values(values | {"updated_at": utc_now()})
        )
    return subscription_document(_subscription_row(conn, org_id, subscription_id))


def delete_subscription(conn: Connection, org_id: int, subscription_id: int) -> dict[str, Any]:
    """Delete a subscription and its delivery record; it as it was, as a document."""
    row = _subscription_row(conn, org_id, subscription_id)
    if row is None:
        raise CorrectionError(404, "not_found", "Subscription not found.")
    # SQLite enforces no foreign keys unless asked: delete the rows the cascade deletes on PostgreSQL.
    conn.execute(delete(NotificationDelivery).where(ND.subscription_id == subscription_id))
    conn.execute(delete(NotificationSubscription).where(NS.org_id == org_id, NS.id == subscription_id))
    return subscription_document(row)


# --- Signals --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Subscription:
    """An active subscription of an active organisation, as the notifier reads it."""

    id: int
    org_id: int
    org_slug: str
    theme: str | None
    channel_id: str
    kinds: frozenset[SignalKind]


@dataclass(frozen=True)
class Signal:
    """One thing to tell a channel; `key` identifies it for at-most-once delivery."""

    kind: SignalKind
    key: str
    title: str
    theme: str | None = None
    request_id: int | None = None
    message_id: int | None = None
    facts: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class HighRiskCall:
    """A call the call intelligence scored high for deal or churn risk."""

    message_id: int
    title: str
    source: str
    customer: str | None
    sent_at: datetime
    deal_risk: str | None
    churn_risk: str | None


def active_subscriptions(conn: Connection, kinds: frozenset[SignalKind] | None = None) -> list[Subscription]:
    """Every active subscription of every active organisation, hearing any of `kinds` (all when None)."""
    rows = conn.execute(
        select(NotificationSubscription, Organization.slug)
        .join(Organization, Organization.id == NS.org_id)
        .where(NS.is_active.is_(True), Organization.is_active.is_(True))
        .order_by(NS.org_id, NS.id)
    )
    found = []
    for row in rows:
        heard = frozenset(kind for flag, kind in SIGNAL_FLAGS.items() if getattr(row, flag))
        if kinds is not None and not heard & kinds:
            continue
        found.append(Subscription(row.id, row.org_id, row.slug, row.theme, row.channel_id, heard))
    return found


def _theme_filter(theme: str | None) -> Any:
    """Requests of the subscription's theme: a theme path matches `theme`, a sub-theme path `sub_theme`."""
    if theme is None:
        return None
    return FR.sub_theme == theme if "/" in theme else FR.theme == theme


def iso_week(moment: datetime) -> str:
    """`2026-W49`: the ISO week of `moment` (UTC)."""
    year, week, _ = moment.astimezone(UTC).isocalendar()
    return f"{year}-W{week:02d}"


_REQUEST_COLUMNS = (
    FR.id, FR.key, FR.title, FR.theme, FR.sub_theme, FR.mention_count, FR.customer_count, FR.mentions_last_7d,
    FR.mentions_prev_7d, FR.trend, FR.first_seen, FR.last_seen,
)  # fmt: skip


def _request_signal(kind: SignalKind, row: Any, key: str) -> Signal:
    return Signal(
        kind=kind,
        key=key,
        title=row.title,
        theme=row.sub_theme or row.theme,
        request_id=row.id,
        facts={
            "mentions": int(row.mention_count),
            "customers": int(row.customer_count),
            "last_7d": int(row.mentions_last_7d),
            "prev_7d": int(row.mentions_prev_7d),
            "first_seen": row.first_seen,
        },
    )


def _not_delivered(subscription_id: int, kind: SignalKind, key: Any) -> Any:
    return ~exists().where(ND.subscription_id == subscription_id, ND.kind == kind.value, ND.signal_key == key)


def request_signals(conn: Connection, subscription: Subscription, kind: SignalKind, limit: int) -> list[Signal]:
    """New or rising requests of the subscription's theme that it has not been told about, oldest first."""
    trend = "new" if kind is SignalKind.NEW_REQUEST else "rising"
    suffix = "" if kind is SignalKind.NEW_REQUEST else "@" + iso_week(org_as_of(conn, subscription.org_id))
    key = FR.key + suffix if suffix else FR.key
    query = select(*_REQUEST_COLUMNS).where(
        FR.org_id == subscription.org_id,
        FR.merged_into_id.is_(None),
        FR.mention_count > 0,
        FR.trend == trend,
        _not_delivered(subscription.id, kind, key),
    )
    theme = _theme_filter(subscription.theme)
    if theme is not None:
        query = query.where(theme)
    rows = conn.execute(query.order_by(FR.first_seen, FR.id).limit(limit))
    return [_request_signal(kind, row, row.key + suffix) for row in rows]


def high_risk_calls(
    conn: Connection, org_id: int, theme: str | None, *, since: datetime, limit: int, message_id: int | None = None
) -> list[HighRiskCall]:
    """Calls of `org_id` since `since` scored high for deal or churn risk, touching `theme` (any when None).

    Reads the call intelligence's `call_insights` (issue 16, item 5). A call touches a theme when
    one of its feature mentions is of that theme or sub-theme. `message_id` narrows it to one call.
    """
    risks = CallInsight.__table__.c
    query = (
        select(
            Message.id,
            Message.title,
            Message.source,
            Message.customer,
            Message.sent_at,
            risks.deal_risk,
            risks.churn_risk,
        )
        .join(Message, Message.id == risks.message_id)
        .where(
            risks.org_id == org_id,
            Message.org_id == org_id,
            Message.sent_at >= since,
            or_(risks.deal_risk == HIGH, risks.churn_risk == HIGH),
        )
    )
    if theme is not None:
        matches = FeatureMention.sub_theme == theme if "/" in theme else FeatureMention.theme == theme
        query = query.where(exists().where(FeatureMention.message_id == Message.id, matches))
    if message_id is not None:
        query = query.where(Message.id == message_id)
    rows = conn.execute(query.order_by(Message.sent_at, Message.id).limit(limit))
    return [
        HighRiskCall(row.id, row.title or f"{row.source} call", row.source, row.customer, row.sent_at,
                     row.deal_risk, row.churn_risk)
        for row in rows
    ]  # fmt: skip


def _call_signal(call: HighRiskCall) -> Signal:
    return Signal(
        kind=SignalKind.HIGH_RISK_CALL,
        key=f"message:{call.message_id}",
        title=call.title,
        message_id=call.message_id,
        facts={
            "source": call.source,
            "customer": call.customer,
            "sent_at": call.sent_at,
            "deal_risk": call.deal_risk,
            "churn_risk": call.churn_risk,
        },
    )


def call_signals(conn: Connection, subscription: Subscription, limit: int) -> list[Signal]:
    """High-risk calls of the last 7 days (before the org's latest mention) not yet told to the subscription."""
    since = org_as_of(conn, subscription.org_id) - timedelta(days=TREND_DAYS)
    delivered = _delivered_keys(conn, subscription.id, SignalKind.HIGH_RISK_CALL)
    # The key is built here, not in SQL: read a week of calls and drop the ones already told.
    calls = high_risk_calls(conn, subscription.org_id, subscription.theme, since=since, limit=limit + len(delivered))
    return [signal for signal in map(_call_signal, calls) if signal.key not in delivered][:limit]


def _delivered_keys(conn: Connection, subscription_id: int, kind: SignalKind) -> set[str]:
    return set(
        conn.execute(
            select(ND.signal_key).where(ND.subscription_id == subscription_id, ND.kind == kind.value)
        ).scalars()
    )


def digest_signal(conn: Connection, subscription: Subscription, week: str, top: int = 5) -> Signal:
    """The weekly summary of the subscription's theme: counts of new and rising requests, the top asks."""
    base = [FR.org_id == subscription.org_id, FR.merged_into_id.is_(None), FR.mention_count > 0]
    theme = _theme_filter(subscription.theme)
    if theme is not None:
        base.append(theme)
    counts = {
        trend: int(conn.execute(select(func.count()).where(*base, FR.trend == trend)).scalar_one())
        for trend in ("new", "rising")
    }
    top_rows = conn.execute(
        select(*_REQUEST_COLUMNS)
        .where(*base, FR.mentions_last_7d > 0)
        .order_by(FR.mentions_last_7d.desc(), FR.customer_count.desc(), FR.id)
        .limit(top)
    ).all()
    since = org_as_of(conn, subscription.org_id) - timedelta(days=TREND_DAYS)
    calls = high_risk_calls(conn, subscription.org_id, subscription.theme, since=since, limit=1000)
    return Signal(
        kind=SignalKind.WEEKLY_DIGEST,
        key=week,
        title=f"Weekly digest {week}",
        theme=subscription.theme,
        facts={
            "new": counts["new"],
            "rising": counts["rising"],
            "high_risk_calls": len(calls),
            "top": [
                {
                    "id": row.id,
                    "title": row.title,
                    "last_7d": int(row.mentions_last_7d),
                    "customers": int(row.customer_count),
                }
                for row in top_rows
            ],
        },
    )


def rebuild_signal(conn: Connection, subscription: Subscription, kind: SignalKind, key: str) -> Signal | None:
    """The signal of a delivery to retry, as the catalogue has it now; None when it is gone."""
    if kind is SignalKind.WEEKLY_DIGEST:
        return digest_signal(conn, subscription, key)
    if kind is SignalKind.HIGH_RISK_CALL:
        since = datetime.min.replace(tzinfo=UTC)
        calls = high_risk_calls(
            conn, subscription.org_id, None, since=since, limit=1, message_id=int(key.removeprefix("message:"))
        )
        return _call_signal(calls[0]) if calls else None
    request_key = key.rpartition("@")[0] if kind is SignalKind.RISING_REQUEST else key
    row = conn.execute(
        select(*_REQUEST_COLUMNS).where(
            FR.org_id == subscription.org_id, FR.key == request_key, FR.merged_into_id.is_(None)
        )
    ).first()
    return None if row is None else _request_signal(kind, row, key)


# --- Deliveries -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    """A delivery this process owns: it posts, then records the outcome."""

    delivery_id: int
    attempts: int


def claim(conn: Connection, subscription: Subscription, signal: Signal) -> Claim | None:
    """Own the delivery of `signal` to `subscription` (insert its row), or None when it is another's.

    Commit before posting: the unique key then turns every concurrent or later claim away.
    """
    now = utc_now()
    statement = (
        dialect_insert(conn, NotificationDelivery)
        .values(
            org_id=subscription.org_id,
            subscription_id=subscription.id,
            kind=signal.kind.value,
            signal_key=signal.key,
            status=DeliveryStatus.SENDING.value,
            attempts=1,
            slack_channel=subscription.channel_id,
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=["subscription_id", "kind", "signal_key"])
        .returning(ND.id)
    )
    delivery_id = conn.execute(statement).scalar()
    return None if delivery_id is None else Claim(int(delivery_id), 1)


@dataclass(frozen=True)
class DueRetry:
    """A delivery waiting for a later tick: rate-limited, or failed transiently."""

    delivery_id: int
    subscription_id: int
    kind: SignalKind
    signal_key: str
    attempts: int


def due_retries(conn: Connection, now: datetime) -> list[DueRetry]:
    """Deliveries in `retry` whose `retry_at` has passed, oldest first."""
    rows = conn.execute(
        select(ND.id, ND.subscription_id, ND.kind, ND.signal_key, ND.attempts)
        .where(ND.status == DeliveryStatus.RETRY.value, ND.retry_at <= now)
        .order_by(ND.retry_at, ND.id)
    )
    return [DueRetry(row.id, row.subscription_id, SignalKind(row.kind), row.signal_key, row.attempts) for row in rows]


def rate_limited_channels(conn: Connection, now: datetime) -> set[tuple[int, str]]:
    """(org, channel) pairs with a rate-limited delivery still waiting: nothing else is posted there yet."""
    rows = conn.execute(
        select(ND.org_id, ND.slack_channel)
        .where(ND.status == DeliveryStatus.RETRY.value, ND.retry_at > now, ND.error.like(RATE_LIMITED + "%"))
        .distinct()
    )
    return {(row.org_id, row.slack_channel) for row in rows}


def claim_retry(conn: Connection, retry: DueRetry, now: datetime) -> Claim | None:
    """Own a due retry (compare-and-set on its status and attempts), or None when another tick took it."""
    taken = conn.execute(
        update(NotificationDelivery)
        .where(
            ND.id == retry.delivery_id,
            ND.status == DeliveryStatus.RETRY.value,
            ND.attempts == retry.attempts,
            ND.retry_at <= now,
        )
        .values(status=DeliveryStatus.SENDING.value, attempts=retry.attempts + 1, updated_at=now)
    ).rowcount
    return Claim(retry.delivery_id, retry.attempts + 1) if taken == 1 else None


def finish(
    conn: Connection,
    claimed: Claim,
    *,
    status: DeliveryStatus,
    error: str | None = None,
    retry_at: datetime | None = None,
    slack_channel: str | None = None,
    slack_ts: str | None = None,
) -> None:
    """Record the outcome of a claimed delivery."""
    values: dict[str, Any] = {
        "status": status.value,
        "error": None if error is None else error[:500],
        "retry_at": retry_at,
        "updated_at": utc_now(),
    }
    if slack_ts is not None:
        values |= {"slack_ts": slack_ts, "slack_channel": slack_channel}
    conn.execute(
        update(NotificationDelivery)
        .where(ND.id == claimed.delivery_id, ND.status == DeliveryStatus.SENDING.value)
        .values(values)
    )


def expire_stale_sending(conn: Connection, now: datetime) -> int:
    """Mark deliveries claimed long ago with no outcome as failed (never re-posted: at most once)."""
    return int(
        conn.execute(
            update(NotificationDelivery)
            .where(ND.status == DeliveryStatus.SENDING.value, ND.updated_at < now - STALE_SENDING)
            .values(
                status=DeliveryStatus.FAILED.value,
                error="interrupted: the post's outcome is unknown, so it is not repeated (at most once)",
                updated_at=now,
            )
        ).rowcount
    )
