"""The live Slack reader and the Slack install flow, with slack-sdk's real WebClient against the local fake.

Reader-level tests cover each fault; materialisation tests run the real raw asset
(`raw_slack_messages`) against the fake for the main cases; the install tests go from the
install URL through Slack's redirect to a connection that a partition then reads.
"""

from __future__ import annotations

import base64
import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import dagster as dg
import pytest
from cryptography.fernet import Fernet
from slack_sdk import WebClient
from sqlalchemy import func, select

from headway_assets.assets.raw_messages import RAW_MESSAGE_ASSETS
from headway_assets.core.credentials import KEY_ENV, Credentials, decrypt_credentials
from headway_assets.core.message import NormalisedMessage, ReadResult, SourceReadError, TimeWindow
from headway_assets.core.warehouse.database import migrate, read_connection, write_transaction
from headway_assets.core.warehouse.ingestion import ConnectionInfo, record_hash
from headway_assets.core.warehouse.schema import (
    ConnectionKind,
    Message,
    SkippedItem,
    SourceConnection,
    SyncRun,
)
from headway_assets.core.warehouse.tenants import store_credentials, upsert_connection, upsert_organization
from headway_assets.demo import DemoCorpus, DemoOrgCorpus, SlackWorkspace, build_demo_corpus, slack_export_bytes
from headway_assets.resources.sources import SourcesResource
from headway_assets.resources.warehouse import WarehouseResource
from headway_assets.sources.dispatch import live_reader_for
from headway_assets.sources.live.base import LiveReadRequest
from headway_assets.sources.slack.export import read_slack_export
from headway_assets.sources.slack.live import SlackLiveReader
from headway_assets.sources.slack.oauth import (
    READ_SCOPES,
    InstallDeniedError,
    InvalidStateError,
    SlackInstallError,
    SlackOAuthSettings,
    build_install_url,
    complete_install,
    complete_install_from_settings,
    install_redirect_url,
    verify_state,
)
from headway_assets.testing.fakes.slack_server import ROTATION_EXPIRES_IN, FakeSlackServer

ACME_DAY = "2026-10-02"  # acme: 30 messages across 8 channels, 14 thread replies, 1 to a parent of an earlier day
OLD_PARENTS_DAY = "2026-10-06"  # acme: 2 replies whose parents were posted on earlier days
NORTHWIND_EMPTY_DAY = "2026-10-03"  # northwind: no message at all (older threads around it)
MESSAGE_KINDS = {"message", "file_share", "reply"}  # the demo truth's kinds that are not noise
SLACK_ASSET = next(a for a in RAW_MESSAGE_ASSETS if a.key.path[-1] == "raw_slack_messages")
# Small waits so the module stays fast (the fake sends Retry-After 0, once 1).
FAST_RETRIES = {"retry_backoff_seconds": 0.01, "retry_jitter_seconds": 0.01, "max_retry_count": 3, "retry_budget": 12}
REDIRECT_URI = "https://headway.example/api/integrations/slack/callback"
STATE_SECRET = "test-state-secret-0f9e"
NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


# ---- fixtures and helpers ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def corpus() -> DemoCorpus:
    """The default demo corpus (built once: it takes about a second)."""
    return build_demo_corpus()


@pytest.fixture
def acme(corpus: DemoCorpus) -> DemoOrgCorpus:
    return corpus.org("acme")


