"""The notifier: finds each subscription's new signals and posts them to Slack, each at most once.

Called by the `slack_notifications` sensor (new requests, rising requests, high-risk calls, and
every due retry) and the `weekly_digest` schedule (one summary a subscription). Per delivery:
claim its row (committed), post, record the outcome. A failure is recorded on its row and stops
only what it concerns: a rate limit or a missing channel the rest of that channel's posts this
tick, a revoked token the rest of that organisation's; every other channel and organisation
goes on. Reports hold counts and Slack's error codes only, never a title or a message's text.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from headway_assets.core.warehouse import notifications as store
from headway_assets.core.warehouse.database import read_connection, write_transaction
from headway_assets.core.warehouse.ingestion import ConnectionInfo, active_connections
from headway_assets.core.warehouse.notifications import Claim, DeliveryStatus, Signal, SignalKind, Subscription
from headway_assets.core.warehouse.schema import ConnectionKind, utc_now
from headway_assets.sources.slack.notify import (
    FailureScope,
    NoSlackConnectionError,
    PostOutcome,
    SlackPoster,
    poster_for,
    render,
)

# Posts one subscription may make in one tick: a backlog (a first tick, a long outage) drains over
# several ticks instead of flooding the channel and the sensor's time limit.
MAX_POSTS_PER_SUBSCRIPTION = 10
EVENT_KINDS = frozenset({SignalKind.NEW_REQUEST, SignalKind.RISING_REQUEST, SignalKind.HIGH_RISK_CALL})
# Waits before a transient failure's next attempt (a 429 waits what Slack said instead).
RETRY_BACKOFF = timedelta(minutes=1)
MAX_RETRY_BACKOFF = timedelta(hours=1)
# Claims stop after this long, well inside Dagster's 60 s limit on a sensor or schedule evaluation
# (a post may take up to its 15 s timeout); the rest waits for the next tick.
TICK_BUDGET_S = 35.0

PosterFactory = Callable[[ConnectionInfo], SlackPoster]


@dataclass
class NotifyReport:
    """What one tick did, in counts (for the sensor's log and skip reason: no titles, no text)."""

    posted: Counter[str] = field(default_factory=Counter)  # by signal kind
    retrying: int = 0
    failed: Counter[str] = field(default_factory=Counter)  # by Slack error code
    gone: int = 0  # retries whose signal no longer exists
    interrupted: int = 0  # claims found with no outcome (not repeated)
    orgs_without_slack: int = 0
    out_of_time: bool = False  # the tick stopped at its time budget; the next one goes on
    subscriptions: int = 0

    def summary(self) -> str:
        """One line of counts."""
        posted = sum(self.posted.values())
        parts = [f"{self.subscriptions} subscription(s)", f"posted {posted}"]
        if posted:
            parts[-1] += " (" + ", ".join(f"{kind} {count}" for kind, count in sorted(self.posted.items())) + ")"
        if self.retrying:
            parts.append(f"{self.retrying} to retry on a later tick")
        if self.failed:
            detail = ", ".join(f"{code} {count}" for code, count in sorted(self.failed.items()))
            parts.append(f"failed {sum(self.failed.values())} ({detail})")
        if self.gone:
            parts.append(f"{self.gone} retry(ies) dropped: the signal is gone")
        if self.interrupted:
            parts.append(f"{self.interrupted} interrupted post(s) not repeated")
        if self.orgs_without_slack:
            parts.append(f"{self.orgs_without_slack} organisation(s) without a Slack connection wait")
        if self.out_of_time:
            parts.append("stopped at the tick's time budget; the next tick goes on")
        return "; ".join(parts)


class _Tick:
    """One pass over the subscriptions: the posters per organisation and what is blocked."""

    def __init__(self, url: str, api_url: str, poster_factory: PosterFactory, report: NotifyReport) -> None:
        self.url = url
        self.api_url = api_url
        self.poster_factory = poster_factory
        self.report = report
        self.deadline = time.monotonic() + TICK_BUDGET_S
        self.posters: dict[int, SlackPoster | None] = {}
        self.blocked_orgs: set[int] = set()
        with read_connection(url) as conn:
            # A channel that rate-limited a post waits for its Retry-After before anything else goes there.
            self.blocked_channels: set[tuple[int, str]] = store.rate_limited_channels(conn, utc_now())
            connections = [c for c in active_connections(conn, "slack") if c.kind == ConnectionKind.API.value]
        # The first live Slack connection of each organisation that holds credentials posts for it.
        self.connections: dict[int, ConnectionInfo] = {}
        for connection in connections:
            if connection.credentials_encrypted:
                self.connections.setdefault(connection.org_id, connection)

    def poster(self, org_id: int) -> SlackPoster | None:
        if org_id not in self.posters:
            connection = self.connections.get(org_id)
            try:
                self.posters[org_id] = None if connection is None else self.poster_factory(connection)
            except NoSlackConnectionError:
                self.posters[org_id] = None
            if self.posters[org_id] is None:
                self.report.orgs_without_slack += 1
        return self.posters[org_id]

    def open(self, subscription: Subscription) -> bool:
        """Whether `subscription` may post now (its organisation has a poster; nothing blocks it)."""
        if time.monotonic() > self.deadline:
            self.report.out_of_time = True
            return False
        if subscription.org_id in self.blocked_orgs:
            return False
        if (subscription.org_id, subscription.channel_id) in self.blocked_channels:
            return False
        return self.poster(subscription.org_id) is not None

    def deliver(self, subscription: Subscription, signal: Signal, claimed: Claim) -> None:
        """Post a claimed signal and record the outcome (and what it blocks for the rest of the tick)."""
        poster = self.poster(subscription.org_id)
        assert poster is not None  # claims are made only for open subscriptions
        try:
            text, blocks = render(signal, api_url=self.api_url)
            outcome = poster.post(subscription.channel_id, text=text, blocks=blocks)
        except Exception as error:  # one broken signal must not stop the others; recorded, not re-posted
            name = type(error).__name__
            outcome = PostOutcome(False, FailureScope.MESSAGE, code=name, error=f"unexpected error: {name}")
        self.record(subscription, signal.kind, claimed, outcome)

    def record(self, subscription: Subscription, kind: SignalKind, claimed: Claim, outcome: PostOutcome) -> None:
        now = utc_now()
        with write_transaction(self.url) as conn:
            if outcome.ok:
                store.finish(
                    conn, claimed, status=DeliveryStatus.SENT, slack_channel=outcome.channel, slack_ts=outcome.ts
                )
                self.report.posted[kind.value] += 1
                return
            error = outcome.error or "unknown_error"
            code = outcome.code or "unknown_error"
            # A rate limit is always retried (Slack said when); other transient failures MAX_ATTEMPTS times.
            if outcome.retry_after is not None and (outcome.rate_limited or claimed.attempts < store.MAX_ATTEMPTS):
                backoff = min(RETRY_BACKOFF * 2 ** (claimed.attempts - 1), MAX_RETRY_BACKOFF)
                wait = timedelta(seconds=outcome.retry_after)
                store.finish(
                    conn,
                    claimed,
                    status=DeliveryStatus.RETRY,
                    error=error,
                    retry_at=now + (wait if outcome.rate_limited else max(wait, backoff)),
                )
                self.report.retrying += 1
            else:
                if outcome.retry_after is not None:
                    error = f"gave up after {claimed.attempts} attempts: {error}"
                store.finish(conn, claimed, status=DeliveryStatus.FAILED, error=error)
                self.report.failed[code] += 1
        if outcome.scope is FailureScope.WORKSPACE:
            self.blocked_orgs.add(subscription.org_id)
        elif outcome.scope is FailureScope.CHANNEL:
            self.blocked_channels.add((subscription.org_id, subscription.channel_id))

    def retry_due(self, kinds: frozenset[SignalKind]) -> None:
        """Post every due retry of `kinds` whose channel is open."""
        now = utc_now()
        with read_connection(self.url) as conn:
            retries = [retry for retry in store.due_retries(conn, now) if retry.kind in kinds]
            subscriptions = {s.id: s for s in store.active_subscriptions(conn)}
        for retry in retries:
            subscription = subscriptions.get(retry.subscription_id)
            if subscription is None or not self.open(subscription):
                continue  # an inactive subscription's retries wait for it to be active again
            with write_transaction(self.url) as conn:
                claimed = store.claim_retry(conn, retry, now)
                if claimed is None:
                    continue  # another tick took it
                signal = store.rebuild_signal(conn, subscription, retry.kind, retry.signal_key)
                if signal is None:
                    store.finish(conn, claimed, status=DeliveryStatus.FAILED, error="gone: the signal no longer exists")
                    self.report.gone += 1
                    continue
            self.deliver(subscription, signal, claimed)

    def post_fresh(self, subscription: Subscription, signals: list[Signal]) -> None:
        """Claim and post `signals` of one subscription, while it stays open."""
        for signal in signals:
            if not self.open(subscription):
                return
            with write_transaction(self.url) as conn:
                claimed = store.claim(conn, subscription, signal)
            if claimed is not None:
                self.deliver(subscription, signal, claimed)


def deliver_signals(
    url: str,
    *,
    api_url: str,
    poster_factory: PosterFactory = poster_for,
    max_per_subscription: int = MAX_POSTS_PER_SUBSCRIPTION,
) -> NotifyReport:
    """One tick of the notifier: due retries, then each subscription's new signals (see the module)."""
    report = NotifyReport()
    with write_transaction(url) as conn:
        report.interrupted = store.expire_stale_sending(conn, utc_now())
    tick = _Tick(url, api_url, poster_factory, report)
    tick.retry_due(frozenset(SignalKind))
    with read_connection(url) as conn:
        subscriptions = store.active_subscriptions(conn, EVENT_KINDS)
    report.subscriptions = len(subscriptions)
    for subscription in subscriptions:
        if not tick.open(subscription):
            continue
        with read_connection(url) as conn:
            signals: list[Signal] = []
            for kind in (SignalKind.NEW_REQUEST, SignalKind.RISING_REQUEST):
                if kind in subscription.kinds:
                    signals += store.request_signals(conn, subscription, kind, max_per_subscription)
            if SignalKind.HIGH_RISK_CALL in subscription.kinds:
                signals += store.call_signals(conn, subscription, max_per_subscription)
        tick.post_fresh(subscription, signals[:max_per_subscription])
    return report


def deliver_digests(url: str, *, week: str, api_url: str, poster_factory: PosterFactory = poster_for) -> NotifyReport:
    """Post the weekly digest `week` (`2026-W49`) to every subscription that wants one, once each."""
    report = NotifyReport()
    tick = _Tick(url, api_url, poster_factory, report)
    with read_connection(url) as conn:
        subscriptions = store.active_subscriptions(conn, frozenset({SignalKind.WEEKLY_DIGEST}))
    report.subscriptions = len(subscriptions)
    for subscription in subscriptions:
        if not tick.open(subscription):
            continue
        with read_connection(url) as conn:
            signal = store.digest_signal(conn, subscription, week)
        tick.post_fresh(subscription, [signal])
    return report


def digest_week(moment: datetime) -> str:
    """The ISO week a digest sent at `moment` is named after."""
    return store.iso_week(moment)
