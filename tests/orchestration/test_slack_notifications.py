"""Slack notifications through Dagster's own test APIs, against the fake Slack server, on SQLite and PostgreSQL.

The `slack_notifications` sensor posts each subscription's new and rising requests once (two
ticks post once; concurrent ticks post once); `channel_not_found`, a 429 with a fractional
`Retry-After` and a revoked token are each recorded on their delivery without stopping the
others, and the rate-limited post goes out on a later tick; the `weekly_digest` schedule posts
one digest per subscription and week; a call the call intelligence scored high risk is posted once,
to the subscriptions of its themes.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg
import pytest
from cryptography.fernet import Fernet
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import insert, select, update

from headway_assets.core.credentials import KEY_ENV
from headway_assets.core.warehouse import notifications as store
from headway_assets.core.warehouse.database import read_connection, write_transaction
from headway_assets.core.warehouse.schema import (
    CallInsight,
    ConnectionKind,
    FeatureMention,
    FeatureRequest,
    Message,
    NotificationDelivery,
    Theme,
)
from headway_assets.core.warehouse.tenants import store_credentials, upsert_connection, upsert_organization
from headway_assets.demo import SlackWorkspace
from headway_assets.orchestration.notifications import deliver_signals
from headway_assets.orchestration.schedules import weekly_digest
from headway_assets.orchestration.sensors import slack_notifications
from headway_assets.resources.warehouse import WarehouseResource
from headway_assets.testing.fakes.slack_server import FakeSlackServer

API_URL = "https://headway.example"
PRODUCT, ROADMAP, GONE = "C0PRODUCT01", "C0ROADMAP01", "C0GONE00001"
ACME_TOKEN, GLOBEX_TOKEN = "xoxb-acme-bot", "xoxb-globex-bot"
NOW = datetime.now(UTC)
SECRET_TITLE_WORD = "Zanzibar"  # in every request title: must reach Slack, never a log


def _workspace() -> SlackWorkspace:
    channels = [
        {"id": channel, "name": name, "is_channel": True, "is_private": False, "is_archived": False}
        for channel, name in ((PRODUCT, "product"), (ROADMAP, "roadmap"), (GONE, "old-feedback"))
    ]
    return SlackWorkspace("T0ACME", "Acme", "https://acme.slack.example", channels, [], {}, {}, {})


@dataclass
class World:
    url: str
    slack: FakeSlackServer
    orgs: dict[str, int]
    requests: dict[str, int]  # title tag -> request id


def _request(org_id: int, tag: str, theme: str, trend: str, last_7d: int = 1, prev_7d: int = 0) -> dict[str, Any]:
    first_seen = NOW - (timedelta(days=2) if trend == "new" else timedelta(days=40))
    return {
        "org_id": org_id,
        "key": f"key-{org_id}-{tag}",
        "title": f"{SECRET_TITLE_WORD} {tag}",
        "description": "an ask",
        "kind": "feature_request",
        "theme": theme.split("/")[0],
        "sub_theme": theme if "/" in theme else None,
        "mention_count": last_7d + prev_7d + 1,
        "customer_count": 2,
        "customers": {"names": ["Initech"]},
        "sources": {"slack": 1},
        "first_seen": first_seen,
        "last_seen": NOW - timedelta(hours=1),
        "mentions_last_7d": last_7d,
        "mentions_prev_7d": prev_7d,
        "trend": trend,
    }


@pytest.fixture
def world(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    """Two organisations with a live Slack connection each (one workspace fake), themes and requests."""
    monkeypatch.setenv(KEY_ENV, Fernet.generate_key().decode())
    monkeypatch.setenv("HEADWAY_API_PUBLIC_URL", API_URL)
    with FakeSlackServer(_workspace(), bot_token=ACME_TOKEN) as slack:
        slack.add_token(GLOBEX_TOKEN)
        orgs: dict[str, int] = {}
        requests: dict[str, int] = {}
        with write_transaction(database_url) as conn:
            for slug, token in (("acme", ACME_TOKEN), ("globex", GLOBEX_TOKEN)):
                org_id = orgs[slug] = upsert_organization(conn, slug=slug, name=slug.title())
                for path in ("reporting", "integrations", "security", "reporting/pdf-export"):
                    conn.execute(insert(Theme).values(org_id=org_id, path=path, name=path, keywords={}))
                connection = upsert_connection(
                    conn,
                    org_id=org_id,
                    source="slack",
                    name="workspace",
                    kind=ConnectionKind.API,
                    config={"base_url": slack.api_url},
                )
                store_credentials(conn, connection_id=connection, values={"bot_token": token})
            rows: list[tuple[str, int, str, str, int, int]] = [
                ("new-report", orgs["acme"], "reporting", "new", 1, 0),
                ("rising-report", orgs["acme"], "reporting", "rising", 6, 2),
                ("new-integration", orgs["acme"], "integrations", "new", 1, 0),
                ("steady-security", orgs["acme"], "security", "steady", 1, 0),
                ("globex-new", orgs["globex"], "reporting", "new", 1, 0),
            ]
            for tag, org_id, theme, trend, last_7d, prev_7d in rows:
                values = _request(org_id, tag, theme, trend, last_7d, prev_7d)
                requests[tag] = conn.execute(
                    insert(FeatureRequest).values(values).returning(FeatureRequest.id)
                ).scalar_one()
        yield World(database_url, slack, orgs, requests)


def _subscribe(world: World, slug: str, channel: str, theme: str | None, *signals: str) -> int:
    body: dict[str, Any] = {"channel_id": channel, "theme": theme}
    if signals:
        body["signals"] = list(signals)
    with write_transaction(world.url) as conn:
        return int(store.create_subscription(conn, world.orgs[slug], "ana@acme.example", body)["id"])


def _tick(world: World, instance: dg.DagsterInstance) -> str:
    resources = {"warehouse": WarehouseResource(database_url=world.url)}
    with dg.build_sensor_context(instance=instance, resources=resources) as context:
        result = slack_notifications(context)
    assert isinstance(result, dg.SensorResult) and not result.run_requests
    assert result.skip_reason is not None and result.skip_reason.skip_message is not None
    return result.skip_reason.skip_message


def _deliveries(url: str) -> dict[tuple[int, str, str], dict[str, Any]]:
    with read_connection(url) as conn:
        rows = conn.execute(select(NotificationDelivery)).mappings().all()
    return {(row["subscription_id"], row["kind"], row["signal_key"]): dict(row) for row in rows}


def _posted_titles(slack: FakeSlackServer, channel: str) -> list[str]:
    return [message["text"] for message in slack.posted if message["channel"] == channel]


def test_two_ticks_post_each_signal_once_with_block_kit_links(world: World, caplog: pytest.LogCaptureFixture) -> None:
    reporting = _subscribe(world, "acme", PRODUCT, "reporting")
    everything = _subscribe(world, "acme", ROADMAP, None, "new_requests")
    instance = dg.DagsterInstance.ephemeral()

    with caplog.at_level(logging.DEBUG):
        first = _tick(world, instance)
    assert "posted 4" in first, first
    assert _posted_titles(world.slack, PRODUCT) == [
        f"New feature request: {SECRET_TITLE_WORD} new-report",
        f"Rising feature request: {SECRET_TITLE_WORD} rising-report",
    ], "the reporting channel hears its theme's new and rising requests, nothing of other themes"
    assert _posted_titles(world.slack, ROADMAP) == [
        f"New feature request: {SECRET_TITLE_WORD} new-report",
        f"New feature request: {SECRET_TITLE_WORD} new-integration",
    ], "every theme's new requests, not the rising one (not subscribed), not another organisation's"

    # Block Kit, with the link back to the API at HEADWAY_API_PUBLIC_URL.
    message = world.slack.posted[0]
    assert [block["type"] for block in message["blocks"]] == ["header", "section", "context", "actions"]
    request_url = f"{API_URL}/v1/feature-requests/{world.requests['new-report']}"
    assert request_url in message["blocks"][1]["text"]["text"]
    assert message["blocks"][3]["elements"][0]["url"] == request_url
    assert world.slack.calls("chat.postMessage")[0].headers["authorization"] == f"Bearer {ACME_TOKEN}"

    # Recorded: sent, with Slack's ts; the rising one keyed by request and week.
    deliveries = _deliveries(world.url)
    assert len(deliveries) == 4
    assert {row["status"] for row in deliveries.values()} == {"sent"}
    assert {row["slack_ts"] for row in deliveries.values()} == {m["ts"] for m in world.slack.posted}
    rising_key = next(key for (sub, kind, key) in deliveries if kind == "rising_request")
    assert rising_key.startswith(f"key-{world.orgs['acme']}-rising-report@") and "-W" in rising_key
    assert (reporting, "new_request", f"key-{world.orgs['acme']}-new-report") in deliveries
    assert (everything, "new_request", f"key-{world.orgs['acme']}-new-integration") in deliveries

    second = _tick(world, instance)
    assert "posted 0" in second
    assert len(world.slack.posted) == 4 and len(_deliveries(world.url)) == 4, "a re-run posts nothing again"
    # Titles go to Slack only: the sensor's log and its skip reason carry counts.
    assert SECRET_TITLE_WORD not in caplog.text + first + second


def test_concurrent_ticks_post_once(world: World) -> None:
    _subscribe(world, "acme", PRODUCT, None)
    _subscribe(world, "acme", ROADMAP, "reporting")
    errors: list[BaseException] = []
    barrier = threading.Barrier(3)

    def tick() -> None:
        barrier.wait()
        try:
            deliver_signals(world.url, api_url=API_URL)
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=tick) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    if errors and world.url.startswith("sqlite"):
        # SQLite serialises writers; a tick that found the file locked posted nothing it had not claimed.
        assert all("locked" in str(error) for error in errors), errors
    else:
        assert not errors, errors
    deliver_signals(world.url, api_url=API_URL)  # whatever a locked-out tick left
    keys = [(m["channel"], m["text"]) for m in world.slack.posted]
    assert len(keys) == len(set(keys)) == 5, keys  # 3 + 2 requests, each posted once
    assert {row["status"] for row in _deliveries(world.url).values()} == {"sent"}


def test_failures_are_recorded_and_do_not_stop_the_rest(world: World) -> None:
    gone = _subscribe(world, "acme", GONE, "integrations")
    limited = _subscribe(world, "acme", PRODUCT, "reporting")
    healthy = _subscribe(world, "acme", ROADMAP, None, "new_requests")
    revoked = _subscribe(world, "globex", PRODUCT, None)
    world.slack.remove_channel(GONE)
    world.slack.revoke(GLOBEX_TOKEN)
    # The second post of the tick (the reporting channel's first) is rate-limited, with a fractional
    # Retry-After, which slack-sdk's own handler would crash on.
    world.slack.fail("chat.postMessage", "ratelimit", after=1, retry_after="1.5")
    instance = dg.DagsterInstance.ephemeral()
    acme = world.orgs["acme"]

    summary = _tick(world, instance)
    assert "posted 2" in summary and "1 to retry" in summary, summary
    assert "channel_not_found 1" in summary and "token_revoked 1" in summary, summary
    assert _posted_titles(world.slack, ROADMAP) == [
        f"New feature request: {SECRET_TITLE_WORD} new-report",
        f"New feature request: {SECRET_TITLE_WORD} new-integration",
    ], "a missing channel, a rate limit and another organisation's revoked token stop nothing else"
    deliveries = _deliveries(world.url)
    missing = deliveries[(gone, "new_request", f"key-{acme}-new-integration")]
    assert missing["status"] == "failed" and missing["error"].startswith("channel_not_found")
    refused = deliveries[(revoked, "new_request", f"key-{world.orgs['globex']}-globex-new")]
    assert refused["status"] == "failed" and refused["error"].startswith("token_revoked")
    assert "reinstall" in refused["error"] and GLOBEX_TOKEN not in refused["error"]
    waiting = deliveries[(limited, "new_request", f"key-{acme}-new-report")]
    assert waiting["status"] == "retry" and waiting["error"].startswith("ratelimited")
    assert waiting["attempts"] == 1 and waiting["slack_ts"] is None
    wait = (waiting["retry_at"] - waiting["updated_at"]).total_seconds()
    assert 1.9 <= wait <= 2.1, f"Retry-After 1.5 s is waited as 2 s, not {wait}"
    assert not any(sub == limited and kind == "rising_request" for sub, kind, _ in deliveries), (
        "the rate-limited channel's next post waits for the next tick"
    )
    assert len(deliveries) == 5

    # Before Retry-After has passed, the channel stays quiet and nothing failed is tried again.
    assert "posted 0" in _tick(world, instance)
    assert len(world.slack.posted) == 2 and len(world.slack.calls("chat.postMessage")) == 5

    # Once it has (moved into the past rather than slept out), the waiting post and the channel's
    # next one go out; the failed ones stay failed.
    with write_transaction(world.url) as conn:
        conn.execute(
            update(NotificationDelivery)
            .where(NotificationDelivery.id == waiting["id"])
            .values(retry_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    summary = _tick(world, instance)
    assert "posted 2" in summary and "failed" not in summary, summary
    assert _posted_titles(world.slack, PRODUCT) == [
        f"New feature request: {SECRET_TITLE_WORD} new-report",
        f"Rising feature request: {SECRET_TITLE_WORD} rising-report",
    ]
    deliveries = _deliveries(world.url)
    retried = deliveries[(limited, "new_request", f"key-{acme}-new-report")]
    assert retried["status"] == "sent" and retried["attempts"] == 2 and retried["slack_ts"]
    assert deliveries[(gone, "new_request", f"key-{acme}-new-integration")]["status"] == "failed"
    assert deliveries[(healthy, "new_request", f"key-{acme}-new-report")]["status"] == "sent"
    assert "posted 0" in _tick(world, instance)
    assert len(world.slack.posted) == 4


def test_weekly_digest_posts_once_per_subscription_and_week(world: World) -> None:
    reporting = _subscribe(world, "acme", PRODUCT, "reporting", "weekly_digest")
    _subscribe(world, "acme", ROADMAP, None, "new_requests")  # no digest wanted
    everything = _subscribe(world, "globex", PRODUCT, None, "weekly_digest")
    monday = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    resources = {"warehouse": WarehouseResource(database_url=world.url)}

    with dg.build_schedule_context(scheduled_execution_time=monday, resources=resources) as context:
        result = weekly_digest(context)
    assert isinstance(result, dg.SkipReason) and "2026-W50" in (result.skip_message or "")
    assert "posted 2" in (result.skip_message or "") and SECRET_TITLE_WORD not in (result.skip_message or "")
    assert [m["channel"] for m in world.slack.posted] == [PRODUCT, PRODUCT]
    acme_digest = world.slack.posted[0]
    assert acme_digest["text"].startswith("Headway weekly digest 2026-W50 (reporting): 1 new, 1 rising")
    body = acme_digest["blocks"][1]["text"]["text"]
    # The reporting theme's asks of the week, most mentioned first, linked; nothing of other themes.
    assert body.index("rising-report") < body.index("new-report") and "new-integration" not in body
    assert f"{API_URL}/v1/feature-requests/{world.requests['rising-report']}" in body
    assert acme_digest["blocks"][2]["elements"][0]["url"] == (
        f"{API_URL}/v1/feature-requests?sort=-mention_count&theme=reporting"
    )
    deliveries = _deliveries(world.url)
    assert set(deliveries) == {(reporting, "weekly_digest", "2026-W50"), (everything, "weekly_digest", "2026-W50")}

    with dg.build_schedule_context(scheduled_execution_time=monday, resources=resources) as context:
        again = weekly_digest(context)
    assert isinstance(again, dg.SkipReason)
    assert "posted 0" in (again.skip_message or "") and len(world.slack.posted) == 2, "once per week"
    # The sensor posts events only to the subscriptions that hear them, and never a digest.
    _tick(world, dg.DagsterInstance.ephemeral())
    assert [m["channel"] for m in world.slack.posted[2:]] == [ROADMAP, ROADMAP]
    assert sum(m["text"].startswith("Headway weekly digest") for m in world.slack.posted) == 2


def test_high_risk_calls_of_the_theme_are_posted_once(world: World) -> None:
    subscription = _subscribe(world, "acme", PRODUCT, "reporting", "high_risk_calls")
    instance = dg.DagsterInstance.ephemeral()
    _tick(world, instance)
    assert not world.slack.posted, "no call assessed yet: nothing to tell"

    # Three assessed calls, as the call intelligence (`call_insights`) writes them.
    acme = world.orgs["acme"]
    with write_transaction(world.url) as conn:
        calls = []
        for index, (theme, deal, churn) in enumerate(
            [("reporting", "high", "low"), ("security", "high", "high"), ("reporting", "low", "medium")]
        ):
            message_id = conn.execute(
                insert(Message)
                .values(
                    org_id=acme, source="gong", external_id=f"call-{index}", sent_at=NOW - timedelta(days=1),
                    title=f"Renewal call {index}", text="transcript", text_length=10, content_hash="h" * 64,
                    record_hash="r" * 64, customer="Initech",
                )
                .returning(Message.id)
            ).scalar_one()  # fmt: skip
            conn.execute(
                insert(FeatureMention).values(
                    org_id=acme, message_id=message_id, ordinal=0, source="gong", sent_at=NOW - timedelta(days=1),
                    title="an ask", description="d", kind="feature_request", urgency="high", sentiment="negative",
                    theme=theme, evidence_quote="q", evidence_start=0, provider="offline", model="m",
                    prompt_version="1",
                )
            )  # fmt: skip
            conn.execute(
                insert(CallInsight).values(
                    message_id=message_id, org_id=acme, source="gong", sent_at=NOW - timedelta(days=1),
                    content_hash="h" * 64, deal_risk=deal, churn_risk=churn, expansion_potential="low",
                    provider="offline", model="m", prompt_version="1",
                )
            )  # fmt: skip
            calls.append(message_id)
    _tick(world, instance)
    assert [m["text"] for m in world.slack.posted] == ["High-risk call: Renewal call 0"], (
        "the high-risk call of the theme, not the other theme's, not the low-risk one"
    )
    assert f"{API_URL}/v1/messages/{calls[0]}" in world.slack.posted[0]["blocks"][1]["text"]["text"]
    assert (subscription, "high_risk_call", f"message:{calls[0]}") in _deliveries(world.url)
    _tick(world, instance)
    assert len(world.slack.posted) == 1


def test_the_fake_slack_server_speaks_chat_post_message(world: World) -> None:
    client = WebClient(token=ACME_TOKEN, base_url=world.slack.api_url)
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "hello"}}]
    answer = client.chat_postMessage(channel=PRODUCT, text="hello", blocks=blocks)
    assert answer["ok"] and answer["channel"] == PRODUCT and answer["message"]["blocks"] == blocks
    assert world.slack.posted[-1]["ts"] == answer["ts"]
    refusals: dict[str, dict[str, Any]] = {
        "channel_not_found": {"channel": "C0NOSUCH001", "text": "x"},
        "no_text": {"channel": PRODUCT},
        "invalid_blocks": {"channel": PRODUCT, "blocks": [{"type": "header", "text": {"type": "mrkdwn", "text": "x"}}]},
    }
    for code, arguments in refusals.items():
        with pytest.raises(SlackApiError) as refused:
            client.chat_postMessage(**arguments)
        assert refused.value.response["error"] == code
    world.slack.revoke(ACME_TOKEN)
    with pytest.raises(SlackApiError) as revoked:
        client.chat_postMessage(channel=PRODUCT, text="x")
    assert revoked.value.response["error"] == "token_revoked"
    assert json.loads(json.dumps(world.slack.posted)) == world.slack.posted


def test_a_tick_stops_claiming_at_its_time_budget(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    from headway_assets.orchestration import notifications as notifier

    _subscribe(world, "acme", PRODUCT, None)
    monkeypatch.setattr(notifier, "TICK_BUDGET_S", -1.0)
    report = deliver_signals(world.url, api_url=API_URL)
    assert report.out_of_time and "time budget" in report.summary()
    assert not world.slack.posted and not _deliveries(world.url), "nothing claimed, so nothing lost"
    monkeypatch.setattr(notifier, "TICK_BUDGET_S", 35.0)
    assert sum(deliver_signals(world.url, api_url=API_URL).posted.values()) == 3


def test_a_rate_limited_digest_is_posted_by_a_later_sensor_tick(world: World) -> None:
    digest = _subscribe(world, "acme", PRODUCT, "reporting", "weekly_digest")
    world.slack.fail("chat.postMessage", "ratelimit", retry_after="30")
    monday = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    resources = {"warehouse": WarehouseResource(database_url=world.url)}
    with dg.build_schedule_context(scheduled_execution_time=monday, resources=resources) as context:
        result = weekly_digest(context)
    assert isinstance(result, dg.SkipReason) and "1 to retry" in (result.skip_message or "")
    waiting = _deliveries(world.url)[(digest, "weekly_digest", "2026-W50")]
    assert waiting["status"] == "retry" and not world.slack.posted
    instance = dg.DagsterInstance.ephemeral()
    assert "posted 0" in _tick(world, instance), "not before Retry-After"
    with write_transaction(world.url) as conn:
        conn.execute(
            update(NotificationDelivery)
            .where(NotificationDelivery.id == waiting["id"])
            .values(retry_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    assert "posted 1 (weekly_digest 1)" in _tick(world, instance)
    assert [m["text"].split(":")[0] for m in world.slack.posted] == ["Headway weekly digest 2026-W50 (reporting)"]
    assert _deliveries(world.url)[(digest, "weekly_digest", "2026-W50")]["status"] == "sent"


def test_an_unexpected_error_fails_its_delivery_only(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    from headway_assets.orchestration import notifications as notifier

    subscription = _subscribe(world, "acme", PRODUCT, None, "new_requests")
    real_render = notifier.render

    def render(signal: store.Signal, *, api_url: str) -> tuple[str, list[dict[str, Any]]]:
        if signal.title.endswith("new-report"):
            raise ValueError(signal.title)  # a message that must not reach the record either
        return real_render(signal, api_url=api_url)

    monkeypatch.setattr(notifier, "render", render)
    report = deliver_signals(world.url, api_url=API_URL)
    assert report.failed == {"ValueError": 1} and sum(report.posted.values()) == 1
    broken = _deliveries(world.url)[(subscription, "new_request", f"key-{world.orgs['acme']}-new-report")]
    assert broken["status"] == "failed" and broken["error"] == "unexpected error: ValueError"
    assert _posted_titles(world.slack, PRODUCT) == [f"New feature request: {SECRET_TITLE_WORD} new-integration"]