@pytest.fixture
def northwind(corpus: DemoCorpus) -> DemoOrgCorpus:
    return corpus.org("northwind")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fresh credentials key, and no Slack app settings from the outer environment."""
    monkeypatch.setenv(KEY_ENV, Fernet.generate_key().decode())
    for name in ("SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET", "SLACK_REDIRECT_URI", "HEADWAY_SLACK_STATE_SECRET"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def slack(acme: DemoOrgCorpus) -> Iterator[FakeSlackServer]:
    """The fake Slack workspace of the acme demo org, three messages per page."""
    with FakeSlackServer(acme.slack, page_size=3) as server:
        yield server


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'warehouse.db'}"
    migrate(url)
    return url


def day_window(day: str, days: int = 1) -> TimeWindow:
    start = datetime.fromisoformat(day).replace(tzinfo=UTC)
    return TimeWindow(start, start + timedelta(days=days))


def base_config(org: DemoOrgCorpus, fake: FakeSlackServer, **config: Any) -> dict[str, Any]:
    return {
        "base_url": fake.api_url,
        "internal_domains": list(org.org.internal_domains),
        "workspace_url": org.org.workspace_url,
        "team_id": org.slack.team_id,
        **FAST_RETRIES,
        **config,
    }


def request_for(
    org: DemoOrgCorpus,
    fake: FakeSlackServer,
    window: TimeWindow,
    *,
    credentials: dict[str, Any] | None = None,
    max_messages: int | None = None,
    resume_state: dict[str, Any] | None = None,
    save_credentials: Callable[[dict[str, Any]], None] | None = None,
    **config: Any,
) -> LiveReadRequest:
    connection = ConnectionInfo(
        id=1,
        org_id=1,
        org_slug=org.org.slug,
        source="slack",
        kind="api",
        name="slack",
        config=base_config(org, fake, **config),
    )
    return LiveReadRequest(
        connection=connection,
        credentials=Credentials({"bot_token": fake.bot_token} if credentials is None else credentials),
        window=window,
        max_messages=max_messages,
        resume_state=resume_state or {},
        save_credentials=save_credentials,
    )


def read(request: LiveReadRequest) -> ReadResult:
    return SlackLiveReader().read(request)


def export_read(org: DemoOrgCorpus, window: TimeWindow, tmp_path: Path) -> ReadResult:
    """What the export reader makes of the same workspace saved as a Slack export ZIP."""
    path = tmp_path / f"{org.org.slug}-slack-export.zip"
    if not path.exists():
        path.write_bytes(slack_export_bytes(org.slack, datetime(2026, 11, 1, tzinfo=UTC)))
    result = read_slack_export(
        path, window, internal_domains=org.org.internal_domains, workspace_url=org.org.workspace_url
    )
    assert not result.skipped
    return result


def export_messages(org: DemoOrgCorpus, window: TimeWindow, tmp_path: Path) -> list[NormalisedMessage]:
    return export_read(org, window, tmp_path).messages


def expected_ids(org: DemoOrgCorpus, window: TimeWindow) -> list[str]:
    """The demo truth: every non-noise Slack item of the window."""
    return sorted(
        e.external_id for e in org.expected_for("slack") if window.contains(e.sent_at) and e.kind in MESSAGE_KINDS
    )


def ids(messages: list[NormalisedMessage]) -> list[str]:
    return sorted(m.external_id for m in messages)


def add_connection(
    url: str,
    org: DemoOrgCorpus,
    fake: FakeSlackServer,
    *,
    credentials: dict[str, Any] | None = None,
    name: str = "slack-live",
    **config: Any,
) -> int:
    """An org with one live Slack connection pointing at the fake, its token encrypted."""
    with write_transaction(url) as conn:
        org_id = upsert_organization(conn, slug=org.org.slug, name=org.org.name)
        connection_id = upsert_connection(
            conn,
            org_id=org_id,
            source="slack",
            name=name,
            kind=ConnectionKind.API,
            config=base_config(org, fake, **config),
        )
        store_credentials(
            conn,
            connection_id=connection_id,
            values={"bot_token": fake.bot_token} if credentials is None else credentials,
        )
    return connection_id


def materialise(
    url: str, day: str, tmp_path: Path, instance: dg.DagsterInstance | None = None, *, cap: int = 0
) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [SLACK_ASSET],
        partition_key=day,
        resources={
            "warehouse": WarehouseResource(database_url=url),
            "sources": SourcesResource(data_dir=str(tmp_path), max_messages_per_sync=cap),
        },
        instance=instance or dg.DagsterInstance.ephemeral(),
    )


def checks(result: dg.ExecuteInProcessResult) -> dict[str, bool]:
    return {e.check_name: e.passed for e in result.get_asset_check_evaluations()}


def metadata(result: dg.ExecuteInProcessResult) -> dict[str, Any]:
    (event,) = result.get_asset_materialization_events()
    return {k: v.value for k, v in event.materialization.metadata.items()}


def stored(url: str, connection_id: int | None = None) -> dict[str, str]:
    """external id -> record hash of the stored Slack rows (of one connection)."""
    query = select(Message.external_id, Message.record_hash).where(Message.source == "slack")
    if connection_id is not None:
        query = query.where(Message.connection_id == connection_id)
    with read_connection(url) as conn:
        return {row.external_id: row.record_hash for row in conn.execute(query)}


def sync_runs(url: str, connection_id: int | None = None) -> list[Any]:
    query = select(SyncRun).order_by(SyncRun.id)
    if connection_id is not None:
        query = query.where(SyncRun.connection_id == connection_id)
    with read_connection(url) as conn:
        return list(conn.execute(query).all())


# ---- reader: the window, exactly --------------------------------------------------------------


def test_the_registry_builds_the_slack_reader() -> None:
    assert isinstance(live_reader_for("slack"), SlackLiveReader)


@pytest.mark.parametrize(
    ("org_slug", "day", "days"),
    [
        ("acme", ACME_DAY, 1),
        ("acme", OLD_PARENTS_DAY, 1),
        ("northwind", "2026-10-09", 2),
        ("northwind", "2026-10-01", 30),
    ],
)
def test_live_messages_are_identical_to_the_export_readers(
    corpus: DemoCorpus, tmp_path: Path, org_slug: str, day: str, days: int
) -> None:
    org = corpus.org(org_slug)
    window = day_window(day, days)
    with FakeSlackServer(org.slack, page_size=7) as fake:
        result = read(request_for(org, fake, window))
    assert result.complete and not result.skipped and result.resume_state == {}
    export = export_read(org, window, tmp_path)
    assert result.messages == export.messages  # same ids, text, authors, customers, metadata, order
    assert result.ignored == export.ignored  # the same noise left out
    if days > 1:
        assert sum(result.ignored.values()) > 0
    assert ids(result.messages) == expected_ids(org, window)
    assert len(result.messages) > 0


def small_workspace(window: TimeWindow) -> SlackWorkspace:
    """A hand-made workspace with messages on the window's edges, an old thread and a broadcast reply."""
    start, end = int(window.start.timestamp()), int(window.end.timestamp())
    user = {"id": "U0ALICE01", "team_id": "T0ACME", "name": "alice", "profile": {"real_name": "Alice Ng"}}

    def message(ts: str, text: str, **extra: Any) -> dict[str, Any]:
        return {"type": "message", "user": "U0ALICE01", "text": text, "ts": ts, **extra}

    old_parent = f"{start - 3 * 86400}.000100"
    parent = f"{start + 3600}.000100"
    broadcast = message(f"{start + 3700}.000200", "also posted to the channel", subtype="thread_broadcast")
    broadcast["thread_ts"] = parent
    history = [
        message(old_parent, "old question", thread_ts=old_parent, reply_count=1, latest_reply=f"{start}.000050"),
        message(f"{start}.000000", "first instant of the window"),
        message(parent, "parent", thread_ts=parent, reply_count=2, latest_reply=broadcast["ts"]),
        broadcast,
        message(f"{end - 1}.999999", "last instant of the window"),
        message(f"{end}.000000", "first instant of the next window"),
    ]
    replies = {
        old_parent: [message(f"{start}.000050", "reply at the window start", thread_ts=old_parent)],
        parent: [message(f"{start + 3650}.000000", "inline reply", thread_ts=parent), broadcast],
    }
    channel = {"id": "C0EDGES01", "name": "edges", "is_channel": True, "is_member": True}
    return SlackWorkspace(
        team_id="T0ACME",
        team_name="Acme",
        url="https://acme.slack.com",
        channels=[channel],
        users=[user],
        members={"C0EDGES01": ["U0ALICE01"]},
        history={"C0EDGES01": history},
        replies={"C0EDGES01": replies},
    )


def test_window_edges_old_threads_and_broadcast_replies(acme: DemoOrgCorpus) -> None:
    window = day_window(ACME_DAY)
    with FakeSlackServer(small_workspace(window), page_size=2) as fake:
        result = read(request_for(acme, fake, window, team_id="T0ACME"))
    assert [m.text for m in result.messages] == [
        "first instant of the window",
        "reply at the window start",
        "parent",
        "inline reply",
        "also posted to the channel",
        "last instant of the window",
    ]
    assert result.ignored == {"duplicate": 1}  # the broadcast reply, met in history and in its thread
    assert all(window.contains(m.sent_at) for m in result.messages)
    assert result.messages[1].thread_id == f"C0EDGES01:{int(window.start.timestamp()) - 3 * 86400}.000100"


def test_requests_follow_the_slack_protocol(acme: DemoOrgCorpus, slack: FakeSlackServer) -> None:
    window = day_window(ACME_DAY)
    result = read(request_for(acme, slack, window, page_size=3))
    assert len(result.messages) == len(expected_ids(acme, window))
    start, end = f"{int(window.start.timestamp())}.000000", f"{int(window.end.timestamp())}.000000"
    lookback = f"{int((window.start - timedelta(days=7)).timestamp())}.000000"
    for call in slack.requests:
        # slack-sdk: always a form POST with the bot token as a bearer header.
        assert call.http_method == "POST"
        assert call.headers["authorization"] == f"Bearer {slack.bot_token}"
        assert call.headers["content-type"].startswith("application/x-www-form-urlencoded")
    history = slack.calls("conversations.history")
    windows = {(c.params["oldest"], c.params["latest"]) for c in history if "cursor" not in c.params}
    assert windows == {(start, end), (lookback, start)}
    assert all(c.params["inclusive"] == "1" and c.params["limit"] == "3" for c in history)
    # Every channel's history was paged to the end, each cursor used once.
    assert sum(1 for c in history if "cursor" in c.params) > 0
    assert len({(c.params["channel"], c.params.get("cursor"), c.params["oldest"]) for c in history}) == len(history)
    replies = slack.calls("conversations.replies")
    assert replies and all(c.params["latest"] == end and c.params["oldest"] >= start for c in replies)
    # users.info once per user for the whole read (the cache).
    users = [c.params["user"] for c in slack.calls("users.info")]
    assert len(users) == len(set(users)) > 0
    # Without a selection, the member channels are listed.
    (listing,) = slack.calls("conversations.list")
    assert listing.params["types"] == "public_channel,private_channel"


def test_a_reply_in_the_window_to_an_older_parent_is_found_through_the_look_back(
    acme: DemoOrgCorpus, slack: FakeSlackServer
) -> None:
    window = day_window(OLD_PARENTS_DAY)
    old_parent_replies = sorted(
        f"{channel}:{reply['ts']}"
        for channel, threads in acme.slack.replies.items()
        for parent_ts, replies in threads.items()
        for reply in replies
        if float(parent_ts) < window.start.timestamp() <= float(reply["ts"]) < window.end.timestamp()
    )
    assert len(old_parent_replies) == 2
    full = read(request_for(acme, slack, window))
    assert set(old_parent_replies) <= set(ids(full.messages))
    assert ids(full.messages) == expected_ids(acme, window)
    # Documented limit: a parent older than the look-back is not scanned, so its replies are missed.
    short = read(request_for(acme, slack, window, thread_lookback_days=0.0001))
    assert set(ids(full.messages)) - set(ids(short.messages)) == set(old_parent_replies)
    none = read(request_for(acme, slack, window, thread_lookback_days=0))
    assert set(ids(full.messages)) - set(ids(none.messages)) == set(old_parent_replies)


def test_only_the_selected_channels_are_read(acme: DemoOrgCorpus, slack: FakeSlackServer, tmp_path: Path) -> None:
    window = day_window(ACME_DAY)
    export = export_messages(acme, window, tmp_path)
    chosen = sorted({m.metadata["channel_id"] for m in export})[:2]
    result = read(request_for(acme, slack, window, channels=chosen))
    assert result.messages == [m for m in export if m.metadata["channel_id"] in chosen]
    assert not slack.calls("conversations.list")
    assert {c.params["channel"] for c in slack.calls("conversations.history")} == set(chosen)


def test_without_a_selection_only_the_channels_the_bot_is_in_are_read(acme: DemoOrgCorpus, tmp_path: Path) -> None:
    window = day_window(ACME_DAY)
    export = export_messages(acme, window, tmp_path)
    member_of = {c["id"] for c in acme.slack.channels if c["name"] in ("support", "customer-feedback", "random")}
    with FakeSlackServer(acme.slack, member_channels=member_of) as fake:
        result = read(request_for(acme, fake, window))
        asked = {c.params["channel"] for c in fake.calls("conversations.history")}
    assert asked == member_of
    assert result.complete and not result.skipped
    assert result.messages == [m for m in export if m.metadata["channel_id"] in member_of]
    assert result.messages


def test_a_channel_the_bot_is_not_in_or_that_is_gone_is_skipped_and_the_rest_read(
    acme: DemoOrgCorpus, tmp_path: Path
) -> None:
    window = day_window(ACME_DAY)
    export = export_messages(acme, window, tmp_path)
    by_name = {c["name"]: c["id"] for c in acme.slack.channels}
    readable = [by_name["support"], by_name["general"]]
    with FakeSlackServer(acme.slack, member_channels=set(readable)) as fake:
        result = read(request_for(acme, fake, window, channels=[by_name["random"], "C0GONE0000", *readable]))
    assert result.complete
    assert result.messages == [m for m in export if m.metadata["channel_id"] in readable]
    reasons = {item.location: item.reason for item in result.skipped}
    assert reasons == {
        f"slack channel {by_name['random']}": reasons[f"slack channel {by_name['random']}"],
        "slack channel C0GONE0000": reasons["slack channel C0GONE0000"],
    }
    assert reasons[f"slack channel {by_name['random']}"].startswith("not_in_channel: ")
    assert "/invite" in reasons[f"slack channel {by_name['random']}"]
    assert reasons["slack channel C0GONE0000"].startswith("channel_not_found: ")


@pytest.mark.parametrize(
    ("action", "code"),
    [
        ("revoke", "token_revoked"),
        ("unknown", "invalid_auth"),
        ("deactivate", "account_inactive"),
        ("expire", "token_expired"),
    ],
)
def test_a_refused_token_is_a_read_error_that_says_to_reinstall(
    acme: DemoOrgCorpus, slack: FakeSlackServer, action: str, code: str
) -> None:
    token = slack.bot_token if action != "unknown" else "xoxb-not-a-token-of-this-workspace"
    if action == "revoke":
        slack.revoke(token)
    elif action == "deactivate":
        slack.deactivate(token)
    elif action == "expire":
        slack.expire(token)
    with pytest.raises(SourceReadError) as raised:
        read(request_for(acme, slack, day_window(ACME_DAY), credentials={"bot_token": token}))
    message = str(raised.value)
    assert f"({code}: " in message and "Reinstall the Slack app" in message
    assert token not in message
    assert [r.error for r in slack.requests] == [code]  # stopped at the first refusal


def test_missing_token_and_bad_config_are_clear_errors(acme: DemoOrgCorpus, slack: FakeSlackServer) -> None:
    window = day_window(ACME_DAY)
    with pytest.raises(SourceReadError, match=r"no 'bot_token'.*install the Slack app"):
        read(request_for(acme, slack, window, credentials={}))
    with pytest.raises(SourceReadError, match="config 'channels' must be a list of channel ids"):
        read(request_for(acme, slack, window, channels="general"))
    with pytest.raises(SourceReadError, match="config 'page_size' must be an integer >= 1"):
        read(request_for(acme, slack, window, page_size=0))
    assert slack.requests == []


def test_the_fake_answers_not_authed_without_a_token(slack: FakeSlackServer) -> None:
    body = urlencode({"channel": "C1"}).encode()
    with urllib.request.urlopen(urllib.request.Request(f"{slack.api_url}conversations.history", data=body)) as answer:
        assert answer.status == 200
        assert json.loads(answer.read()) == {"ok": False, "error": "not_authed"}


# ---- reader: rate limits, server errors, malformed bodies, budget -----------------------------


def test_rate_limits_server_errors_and_malformed_bodies_are_retried_to_the_same_result(
    acme: DemoOrgCorpus, slack: FakeSlackServer, tmp_path: Path
) -> None:
    window = day_window(ACME_DAY)
    slack.fail("conversations.history", "ratelimit", times=2, after=1)
    slack.fail("conversations.replies", "ratelimit", times=1, retry_after=None, after=2)
    slack.fail("users.info", "ratelimit", times=1)
    slack.fail("conversations.members", "server_error", times=1, status=503)
    slack.fail("conversations.history", "server_error", times=1, status=502)
    slack.fail("conversations.list", "malformed", times=1)
    slack.fail("conversations.replies", "malformed", times=1, body=b'{"ok": true, "messages": [')
    result = read(request_for(acme, slack, window, retry_budget=20))
    assert result.complete and not result.skipped
    assert result.messages == export_messages(acme, window, tmp_path)
    statuses = [r.status for r in slack.requests]
    assert statuses.count(429) == 4 and statuses.count(503) == 1 and statuses.count(502) == 1
    # Each refused request was sent again, identically.
    for position, call in enumerate(slack.requests):
        if call.error in ("ratelimit", "server_error", "malformed"):
            retry = next(r for r in slack.requests[position + 1 :] if r.method == call.method)
            assert retry.params == call.params


def test_retry_after_is_honoured(acme: DemoOrgCorpus, slack: FakeSlackServer) -> None:
    slack.fail("conversations.list", "ratelimit", times=1, retry_after="1")
    started = time.monotonic()
    result = read(request_for(acme, slack, day_window(ACME_DAY)))
    assert time.monotonic() - started >= 1.0
    assert result.complete and result.messages


def test_a_fractional_retry_after_is_rounded_up_instead_of_crashing(
    acme: DemoOrgCorpus, slack: FakeSlackServer
) -> None:
    # slack-sdk's stock handler raises ValueError on "0.2"; this one waits a whole second.
    slack.fail("conversations.list", "ratelimit", times=1, retry_after="0.2")
    started = time.monotonic()
    result = read(request_for(acme, slack, day_window(ACME_DAY)))
    assert time.monotonic() - started >= 1.0
    assert result.complete and result.messages


def test_rate_limits_outlasting_the_budget_before_anything_is_read_raise(
    acme: DemoOrgCorpus, slack: FakeSlackServer
) -> None:
    slack.fail("conversations.list", "ratelimit", times=10)
    with pytest.raises(SourceReadError, match=r"rate-limited conversations\.list beyond the retry budget"):
        read(request_for(acme, slack, day_window(ACME_DAY), retry_budget=2))
    assert len(slack.calls("conversations.list")) == 3  # the first try and two retries


def test_a_budget_running_out_mid_window_keeps_what_arrived_and_the_next_read_resumes(
    acme: DemoOrgCorpus, slack: FakeSlackServer, tmp_path: Path
) -> None:
    window = day_window(ACME_DAY)
    slack.fail("conversations.history", "ratelimit", times=4, after=6)
    first = read(request_for(acme, slack, window, retry_budget=2))
    assert not first.complete and first.messages
    assert first.resume_state["current"] is not None
    slack.clear_faults()
    second = read(request_for(acme, slack, window, resume_state=first.resume_state))
    assert second.complete
    together = first.messages + second.messages
    assert len(together) == len({m.external_id for m in together})  # nothing read twice
    assert sorted(together, key=lambda m: (m.sent_at, m.external_id)) == export_messages(acme, window, tmp_path)


def test_server_errors_and_malformed_bodies_beyond_the_budget_end_the_read(
    acme: DemoOrgCorpus, slack: FakeSlackServer
) -> None:
    window = day_window(ACME_DAY)
    slack.fail("conversations.history", "server_error", times=10, after=4)
    partial = read(request_for(acme, slack, window, retry_budget=2))
    assert not partial.complete and partial.messages
    slack.clear_faults()
    slack.fail("conversations.list", "malformed", times=10)
    with pytest.raises(SourceReadError, match=r"unreadable body|malformed"):
        read(request_for(acme, slack, window, retry_budget=1))


def test_a_retry_after_longer_than_allowed_ends_the_read_without_waiting(
    acme: DemoOrgCorpus, slack: FakeSlackServer
) -> None:
    window = day_window(ACME_DAY)
    slack.fail("conversations.history", "ratelimit", times=1, retry_after="120", after=3)
    started = time.monotonic()
    result = read(request_for(acme, slack, window, max_retry_wait_seconds=5))
    assert time.monotonic() - started < 5
    assert not result.complete and result.resume_state


# ---- reader: the cap and resuming -------------------------------------------------------------


def test_capped_reads_resume_exactly_and_converge_to_the_window(
    acme: DemoOrgCorpus, slack: FakeSlackServer, tmp_path: Path
) -> None:
    window = day_window(ACME_DAY)
    expected = export_messages(acme, window, tmp_path)
    state: dict[str, Any] = {}
    runs: list[ReadResult] = []
    while True:
        result = read(request_for(acme, slack, window, max_messages=4, resume_state=state, page_size=2))
        runs.append(result)
        assert len(result.messages) <= 4
        if result.complete:
            assert result.resume_state == {}
            break
        assert len(result.messages) == 4  # a capped run fills its cap
        json.dumps(result.resume_state)  # storable as JSON
        state = result.resume_state
        assert len(runs) < 20
    together = [m for run in runs for m in run.messages]
    assert len(together) == len({m.external_id for m in together})
    assert sorted(together, key=lambda m: (m.sent_at, m.external_id)) == expected
    assert len(runs) == -(-len(expected) // 4)


def test_a_window_of_exactly_the_cap_is_complete_in_one_read(acme: DemoOrgCorpus, slack: FakeSlackServer) -> None:
    window = day_window(ACME_DAY)
    total = len(expected_ids(acme, window))
    assert read(request_for(acme, slack, window, max_messages=total)).complete
    assert not read(request_for(acme, slack, window, max_messages=total - 1)).complete


def test_an_unusable_or_foreign_resume_state_reads_the_window_anew(acme: DemoOrgCorpus, slack: FakeSlackServer) -> None:
    window = day_window(ACME_DAY)
    full = ids(read(request_for(acme, slack, window)).messages)
    capped = read(request_for(acme, slack, window, max_messages=3))
    other_window = dict(capped.resume_state, window=["2026-10-05T00:00:00+00:00", "2026-10-06T00:00:00+00:00"])
    for state in (
        {"version": 99},
        {"version": 1, "window": capped.resume_state["window"], "current": {"x": 1}},
        other_window,
    ):
        assert ids(read(request_for(acme, slack, window, resume_state=state)).messages) == full


# ---- reader: token rotation -------------------------------------------------------------------


def test_an_expired_rotating_token_is_refreshed_saved_and_used(
    acme: DemoOrgCorpus, slack: FakeSlackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLACK_CLIENT_ID", slack.client_id)
    monkeypatch.setenv("SLACK_CLIENT_SECRET", slack.client_secret)
    slack.add_refresh_token("xoxe-1-refresh-one", slack.bot_token)
    saved: list[dict[str, Any]] = []
    credentials = {"bot_token": slack.bot_token, "refresh_token": "xoxe-1-refresh-one", "expires_at": 1_000}
    window = day_window(ACME_DAY)
    result = read(request_for(acme, slack, window, credentials=credentials, save_credentials=saved.append))
    assert result.complete and ids(result.messages) == expected_ids(acme, window)
    (refresh,) = slack.calls("oauth.v2.access")
    assert refresh.params == {"grant_type": "refresh_token", "refresh_token": "xoxe-1-refresh-one"}
    basic = base64.b64encode(f"{slack.client_id}:{slack.client_secret}".encode()).decode()
    assert refresh.headers["authorization"] == f"Basic {basic}"
    (new,) = saved
    assert new["bot_token"] != slack.bot_token and new["bot_token"] in slack.issued
    assert new["refresh_token"] in slack.issued and new["expires_at"] > time.time() + ROTATION_EXPIRES_IN - 60
    later = [r for r in slack.requests if r.method != "oauth.v2.access"]
    assert later and all(r.headers["authorization"] == f"Bearer {new['bot_token']}" for r in later)


def test_a_token_slack_calls_expired_is_refreshed_once_mid_read(
    acme: DemoOrgCorpus, slack: FakeSlackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLACK_CLIENT_SECRET", slack.client_secret)
    slack.add_refresh_token("xoxe-1-refresh-two", slack.bot_token)
    slack.expire(slack.bot_token)
    saved: list[dict[str, Any]] = []
    credentials = {"bot_token": slack.bot_token, "refresh_token": "xoxe-1-refresh-two", "expires_at": 4_000_000_000}
    window = day_window(ACME_DAY)
    result = read(
        request_for(
            acme, slack, window, credentials=credentials, save_credentials=saved.append, client_id=slack.client_id
        )
    )
    assert result.complete and ids(result.messages) == expected_ids(acme, window)
    assert [r.error for r in slack.requests[:2]] == ["token_expired", None]
    assert len(saved) == 1 and len(slack.calls("oauth.v2.access")) == 1


def test_an_expired_token_without_client_credentials_says_what_to_set(
    acme: DemoOrgCorpus, slack: FakeSlackServer
) -> None:
    credentials = {"bot_token": slack.bot_token, "refresh_token": "xoxe-1-whatever", "expires_at": 1_000}
    with pytest.raises(SourceReadError, match="SLACK_CLIENT_ID / SLACK_CLIENT_SECRET are not set"):
        read(request_for(acme, slack, day_window(ACME_DAY), credentials=credentials))


def test_a_refused_refresh_says_to_reinstall(
    acme: DemoOrgCorpus, slack: FakeSlackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLACK_CLIENT_ID", slack.client_id)
    monkeypatch.setenv("SLACK_CLIENT_SECRET", slack.client_secret)
    credentials = {"bot_token": slack.bot_token, "refresh_token": "xoxe-1-unknown-refresh", "expires_at": 1_000}
    with pytest.raises(SourceReadError) as raised:
        read(request_for(acme, slack, day_window(ACME_DAY), credentials=credentials))
    assert "invalid_refresh_token" in str(raised.value) and "reinstall" in str(raised.value)
    assert "xoxe-1-unknown-refresh" not in str(raised.value) and slack.client_secret not in str(raised.value)


# ---- materialised partitions ------------------------------------------------------------------


def test_a_materialised_partition_holds_exactly_the_window(
    database_url: str, acme: DemoOrgCorpus, slack: FakeSlackServer, tmp_path: Path
) -> None:
    window = day_window(ACME_DAY)
    connection_id = add_connection(database_url, acme, slack, page_size=1)
    result = materialise(database_url, ACME_DAY, tmp_path)
    assert result.success
    export = export_messages(acme, window, tmp_path)
    assert stored(database_url, connection_id) == {m.external_id: record_hash(m) for m in export}
    assert sorted(stored(database_url)) == expected_ids(acme, window)
    assert checks(result) == {
        "no_duplicate_messages": True,
        "sent_at_in_window": True,
        "window_complete": True,
        "connections_synced": True,
        "removals_within_limit": True,
    }
    (run,) = sync_runs(database_url, connection_id)
    assert (run.status, run.messages_read, run.messages_written, run.items_skipped) == ("success", 30, 30, 0)
    # Several channels needed several pages.
    paged = {c.params["channel"] for c in slack.calls("conversations.history") if "cursor" in c.params}
    assert len(paged) >= 4
    # Materialising again leaves the same rows.
    again = materialise(database_url, ACME_DAY, tmp_path)
    assert metadata(again)["unchanged"] == 30 and metadata(again)["inserted"] == 0
    assert stored(database_url, connection_id) == {m.external_id: record_hash(m) for m in export}


def test_a_partition_read_through_rate_limits_and_retries_is_the_same(
    sqlite_url: str, acme: DemoOrgCorpus, slack: FakeSlackServer, tmp_path: Path
) -> None:
    window = day_window(ACME_DAY)
    connection_id = add_connection(sqlite_url, acme, slack, retry_budget=20)
    slack.fail("conversations.history", "ratelimit", times=3, after=2)
    slack.fail("conversations.replies", "server_error", times=2)
    slack.fail("users.info", "malformed", times=1)
    result = materialise(sqlite_url, ACME_DAY, tmp_path)
    assert result.success and all(checks(result).values())
    assert stored(sqlite_url, connection_id) == {
        m.external_id: record_hash(m) for m in export_messages(acme, window, tmp_path)
    }
    assert sum(1 for r in slack.requests if r.status != 200 or r.error == "malformed") == 6


def test_an_empty_window_is_a_successful_sync_with_no_messages(
    sqlite_url: str, northwind: DemoOrgCorpus, tmp_path: Path
) -> None:
    assert expected_ids(northwind, day_window(NORTHWIND_EMPTY_DAY)) == []
    with FakeSlackServer(northwind.slack, page_size=3) as fake:
        connection_id = add_connection(sqlite_url, northwind, fake)
        result = materialise(sqlite_url, NORTHWIND_EMPTY_DAY, tmp_path)
        # The look-back still scanned the week before for threads reaching into the window.
        start = f"{int(day_window(NORTHWIND_EMPTY_DAY).start.timestamp())}.000000"
        lookbacks = [c for c in fake.calls("conversations.history") if c.params["latest"] == start]
        assert len(lookbacks) >= len(northwind.slack.channels)
    assert result.success and all(checks(result).values())
    assert stored(sqlite_url) == {}
    (run,) = sync_runs(sqlite_url, connection_id)
    assert (run.status, run.messages_read) == ("success", 0)


def test_a_revoked_token_fails_its_connection_while_the_other_lands(
    sqlite_url: str, acme: DemoOrgCorpus, northwind: DemoOrgCorpus, tmp_path: Path
) -> None:
    window = day_window(ACME_DAY)
    with (
        FakeSlackServer(acme.slack, bot_token="xoxb-acme-revoked-1") as acme_slack,
        FakeSlackServer(northwind.slack, bot_token="xoxb-northwind-ok-2", page_size=4) as northwind_slack,
    ):
        acme_id = add_connection(sqlite_url, acme, acme_slack)
        northwind_id = add_connection(sqlite_url, northwind, northwind_slack)
        acme_slack.revoke(acme_slack.bot_token)
        result = materialise(sqlite_url, ACME_DAY, tmp_path)
    assert result.success
    outcome = checks(result)
    assert outcome["connections_synced"] is False and outcome["window_complete"] is True
    (failed,) = sync_runs(sqlite_url, acme_id)
    assert failed.status == "failed" and "token_revoked" in failed.error and "Reinstall the Slack app" in failed.error
    (succeeded,) = sync_runs(sqlite_url, northwind_id)
    assert succeeded.status == "success"
    assert sorted(stored(sqlite_url, northwind_id)) == expected_ids(northwind, window)
    assert stored(sqlite_url, acme_id) == {}
    with read_connection(sqlite_url) as conn:
        last_error = conn.execute(
            select(SourceConnection.last_error).where(SourceConnection.id == acme_id)
        ).scalar_one()
    assert last_error is not None and "token_revoked" in last_error


def test_capped_syncs_resume_until_the_window_is_whole(
    sqlite_url: str, acme: DemoOrgCorpus, slack: FakeSlackServer, tmp_path: Path
) -> None:
    window = day_window(ACME_DAY)
    expected = {m.external_id: record_hash(m) for m in export_messages(acme, window, tmp_path)}
    connection_id = add_connection(sqlite_url, acme, slack, max_messages_per_sync=7, page_size=2)
    instance = dg.DagsterInstance.ephemeral()
    completeness: list[bool] = []
    counts: list[int] = []
    for _ in range(10):
        result = materialise(sqlite_url, ACME_DAY, tmp_path, instance)
        assert result.success and checks(result)["no_duplicate_messages"] and checks(result)["connections_synced"]
        completeness.append(checks(result)["window_complete"])
        counts.append(len(stored(sqlite_url, connection_id)))
        assert metadata(result)["inserted"] == metadata(result)["messages"]  # every run brings only new messages
        if completeness[-1]:
            break
    assert completeness == [False, False, False, False, True]
    assert counts == [7, 14, 21, 28, 30]
    assert stored(sqlite_url, connection_id) == expected
    statuses = [run.status for run in sync_runs(sqlite_url, connection_id)]
    assert statuses == ["incomplete"] * 4 + ["success"]
    assert all(run.resume_state for run in sync_runs(sqlite_url, connection_id)[:4])
    with read_connection(sqlite_url) as conn:
        assert conn.execute(select(func.count()).select_from(Message)).scalar_one() == 30


def test_no_secret_reaches_logs_metadata_or_sync_history(
    sqlite_url: str,
    acme: DemoOrgCorpus,
    northwind: DemoOrgCorpus,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    acme_token, northwind_token = "xoxb-SECRET-acme-7c41d9e2", "xoxb-SECRET-northwind-0b3f55aa"
    refresh, client_secret = "xoxe-1-SECRET-refresh-55e0d1", "SECRET-client-secret-9d2c"
    monkeypatch.setenv("SLACK_CLIENT_SECRET", client_secret)
    caplog.set_level(logging.DEBUG)
    instance = dg.DagsterInstance.ephemeral()
    results: list[dg.ExecuteInProcessResult] = []
    with (
        FakeSlackServer(acme.slack, bot_token=acme_token, page_size=2, client_secret=client_secret) as acme_slack,
        FakeSlackServer(northwind.slack, bot_token=northwind_token, client_secret=client_secret) as northwind_slack,
    ):
        acme_slack.add_refresh_token(refresh, acme_token)
        add_connection(
            sqlite_url,
            acme,
            acme_slack,
            credentials={"bot_token": acme_token, "refresh_token": refresh, "expires_at": 1_000},
            client_id=acme_slack.client_id,
            max_messages_per_sync=5,
            retry_budget=2,
        )
        add_connection(sqlite_url, northwind, northwind_slack, retry_budget=2)
        # 1: a capped run that refreshes the rotating token first, and a proxy that echoes the bearer header.
        northwind_slack.fail("conversations.list", "malformed", times=10, echo_auth=True)
        results.append(materialise(sqlite_url, ACME_DAY, tmp_path, instance))
        # 2: 500s (a proxy page echoing the token) beyond the budget; a malformed body echoing it once.
        acme_slack.fail("conversations.history", "server_error", times=10, echo_auth=True)
        northwind_slack.clear_faults()
        northwind_slack.fail("conversations.history", "malformed", times=1, echo_auth=True)
        results.append(materialise(sqlite_url, ACME_DAY, tmp_path, instance))
        # 3: every token revoked.
        acme_slack.clear_faults()
        for token in [*acme_slack.issued, acme_token]:
            acme_slack.revoke(token)
        northwind_slack.revoke(northwind_token)
        results.append(materialise(sqlite_url, ACME_DAY, tmp_path, instance))
        issued = list(acme_slack.issued)
    secrets = [acme_token, northwind_token, refresh, client_secret, *issued]
    assert len(issued) == 2  # the rotated token and its new refresh token

    texts: list[str] = [caplog.text]
    for result in results:
        assert result.success
        for entry in instance.all_logs(result.run_id):
            texts.append(entry.user_message or "")
            texts.append(repr(entry.dagster_event) if entry.dagster_event else "")
        for event in result.get_asset_materialization_events():
            texts += [str(v.value) for v in event.materialization.metadata.values()]
        for evaluation in result.get_asset_check_evaluations():
            texts += [str(v.value) for v in evaluation.metadata.values()]
    with read_connection(sqlite_url) as conn:
        texts += [repr(tuple(row)) for row in conn.execute(select(SyncRun)).all()]
        texts += [repr(tuple(row)) for row in conn.execute(select(SkippedItem)).all()]
        texts += [repr(tuple(row)) for row in conn.execute(select(SourceConnection)).all()]
    everything = "\n".join(texts)
    # The failure paths did run and were recorded ...
    assert "[redacted]" in everything  # the echoed bearer header, caught in slack-sdk's own error log
    assert "HTTP 500" in everything and "token_revoked" in everything and "refreshed the rotating" in everything
    statuses = [run.status for run in sync_runs(sqlite_url)]
    assert statuses.count("failed") >= 3 and "incomplete" in statuses
    # ... and no secret appears anywhere.
    for secret in secrets:
        assert secret not in everything, secret


# ---- the install flow -------------------------------------------------------------------------


def install_url_for(org_id: int, client_id: str, *, now: datetime = NOW) -> tuple[str, dict[str, list[str]]]:
    url = build_install_url(
        org_id, client_id=client_id, redirect_uri=REDIRECT_URI, scopes=READ_SCOPES, state_secret=STATE_SECRET, now=now
    )
    return url, parse_qs(urlsplit(url).query, keep_blank_values=True)


def finish(conn: Any, fake: FakeSlackServer, callback_url: str, **overrides: Any) -> int:
    """What the callback endpoint does with Slack's redirect."""
    query = {k: v[0] for k, v in parse_qs(urlsplit(callback_url).query).items()}
    arguments: dict[str, Any] = {
        "code": query.get("code"),
        "state": query.get("state", ""),
        "error": query.get("error"),
        "client_id": fake.client_id,
        "client_secret": fake.client_secret,
        "redirect_uri": REDIRECT_URI,
        "state_secret": STATE_SECRET,
        "base_url": fake.api_url,
        "now": NOW + timedelta(minutes=1),
        **overrides,
    }
    return complete_install(conn, **arguments)


def new_org(url: str, slug: str = "acme", name: str = "Acme Analytics") -> int:
    with write_transaction(url) as conn:
        return upsert_organization(conn, slug=slug, name=name)


def test_install_end_to_end_then_a_partition_reads_through_the_new_connection(
    database_url: str, acme: DemoOrgCorpus, tmp_path: Path
) -> None:
    org_id = new_org(database_url)
    with FakeSlackServer(acme.slack, page_size=5) as fake:
        url, query = install_url_for(org_id, fake.client_id)
        parts = urlsplit(url)
        assert (parts.scheme, parts.netloc, parts.path) == ("https", "slack.com", "/oauth/v2/authorize")
        assert query["client_id"] == [fake.client_id] and query["redirect_uri"] == [REDIRECT_URI]
        assert query["scope"] == [",".join(READ_SCOPES)] and query["user_scope"] == [""]
        assert verify_state(query["state"][0], state_secret=STATE_SECRET, now=NOW) == org_id
        # The admin allows; Slack redirects the browser to the callback with a code and the state.
        fake.register_code("code-allow-1", redirect_uri=REDIRECT_URI)
        callback = f"{REDIRECT_URI}?{urlencode({'code': 'code-allow-1', 'state': query['state'][0]})}"
        with write_transaction(database_url) as conn:
            connection_id = finish(conn, fake, callback)
        (exchange,) = fake.calls("oauth.v2.access")
        basic = base64.b64encode(f"{fake.client_id}:{fake.client_secret}".encode()).decode()
        assert exchange.headers["authorization"] == f"Basic {basic}"
        assert exchange.params == {"code": "code-allow-1", "redirect_uri": REDIRECT_URI}
        with read_connection(database_url) as conn:
            row = conn.execute(select(SourceConnection).where(SourceConnection.id == connection_id)).one()
        assert (row.org_id, row.source, row.kind, row.is_active) == (org_id, "slack", "api", True)
        assert row.config["team_id"] == acme.slack.team_id and row.config["team_name"] == acme.slack.team_name
        assert row.config["bot_user_id"] == fake.bot_user_id and row.config["scopes"] == list(READ_SCOPES)
        assert row.config["base_url"] == fake.api_url and row.config["workspace_url"] == acme.org.workspace_url
        (token,) = fake.issued
        assert token not in (row.credentials_encrypted or "") and token not in json.dumps(row.config)
        assert dict(decrypt_credentials(row.credentials_encrypted, connection="acme/slack")) == {"bot_token": token}
        # A raw partition materialised right after reads the window through the new connection.
        result = materialise(database_url, ACME_DAY, tmp_path)
        assert result.success and all(checks(result).values())
        assert sorted(stored(database_url, connection_id)) == expected_ids(acme, day_window(ACME_DAY))
        reads = [r for r in fake.requests if r.method.startswith("conversations.")]
        assert reads and all(r.headers["authorization"] == f"Bearer {token}" for r in reads)


def test_an_install_with_token_rotation_stores_the_refresh_token_and_expiry(
    sqlite_url: str, acme: DemoOrgCorpus
) -> None:
    org_id = new_org(sqlite_url)
    with FakeSlackServer(acme.slack) as fake:
        _, query = install_url_for(org_id, fake.client_id)
        fake.register_code("code-rotating", redirect_uri=REDIRECT_URI, rotation=True)
        with write_transaction(sqlite_url) as conn:
            connection_id = finish(conn, fake, f"{REDIRECT_URI}?code=code-rotating&state={query['state'][0]}")
        token, refresh = fake.issued
    with read_connection(sqlite_url) as conn:
        encrypted = conn.execute(
            select(SourceConnection.credentials_encrypted).where(SourceConnection.id == connection_id)
        ).scalar_one()
    stored_credentials = dict(decrypt_credentials(encrypted, connection="acme/slack"))
    expires_at = int((NOW + timedelta(minutes=1)).timestamp()) + ROTATION_EXPIRES_IN
    assert stored_credentials == {"bot_token": token, "refresh_token": refresh, "expires_at": expires_at}


def test_a_reinstall_keeps_the_channel_selection_and_replaces_the_token(sqlite_url: str, acme: DemoOrgCorpus) -> None:
    org_id = new_org(sqlite_url)
    with write_transaction(sqlite_url) as conn:
        existing = upsert_connection(
            conn,
            org_id=org_id,
            source="slack",
            name="slack",
            kind=ConnectionKind.API,
            config={"channels": ["C0ABC"], "internal_domains": ["acme.example"]},
            is_active=False,
        )
        store_credentials(conn, connection_id=existing, values={"bot_token": "xoxb-old-token"})
    with FakeSlackServer(acme.slack) as fake:
        _, query = install_url_for(org_id, fake.client_id)
        fake.register_code("code-again", redirect_uri=REDIRECT_URI)
        with write_transaction(sqlite_url) as conn:
            assert finish(conn, fake, f"{REDIRECT_URI}?code=code-again&state={query['state'][0]}") == existing
        (token,) = fake.issued
    with read_connection(sqlite_url) as conn:
        row = conn.execute(select(SourceConnection).where(SourceConnection.id == existing)).one()
    assert row.is_active and row.config["channels"] == ["C0ABC"] and row.config["internal_domains"] == ["acme.example"]
    assert decrypt_credentials(row.credentials_encrypted, connection="x")["bot_token"] == token


def tampered(state: str) -> list[str]:
    version, payload, signature = state.split(".")
    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    forged = base64.urlsafe_b64encode(json.dumps({**data, "org": data["org"] + 1}).encode()).rstrip(b"=").decode()
    flipped = signature[:-1] + ("A" if signature[-1] != "A" else "B")
    return [f"{version}.{forged}.{signature}", f"{version}.{payload}.{flipped}", f"{version}.{payload}", "garbage", ""]


def test_tampered_forged_or_expired_states_are_refused(sqlite_url: str, acme: DemoOrgCorpus) -> None:
    org_id = new_org(sqlite_url)
    _, query = install_url_for(org_id, "1111.2222")
    state = query["state"][0]
    for bad in tampered(state):
        with pytest.raises(InvalidStateError) as raised:
            verify_state(bad, state_secret=STATE_SECRET, now=NOW)
        assert raised.value.code == "invalid_state" and "start the Slack install again" in str(raised.value)
    with pytest.raises(InvalidStateError, match="signature does not match"):
        verify_state(state, state_secret="another-secret", now=NOW)
    assert verify_state(state, state_secret=STATE_SECRET, now=NOW + timedelta(minutes=9)) == org_id
    with pytest.raises(InvalidStateError, match="expired") as expired:
        verify_state(state, state_secret=STATE_SECRET, now=NOW + timedelta(minutes=10))
    assert expired.value.code == "expired_state"
    # Two install links for the same org differ (the nonce), and both verify.
    _, again = install_url_for(org_id, "1111.2222")
    assert again["state"][0] != state
    with FakeSlackServer(acme.slack) as fake:
        fake.register_code("code-x", redirect_uri=REDIRECT_URI)
        for bad in [*tampered(state)[:2]]:
            with write_transaction(sqlite_url) as conn, pytest.raises(InvalidStateError):
                finish(conn, fake, f"{REDIRECT_URI}?{urlencode({'code': 'code-x', 'state': bad})}")
        with write_transaction(sqlite_url) as conn, pytest.raises(InvalidStateError, match="expired"):
            finish(conn, fake, f"{REDIRECT_URI}?code=code-x&state={state}", now=NOW + timedelta(hours=1))
        assert fake.calls("oauth.v2.access") == []  # refused before any exchange
    with read_connection(sqlite_url) as conn:
        assert conn.execute(select(func.count()).select_from(SourceConnection)).scalar_one() == 0


def test_a_cancelled_install_is_refused_clearly(sqlite_url: str, acme: DemoOrgCorpus) -> None:
    org_id = new_org(sqlite_url)
    _, query = install_url_for(org_id, "1111.2222")
    with FakeSlackServer(acme.slack) as fake, write_transaction(sqlite_url) as conn:
        with pytest.raises(InstallDeniedError) as raised:
            finish(conn, fake, f"{REDIRECT_URI}?{urlencode({'error': 'access_denied', 'state': query['state'][0]})}")
        assert fake.requests == []
    assert raised.value.code == "access_denied" and raised.value.status == 400
    assert "cancelled on Slack's consent page" in str(raised.value) and f"organisation {org_id}" in str(raised.value)
    with read_connection(sqlite_url) as conn:
        assert conn.execute(select(func.count()).select_from(SourceConnection)).scalar_one() == 0


@pytest.mark.parametrize(
    ("case", "code", "advice"),
    [
        ("reused_code", "invalid_code", "start the Slack install again"),
        ("other_redirect", "bad_redirect_uri", "SLACK_REDIRECT_URI"),
        ("wrong_secret", "bad_client_secret", "SLACK_CLIENT_SECRET"),
        ("wrong_client", "invalid_client_id", "SLACK_CLIENT_ID"),
        ("few_scopes", "missing_scopes", "users:read.email"),
    ],
)
def test_a_failed_code_exchange_is_a_clear_error(
    sqlite_url: str, acme: DemoOrgCorpus, case: str, code: str, advice: str
) -> None:
    org_id = new_org(sqlite_url)
    _, query = install_url_for(org_id, "1111.2222")
    callback = f"{REDIRECT_URI}?code=code-1&state={query['state'][0]}"
    with FakeSlackServer(acme.slack) as fake:
        fake.register_code(
            "code-1",
            redirect_uri=REDIRECT_URI,
            scopes="channels:history,channels:read" if case == "few_scopes" else ",".join(READ_SCOPES),
        )
        overrides: dict[str, Any] = {
            "other_redirect": {"redirect_uri": "https://elsewhere.example/cb"},
            "wrong_secret": {"client_secret": "not-the-secret-1234"},
            "wrong_client": {"client_id": "9999.0000"},
        }.get(case, {})
        if case == "reused_code":  # someone (a double-submitted callback) exchanged it already
            WebClient(base_url=fake.api_url).oauth_v2_access(
                client_id=fake.client_id, client_secret=fake.client_secret, code="code-1", redirect_uri=REDIRECT_URI
            )
        with write_transaction(sqlite_url) as conn, pytest.raises(SlackInstallError) as raised:
            finish(conn, fake, callback, **overrides)
    assert raised.value.code == code and advice in str(raised.value)
    assert "not-the-secret-1234" not in str(raised.value) and fake.client_secret not in str(raised.value)
    with read_connection(sqlite_url) as conn:
        assert conn.execute(select(func.count()).select_from(SourceConnection)).scalar_one() == 0


def test_slack_unavailable_during_the_exchange_is_a_retryable_error(sqlite_url: str, acme: DemoOrgCorpus) -> None:
    org_id = new_org(sqlite_url)
    _, query = install_url_for(org_id, "1111.2222")
    with FakeSlackServer(acme.slack) as fake:
        fake.fail("oauth.v2.access", "server_error", times=5)
        fake.register_code("code-1", redirect_uri=REDIRECT_URI)
        with write_transaction(sqlite_url) as conn, pytest.raises(SlackInstallError) as raised:
            finish(conn, fake, f"{REDIRECT_URI}?code=code-1&state={query['state'][0]}")
    assert raised.value.code == "slack_unavailable" and raised.value.status == 502
    assert "code-1" not in str(raised.value)


def test_an_install_for_an_organisation_that_no_longer_exists_is_refused(sqlite_url: str, acme: DemoOrgCorpus) -> None:
    _, query = install_url_for(4242, "1111.2222")
    with FakeSlackServer(acme.slack) as fake, write_transaction(sqlite_url) as conn:
        fake.register_code("code-1", redirect_uri=REDIRECT_URI)
        with pytest.raises(SlackInstallError) as raised:
            finish(conn, fake, f"{REDIRECT_URI}?code=code-1&state={query['state'][0]}")
    assert raised.value.code == "unknown_organization" and raised.value.status == 404


def test_the_endpoints_settings_come_from_the_environment(sqlite_url: str, acme: DemoOrgCorpus) -> None:
    with pytest.raises(SlackInstallError) as raised:
        SlackOAuthSettings.from_env({"SLACK_CLIENT_ID": "1111.2222"})
    assert raised.value.code == "not_configured" and raised.value.status == 503
    assert "SLACK_CLIENT_SECRET, SLACK_REDIRECT_URI" in str(raised.value)
    org_id = new_org(sqlite_url)
    with FakeSlackServer(acme.slack) as fake:
        env = {
            "SLACK_CLIENT_ID": fake.client_id,
            "SLACK_CLIENT_SECRET": fake.client_secret,
            "SLACK_REDIRECT_URI": REDIRECT_URI,
            "SLACK_API_BASE_URL": fake.api_url,
        }
        settings = SlackOAuthSettings.from_env(env)
        api_url, client_id = fake.api_url, fake.client_id
        # Without HEADWAY_SLACK_STATE_SECRET the state key is derived from the client secret, never equal to it.
        assert settings.state_secret and settings.state_secret != fake.client_secret
        assert SlackOAuthSettings.from_env({**env, "HEADWAY_SLACK_STATE_SECRET": "s3"}).state_secret == "s3"
        url = install_redirect_url(org_id, settings=settings, now=NOW)
        state = parse_qs(urlsplit(url).query)["state"][0]
        fake.register_code("code-env", redirect_uri=REDIRECT_URI)
        with write_transaction(sqlite_url) as conn:
            connection_id = complete_install_from_settings(
                conn, code="code-env", state=state, settings=settings, now=NOW + timedelta(seconds=30)
            )
    with read_connection(sqlite_url) as conn:
        config = conn.execute(select(SourceConnection.config).where(SourceConnection.id == connection_id)).scalar_one()
    assert config["base_url"] == api_url and config["client_id"] == client_id


# ---- the fake itself --------------------------------------------------------------------------


def test_the_fake_pages_history_newest_first_with_consistent_cursors(
    acme: DemoOrgCorpus, slack: FakeSlackServer
) -> None:
    channel = next(c["id"] for c in acme.slack.channels if c["name"] == "ext-globex")
    top = acme.slack.top_level(channel)
    oldest, latest = top[2]["ts"], top[9]["ts"]

    def post(arguments: dict[str, str]) -> dict[str, Any]:
        request = urllib.request.Request(
            f"{slack.api_url}conversations.history?{urlencode(arguments)}",
            headers={"Authorization": f"Bearer {slack.bot_token}"},
        )
        with urllib.request.urlopen(request) as answer:  # a GET with query parameters also works
            data: dict[str, Any] = json.loads(answer.read())
            return data

    def collect(arguments: dict[str, str]) -> list[str]:
        seen: list[str] = []
        cursor = ""
        while True:
            page = post({**arguments, "cursor": cursor})
            assert page["ok"] and page["has_more"] == bool(page["response_metadata"]["next_cursor"])
            assert len(page["messages"]) <= 3  # the fake's page size caps the limit
            seen += [m["ts"] for m in page["messages"]]
            cursor = page["response_metadata"]["next_cursor"]
            if not cursor:
                return seen

    bounds = {"channel": channel, "oldest": oldest, "latest": latest}
    # Exclusive bounds by default, newest first.
    assert collect({**bounds, "limit": "2"}) == [m["ts"] for m in reversed(top[3:9])]
    assert collect({**bounds, "inclusive": "1", "limit": "100"}) == [m["ts"] for m in reversed(top[2:10])]
    assert post({"channel": channel, "cursor": "bm9wZQ=="}) == {"ok": False, "error": "invalid_cursor"}
    assert post({"channel": channel, "oldest": "yesterday"}) == {"ok": False, "error": "invalid_ts_oldest"}
    slack.fail("conversations.history", "ratelimit", times=1, retry_after="3")
    with pytest.raises(urllib.error.HTTPError) as limited:
        post({"channel": channel})
    assert limited.value.code == 429 and limited.value.headers["Retry-After"] == "3"
    assert json.loads(limited.value.read()) == {"ok": False, "error": "ratelimited"}
