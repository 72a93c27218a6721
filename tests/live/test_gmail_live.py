"""The live Gmail reader (httpx) against the local fake Gmail API, through the real raw asset.

The fake serves the demo corpus's support mailboxes. The expected messages of a window are
the corpus mails whose Gmail internal date falls in it (spam left out), read by the Takeout
mbox reader, so the live reader must agree with the export reader mail for mail.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import httpx
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import func, select

from headway_assets.assets.raw_messages import (
    CHECK_CONNECTIONS_SYNCED,
    CHECK_NO_DUPLICATES,
    CHECK_REMOVALS_WITHIN_LIMIT,
    CHECK_SENT_AT_IN_WINDOW,
    CHECK_WINDOW_COMPLETE,
    RAW_MESSAGE_ASSETS,
)
from headway_assets.core.credentials import KEY_ENV, Credentials, decrypt_credentials
from headway_assets.core.message import NormalisedMessage, ReadResult, SourceReadError, TimeWindow
from headway_assets.core.warehouse.database import get_engine, migrate
from headway_assets.core.warehouse.ingestion import ConnectionInfo
from headway_assets.core.warehouse.schema import (
    ConnectionKind,
    Message,
    SkippedItem,
    SourceConnection,
    SyncRun,
    SyncStatus,
)
from headway_assets.core.warehouse.tenants import store_credentials, upsert_connection, upsert_organization
from headway_assets.demo import DemoCorpus, DemoOrgCorpus, build_demo_corpus, mbox_bytes
from headway_assets.resources.sources import SourcesResource
from headway_assets.resources.warehouse import WarehouseResource
from headway_assets.sources.dispatch import live_reader_for
from headway_assets.sources.gmail.export import read_gmail_mbox
from headway_assets.sources.gmail.live import (
    CLIENT_ID_ENV,
    CLIENT_SECRET_ENV,
    GmailLiveReader,
    decode_base64url,
    message_from_gmail_payload,
    window_query,
)
from headway_assets.sources.live.base import LiveReadRequest
from headway_assets.testing.fakes.gmail_server import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    FakeGmailAccount,
    FakeGmailMessage,
    FakeGmailServer,
    GmailFault,
)

PARTITION = "2026-10-06"
DAY = TimeWindow(datetime(2026, 10, 6, tzinfo=UTC), datetime(2026, 10, 7, tzinfo=UTC))
WEEK = TimeWindow(datetime(2026, 10, 5, tzinfo=UTC), datetime(2026, 10, 12, tzinfo=UTC))
EMPTY_PARTITION = "2026-09-15"
GMAIL_ASSET = next(a for a in RAW_MESSAGE_ASSETS if a.key.path[-1] == "raw_gmail_messages")
CONNECTION_NAME = "Support mailbox (Gmail API)"
# Fast retries: the fake sends Retry-After 0 (or nothing) and the backoff base is tiny.
FAST_RETRIES = {"retry_base_delay_s": 0.01, "retry_max_delay_s": 0.05, "max_retries": 12}


# -- fixtures and helpers ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def corpus() -> DemoCorpus:
    """The default demo corpus (built once: it takes a few seconds)."""
    return build_demo_corpus()


@pytest.fixture(autouse=True)
def _environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, Fernet.generate_key().decode())
    monkeypatch.delenv(CLIENT_ID_ENV, raising=False)
    monkeypatch.delenv(CLIENT_SECRET_ENV, raising=False)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """An empty, migrated SQLite warehouse."""
    url = f"sqlite:///{tmp_path / 'warehouse.db'}"
    migrate(url)
    return url


def account_for(org: DemoOrgCorpus, *, access: str | None = None, refresh: str | None = None) -> FakeGmailAccount:
    """The fake account of one demo org's support mailbox."""
    return FakeGmailAccount.from_mailbox(org.gmail, access_token=access, refresh_token=refresh)


@pytest.fixture
def fake(corpus: DemoCorpus) -> Iterator[FakeGmailServer]:
    """The fake Gmail API serving both demo orgs' mailboxes."""
    with FakeGmailServer([account_for(org) for org in corpus]) as server:
        yield server


def credentials_of(account: FakeGmailAccount, **extra: Any) -> dict[str, Any]:
    """Valid OAuth credentials for `account` (client id/secret included)."""
    return {
        "access_token": account.access_token,
        "refresh_token": account.refresh_token,
        "expires_at": int(time.time()) + 3000,
        "client_id": DEFAULT_CLIENT_ID,
        "client_secret": DEFAULT_CLIENT_SECRET,
        **extra,
    }


def connection_config(server: FakeGmailServer, org: DemoOrgCorpus, **extra: Any) -> dict[str, Any]:
    """A live connection's config pointing at the fake."""
    return {
        "base_url": server.url,
        "token_url": server.token_url(),
        "internal_domains": list(org.org.internal_domains),
        "page_size": 4,
        **FAST_RETRIES,
        **extra,
    }


def add_connection(
    url: str, org: DemoOrgCorpus, config: dict[str, Any], credentials: dict[str, Any] | None
) -> tuple[int, int]:
    """Create the org and its live Gmail connection with encrypted credentials; (org id, connection id)."""
    with get_engine(url).begin() as conn:
        org_id = upsert_organization(conn, slug=org.org.slug, name=org.org.name)
        connection_id = upsert_connection(
            conn, org_id=org_id, source="gmail", name=CONNECTION_NAME, kind=ConnectionKind.API, config=config
        )
        if credentials is not None:
            store_credentials(conn, connection_id=connection_id, values=credentials)
    return org_id, connection_id


def materialise(url: str, tmp_path: Path, partition: str = PARTITION) -> tuple[dg.ExecuteInProcessResult, Any]:
    """Materialise `raw_gmail_messages` for one partition; (result, instance)."""
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize(
        [GMAIL_ASSET],
        partition_key=partition,
        resources={
            "warehouse": WarehouseResource(database_url=url),
            "sources": SourcesResource(data_dir=str(tmp_path)),
        },
        instance=instance,
    )
    assert result.success
    return result, instance


def checks(result: dg.ExecuteInProcessResult) -> dict[str, bool]:
    """Asset check name -> passed."""
    return {e.check_name: e.passed for e in result.get_asset_check_evaluations()}


def stored(url: str, org_id: int, window: TimeWindow) -> list[tuple[str, datetime, str | None]]:
    """(external id, sent at, thread id) of the org's Gmail rows in the window."""
    with get_engine(url).connect() as conn:
        rows = conn.execute(
            select(Message.external_id, Message.sent_at, Message.thread_id).where(
                Message.org_id == org_id,
                Message.source == "gmail",
                Message.sent_at >= window.start,
                Message.sent_at < window.end,
            )
        )
        return [(r.external_id, r.sent_at, r.thread_id) for r in rows]


def sync_runs(url: str, connection_id: int) -> list[Any]:
    """The connection's sync history, oldest first."""
    with get_engine(url).connect() as conn:
        return list(conn.execute(select(SyncRun).where(SyncRun.connection_id == connection_id).order_by(SyncRun.id)))


def expected_mail(org: DemoOrgCorpus, window: TimeWindow, tmp_path: Path) -> tuple[set[str], set[str]]:
    """(Message-IDs the window must yield, Message-IDs that are skipped for having no text).

    Selected from the corpus on Gmail's internal date (spam, trash and chats left out, as the
    API's default listing does), then read by the Takeout mbox reader as the oracle.
    """
    chosen = [
        m
        for m in org.gmail.messages
        if window.contains(m.internal_date) and not {"SPAM", "TRASH", "CHAT"} & set(m.label_ids)
    ]
    path = tmp_path / f"oracle-{org.org.slug}-{window.start:%Y%m%d}-{window.end:%Y%m%d}.mbox"
    path.write_bytes(mbox_bytes(chosen))
    # The mbox reader dates mail by its Date header: a wider window keeps every chosen mail.
    wide = TimeWindow(window.start - timedelta(days=1), window.end + timedelta(days=1))
    result = read_gmail_mbox(path, wide, internal_domains=org.org.internal_domains, mailbox=org.gmail.address)
    ids = {m.external_id for m in result.messages}
    return ids, {m.message_id for m in chosen} - ids


def live_request(
    server: FakeGmailServer,
    org: DemoOrgCorpus,
    window: TimeWindow,
    *,
    credentials: dict[str, Any] | None = None,
    config: dict[str, Any] | None = None,
    max_messages: int | None = None,
    resume_state: dict[str, Any] | None = None,
    saved: list[dict[str, Any]] | None = None,
) -> LiveReadRequest:
    """A reader-level request for one org's mailbox on the fake."""
    account = server.accounts[org.gmail.address]
    return LiveReadRequest(
        connection=ConnectionInfo(
            id=1,
            org_id=1,
            org_slug=org.org.slug,
            source="gmail",
            kind=ConnectionKind.API.value,
            name=CONNECTION_NAME,
            config=config if config is not None else connection_config(server, org),
        ),
        credentials=Credentials(credentials if credentials is not None else credentials_of(account)),
        window=window,
        max_messages=max_messages,
        resume_state=resume_state or {},
        save_credentials=saved.append if saved is not None else None,
    )


def read(request: LiveReadRequest, sleeps: list[float] | None = None) -> ReadResult:
    """Run the live reader; with `sleeps`, backoff waits are recorded instead of slept."""
    if sleeps is None:
        return GmailLiveReader().read(request)
    return GmailLiveReader(sleep=sleeps.append).read(request)


def ids_of(messages: list[NormalisedMessage]) -> list[str]:
    """External ids in order."""
    return [m.external_id for m in messages]


def fetched_ids(server: FakeGmailServer) -> list[str]:
    """Message ids of every answered users.messages.get, in request order."""
    return [
        r.path.rsplit("/", 1)[1] for r in server.requests if r.endpoint == "get" and r.status == 200 and not r.fault
    ]


# -- through the raw asset -----------------------------------------------------------------------


def test_partition_holds_exactly_the_window_across_pages(
    database_url: str, tmp_path: Path, corpus: DemoCorpus, fake: FakeGmailServer
) -> None:
    orgs = list(corpus)
    connections = {}
    for org in orgs:
        account = fake.accounts[org.gmail.address]
        connections[org.org.slug] = add_connection(
            database_url, org, connection_config(fake, org), credentials_of(account)
        )

    result, _ = materialise(database_url, tmp_path)

    assert checks(result) == {
        CHECK_WINDOW_COMPLETE: True,
        CHECK_NO_DUPLICATES: True,
        CHECK_SENT_AT_IN_WINDOW: True,
        CHECK_CONNECTIONS_SYNCED: True,
        CHECK_REMOVALS_WITHIN_LIMIT: True,
    }
    for org in orgs:
        org_id, connection_id = connections[org.org.slug]
        expected, skipped = expected_mail(org, DAY, tmp_path)
        rows = stored(database_url, org_id, DAY)
        assert len(expected) >= 8
        assert sorted(r[0] for r in rows) == sorted(expected)  # nothing lost, nothing twice
        by_message_id = {m.message_id: m for m in org.gmail.messages}
        for external_id, sent_at, thread_id in rows:
            demo = by_message_id[external_id]
            assert thread_id == demo.api_thread_id == format(demo.thread_id, "x")
            assert sent_at == demo.internal_date
        (run,) = sync_runs(database_url, connection_id)
        assert run.status == (SyncStatus.PARTIAL.value if skipped else SyncStatus.SUCCESS.value)
        assert run.messages_read == len(expected)
        assert run.items_skipped == len(skipped)
    # Several pages per mailbox, every list call carrying the window query.
    lists = [r for r in fake.requests if r.endpoint == "list"]
    assert len([r for r in lists if "pageToken" in r.params]) >= 4
    assert {r.params["q"][0] for r in lists} == {window_query(DAY.start, DAY.end)}
    assert {r.params["maxResults"][0] for r in lists} == {"4"}


def test_rate_limits_and_server_errors_are_retried_without_loss(
    sqlite_url: str, tmp_path: Path, corpus: DemoCorpus, fake: FakeGmailServer
) -> None:
    org = corpus.org("acme")
    account = fake.accounts[org.gmail.address]
    org_id, connection_id = add_connection(sqlite_url, org, connection_config(fake, org), credentials_of(account))
    for fault in (
        GmailFault("list", 429, retry_after="0", times=2),
        GmailFault("list", 500),
        GmailFault("get", 403, reason="userRateLimitExceeded", times=2),
        GmailFault("get", 403, reason="rateLimitExceeded"),
        GmailFault("get", 429, reason="rateLimitExceeded", retry_after="0"),
        GmailFault("get", 503, times=2),
        GmailFault("get", 502),
        GmailFault("get", malformed=True),
        GmailFault("profile", 503),
    ):
        fake.add_fault(fault)

    result, _ = materialise(sqlite_url, tmp_path)

    expected, _ = expected_mail(org, DAY, tmp_path)
    assert sorted(r[0] for r in stored(sqlite_url, org_id, DAY)) == sorted(expected)
    assert checks(result)[CHECK_WINDOW_COMPLETE] and checks(result)[CHECK_CONNECTIONS_SYNCED]
    assert sync_runs(sqlite_url, connection_id)[-1].status in (SyncStatus.SUCCESS.value, SyncStatus.PARTIAL.value)
    faults = [r for r in fake.requests if r.fault]
    assert len(faults) == 12  # every scripted fault was hit, and retried past
    assert len(fetched_ids(fake)) == len(set(fetched_ids(fake)))  # each mail fetched once


def test_empty_window_is_a_successful_sync_with_no_messages(
    sqlite_url: str, tmp_path: Path, corpus: DemoCorpus, fake: FakeGmailServer
) -> None:
    org = corpus.org("northwind")
    account = fake.accounts[org.gmail.address]
    org_id, connection_id = add_connection(sqlite_url, org, connection_config(fake, org), credentials_of(account))

    result, _ = materialise(sqlite_url, tmp_path, EMPTY_PARTITION)

    window = TimeWindow(datetime(2026, 9, 15, tzinfo=UTC), datetime(2026, 9, 16, tzinfo=UTC))
    assert stored(sqlite_url, org_id, window) == []
    (run,) = sync_runs(sqlite_url, connection_id)
    assert (run.status, run.messages_read, run.error) == (SyncStatus.SUCCESS.value, 0, None)
    assert all(checks(result).values())
    assert fake.calls("list") == 1 and fake.calls("get") == 0


def test_revoked_connection_fails_alone_and_the_other_lands(
    sqlite_url: str, tmp_path: Path, corpus: DemoCorpus, fake: FakeGmailServer
) -> None:
    acme, northwind = corpus.org("acme"), corpus.org("northwind")
    revoked = fake.accounts[acme.gmail.address]
    fake.revoke_access_token(revoked.access_token)
    fake.revoke_refresh_token(revoked.refresh_token)
    acme_ids = add_connection(sqlite_url, acme, connection_config(fake, acme), credentials_of(revoked))
    healthy = fake.accounts[northwind.gmail.address]
    northwind_ids = add_connection(sqlite_url, northwind, connection_config(fake, northwind), credentials_of(healthy))

    result, _ = materialise(sqlite_url, tmp_path)

    (failed,) = sync_runs(sqlite_url, acme_ids[1])
    assert failed.status == SyncStatus.FAILED.value
    assert "invalid_grant" in failed.error and "reconnect Gmail" in failed.error
    assert revoked.access_token not in failed.error and revoked.refresh_token not in failed.error
    assert stored(sqlite_url, acme_ids[0], DAY) == []
    expected, _ = expected_mail(northwind, DAY, tmp_path)
    assert sorted(r[0] for r in stored(sqlite_url, northwind_ids[0], DAY)) == sorted(expected)
    outcome = checks(result)
    assert outcome[CHECK_CONNECTIONS_SYNCED] is False
    assert outcome[CHECK_NO_DUPLICATES] and outcome[CHECK_SENT_AT_IN_WINDOW]
    with get_engine(sqlite_url).connect() as conn:
        last_error = conn.execute(
            select(SourceConnection.last_error).where(SourceConnection.id == acme_ids[1])
        ).scalar_one()
    assert last_error == failed.error  # the connection shows why it stopped


def test_capped_runs_resume_until_the_window_is_whole(
    sqlite_url: str, tmp_path: Path, corpus: DemoCorpus, fake: FakeGmailServer
) -> None:
    org = corpus.org("acme")
    account = fake.accounts[org.gmail.address]
    cap = 3
    config = connection_config(fake, org, page_size=2, max_messages_per_sync=cap)
    org_id, connection_id = add_connection(sqlite_url, org, config, credentials_of(account))
    expected, _ = expected_mail(org, DAY, tmp_path)
    runs_needed = math.ceil(len(expected) / cap)
    assert runs_needed >= 3

    completeness = []
    for _ in range(runs_needed + 2):
        result, _ = materialise(sqlite_url, tmp_path)
        completeness.append(checks(result)[CHECK_WINDOW_COMPLETE])
        rows = stored(sqlite_url, org_id, DAY)
        assert len(rows) == len({r[0] for r in rows}), "a message was stored twice"
        assert checks(result)[CHECK_NO_DUPLICATES]
        if completeness[-1]:
            break

    # The check fails on every capped run and passes on the one that finished the window.
    assert completeness == [False] * (runs_needed - 1) + [True]
    assert sorted(r[0] for r in stored(sqlite_url, org_id, DAY)) == sorted(expected)
    history = sync_runs(sqlite_url, connection_id)
    assert [r.status for r in history[:-1]] == [SyncStatus.INCOMPLETE.value] * (runs_needed - 1)
    assert all(r.messages_read == cap for r in history[:-1])
    assert history[0].resume_state["pending"] or history[0].resume_state["page_token"]
    assert history[-1].status in (SyncStatus.SUCCESS.value, SyncStatus.PARTIAL.value)
    assert len(fetched_ids(fake)) == len(set(fetched_ids(fake)))  # no mail fetched twice across runs


def test_401_refreshes_the_token_and_persists_it_encrypted(
    sqlite_url: str, tmp_path: Path, corpus: DemoCorpus, fake: FakeGmailServer
) -> None:
    org = corpus.org("acme")
    account = fake.accounts[org.gmail.address]
    fake.revoke_access_token(account.access_token)  # expired early, as Google may do
    original = credentials_of(account)
    org_id, connection_id = add_connection(sqlite_url, org, connection_config(fake, org), original)

    materialise(sqlite_url, tmp_path)

    with get_engine(sqlite_url).connect() as conn:
        encrypted = conn.execute(
            select(SourceConnection.credentials_encrypted).where(SourceConnection.id == connection_id)
        ).scalar_one()
    assert encrypted is not None
    assert account.access_token not in encrypted and fake.issued_tokens[0] not in encrypted
    saved = decrypt_credentials(encrypted, connection="test")
    assert fake.issued_tokens == [saved["access_token"]]
    assert saved["refresh_token"] == original["refresh_token"]
    assert saved["client_id"] == original["client_id"] and saved["client_secret"] == original["client_secret"]
    assert abs(saved["expires_at"] - (time.time() + fake.expires_in)) < 60
    assert fake.calls("token") == 1
    assert [r.status for r in fake.requests[:3]] == [401, 200, 200]  # profile 401, token, profile again
    expected, _ = expected_mail(org, DAY, tmp_path)
    assert sorted(r[0] for r in stored(sqlite_url, org_id, DAY)) == sorted(expected)


def test_expired_access_token_is_refreshed_before_the_first_call(
    sqlite_url: str, tmp_path: Path, corpus: DemoCorpus, fake: FakeGmailServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    org = corpus.org("northwind")
    account = fake.accounts[org.gmail.address]
    monkeypatch.setenv(CLIENT_ID_ENV, DEFAULT_CLIENT_ID)
    monkeypatch.setenv(CLIENT_SECRET_ENV, DEFAULT_CLIENT_SECRET)
    stale = {"access_token": account.access_token, "refresh_token": account.refresh_token, "expires_at": 1_700_000_000}
    org_id, connection_id = add_connection(sqlite_url, org, connection_config(fake, org), stale)

    materialise(sqlite_url, tmp_path)

    assert fake.requests[0].endpoint == "token"
    assert fake.calls("token") == 1 and not [r for r in fake.requests if r.status == 401]
    with get_engine(sqlite_url).connect() as conn:
        encrypted = conn.execute(
            select(SourceConnection.credentials_encrypted).where(SourceConnection.id == connection_id)
        ).scalar_one()
    saved = decrypt_credentials(encrypted, connection="test")
    assert saved["access_token"] == fake.issued_tokens[0]
    assert saved["expires_at"] > time.time()
    assert "client_secret" not in saved  # taken from the environment, not copied into storage
    expected, _ = expected_mail(org, DAY, tmp_path)
    assert sorted(r[0] for r in stored(sqlite_url, org_id, DAY)) == sorted(expected)


def test_refresh_failure_is_a_failed_connection_with_a_secret_free_error(
    sqlite_url: str, tmp_path: Path, corpus: DemoCorpus, fake: FakeGmailServer
) -> None:
    org = corpus.org("northwind")
    account = fake.accounts[org.gmail.address]
    fake.revoke_refresh_token(account.refresh_token)
    creds = credentials_of(account, expires_at=int(time.time()) - 5)
    _, connection_id = add_connection(sqlite_url, org, connection_config(fake, org), creds)

    result, _ = materialise(sqlite_url, tmp_path)

    (run,) = sync_runs(sqlite_url, connection_id)
    assert run.status == SyncStatus.FAILED.value
    assert "refresh token" in run.error and "invalid_grant" in run.error and "reconnect Gmail" in run.error
    assert not [s for s in creds.values() if isinstance(s, str) and s in run.error]
    assert checks(result)[CHECK_CONNECTIONS_SYNCED] is False
    assert fake.calls("list") == 0  # no Gmail call with the stale token


def test_no_secret_reaches_logs_metadata_or_sync_history(
    sqlite_url: str, tmp_path: Path, corpus: DemoCorpus, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    org = corpus.org("acme")
    access, refresh, client_secret = (
        "ya29.SECRET-acme-access-7f3a9c",
        "1//SECRET-acme-refresh-91bd",
        "GOCSPX-SECRET-55aa",
    )
    account = account_for(org, access=access, refresh=refresh)
    with FakeGmailServer([account], client_secret=client_secret) as server:
        creds = credentials_of(account, client_secret=client_secret)
        config = connection_config(server, org, max_retries=2)
        _, connection_id = add_connection(sqlite_url, org, config, creds)
        day_ids = [m.api_id for m in org.gmail.messages if DAY.contains(m.internal_date)]
        texts: list[str] = []
        statuses = []
        for scenario in ("refresh", "500s", "malformed", "revoked"):
            server.clear_faults()
            if scenario == "refresh":  # 401 -> refresh (a new token), one mail deleted under us -> skipped
                server.revoke_access_token(access)
                server.vanish(day_ids[0])
            elif scenario == "500s":  # every get fails: nothing fetched -> failed connection
                server.add_fault(GmailFault("get", 500, times=None))
            elif scenario == "malformed":  # list bodies that are not JSON
                server.add_fault(GmailFault("list", malformed=True, times=None))
            else:  # the refresh token is revoked while the access token is rejected
                server.revoke_access_token(server.issued_tokens[-1])
                server.revoke_refresh_token(refresh)
            result, instance = materialise(sqlite_url, tmp_path)
            texts += [dg.serialize_value(entry) for entry in instance.all_logs(result.run_id)]
            for materialization in result.asset_materializations_for_node(GMAIL_ASSET.node_def.name):
                texts.append(json.dumps({k: str(v) for k, v in materialization.metadata.items()}))
            texts += [str(e.metadata) for e in result.get_asset_check_evaluations()]
            statuses.append(sync_runs(sqlite_url, connection_id)[-1].status)
        secrets = [access, refresh, client_secret, *server.issued_tokens]
    assert statuses == [SyncStatus.PARTIAL.value] + [SyncStatus.FAILED.value] * 3
    with get_engine(sqlite_url).connect() as conn:
        texts += [repr(tuple(row)) for row in conn.execute(select(SyncRun))]
        texts += [repr(tuple(row)) for row in conn.execute(select(SkippedItem))]
        texts += [
            repr(tuple(row)) for row in conn.execute(select(SourceConnection.config, SourceConnection.last_error))
        ]
        assert conn.execute(select(func.count()).select_from(SkippedItem)).scalar_one() >= 1
    assert "HTTP Request: GET" in caplog.text  # the capture saw httpx's own request log
    texts.append(caplog.text)
    everything = "\n".join(texts)
    assert "reconnect Gmail" in everything and "nothing could be read" in everything  # the failures were logged
    assert len(server.issued_tokens) == 1
    for secret in secrets:
        assert secret not in everything, f"a secret leaked: {secret[:8]}..."


# -- the reader on its own -------------------------------------------------------------------------


def test_live_and_mbox_readers_give_the_same_message(corpus: DemoCorpus, tmp_path: Path, fake: FakeGmailServer) -> None:
    compared = 0
    for org in corpus:
        window = TimeWindow(corpus.window_start, corpus.window_end)
        live = read(live_request(fake, org, window, config=connection_config(fake, org, page_size=500)))
        path = tmp_path / f"{org.org.slug}.mbox"
        path.write_bytes(mbox_bytes(org.gmail.messages))
        export = read_gmail_mbox(path, window, internal_domains=org.org.internal_domains, mailbox=org.gmail.address)
        from_mbox = {m.external_id: m for m in export.messages}
        assert sorted(ids_of(live.messages)) == sorted(from_mbox)
        assert sorted(s.reason for s in live.skipped) == sorted(s.reason for s in export.skipped)
        for message in live.messages:
            twin = from_mbox[message.external_id]
            for name in (
                "source", "external_id", "text", "title", "author_name", "author_email", "author_is_internal",
                "customer", "thread_id", "channel", "url",
            ):  # fmt: skip
                assert getattr(message, name) == getattr(twin, name), (name, message.external_id)
            # The API's hex threadId is the mbox's decimal X-GM-THRID.
            assert message.thread_id == format(int(_thrid(path, message.external_id)), "x")
            assert abs(message.sent_at - twin.sent_at) < timedelta(seconds=30)  # internalDate vs Date header
            shared = set(message.metadata) & set(twin.metadata) - {"labels"}
            assert {k: message.metadata[k] for k in shared} == {k: twin.metadata[k] for k in shared}
            compared += 1
    assert compared >= 550


_THRIDS: dict[Path, dict[str, str]] = {}


def _thrid(path: Path, message_id: str) -> str:
    """The X-GM-THRID header of the mail with this Message-ID in an mbox file."""
    if path not in _THRIDS:
        import mailbox

        _THRIDS[path] = {
            str(m["Message-ID"]).strip().strip("<>"): str(m["X-GM-THRID"]) for m in mailbox.mbox(str(path))
        }
    return _THRIDS[path][message_id]


def test_unpadded_base64_and_text_bodies_behind_attachment_ids_read_the_same(
    corpus: DemoCorpus, fake: FakeGmailServer
) -> None:
    org = corpus.org("northwind")
    reference = read(live_request(fake, org, WEEK))
    account = account_for(org)
    with FakeGmailServer([account], pad_base64=False, inline_body_limit=300) as odd:
        result = read(live_request(odd, org, WEEK))
        attachment_calls = odd.calls("attachment", status=200)
    assert attachment_calls >= 5  # long text parts came through the attachments endpoint
    assert [(m.external_id, m.text) for m in result.messages] == [(m.external_id, m.text) for m in reference.messages]
    assert len(result.messages) >= 20


def test_full_payload_rebuilds_into_the_original_mime_structure(corpus: DemoCorpus, fake: FakeGmailServer) -> None:
    org = corpus.org("acme")
    demo = next(m for m in org.gmail.messages if b"multipart/mixed" in m.raw)
    account = fake.accounts[org.gmail.address]
    response = httpx.get(
        f"{fake.url}/gmail/v1/users/me/messages/{demo.api_id}",
        params={"format": "full"},
        headers={"Authorization": f"Bearer {account.access_token}"},
    )
    body = response.json()
    assert isinstance(body["internalDate"], str) and int(body["internalDate"]) == demo.internal_date_ms
    assert isinstance(body["historyId"], str) and isinstance(body["sizeEstimate"], int)
    payload = body["payload"]
    assert payload["partId"] == "" and payload["mimeType"] == "multipart/mixed"
    attachment = next(p for p in payload["parts"] if p["filename"])
    assert "attachmentId" in attachment["body"] and "data" not in attachment["body"]
    rebuilt = message_from_gmail_payload(payload)
    assert [p.get_content_type() for p in rebuilt.walk()][:2] == ["multipart/mixed", "multipart/alternative"]
    assert rebuilt["Message-ID"].strip("<>") == demo.message_id
    assert decode_base64url("aGk") == b"hi" and decode_base64url("aGk=") == b"hi"
    with pytest.raises(ValueError, match="base64url"):
        decode_base64url("a$b")


def test_deleted_and_relabelled_mail_and_chats(corpus: DemoCorpus) -> None:
    org = corpus.org("acme")
    account = account_for(org)
    day = [m for m in account.messages if DAY.contains(datetime.fromtimestamp(m.internal_date_ms / 1000, UTC))]
    chat = FakeGmailMessage(
        id="1a20000000000001",
        thread_id="1a20000000000001",
        label_ids=["CHAT"],
        internal_date_ms=int(DAY.start.timestamp() * 1000) + 3_600_000,
        raw=b"From: a@b.example\r\nMessage-ID: <chat1@b.example>\r\nSubject: chat\r\n\r\nhello from chat\r\n",
    )
    account.messages.append(chat)
    with FakeGmailServer([account]) as server:
        gone, spam, trash = day[0].id, day[1].id, day[2].id
        server.vanish(gone)
        server.relabel(spam, ["SPAM", "UNREAD"])
        server.relabel(trash, ["TRASH"])
        result = read(live_request(server, org, DAY))
        requested = [r.path for r in server.requests if r.endpoint == "get"]
    assert result.ignored == {"spam": 1, "trash": 1}
    assert [s.location for s in result.skipped if "no longer exists" in s.reason] == [f"message {gone}"]
    assert not [p for p in requested if chat.id in p]  # -in:chats kept it out of the listing
    assert "chat1@b.example" not in ids_of(result.messages)
    assert result.complete and len(result.messages) >= 5


def test_retry_after_is_honoured_and_backoff_grows_with_jitter(corpus: DemoCorpus, fake: FakeGmailServer) -> None:
    org = corpus.org("acme")
    config = connection_config(fake, org, retry_base_delay_s=0.5, retry_max_delay_s=30, max_retries=10)
    fake.add_fault(GmailFault("list", 429, retry_after="1"))
    fake.add_fault(GmailFault("get", 503, times=3))
    sleeps: list[float] = []
    result = read(live_request(fake, org, DAY, config=config), sleeps)
    assert result.complete
    assert sleeps[0] == 1.0  # Retry-After, exactly
    assert 0.25 <= sleeps[1] <= 0.5 and 0.5 <= sleeps[2] <= 1.0 and 1.0 <= sleeps[3] <= 2.0
    assert len(sleeps) == 4


def listed_ids(server: FakeGmailServer, org: DemoOrgCorpus, window: TimeWindow) -> list[str]:
    """The window's message ids in the order users.messages.list gives them (newest first)."""
    response = httpx.get(
        f"{server.url}/gmail/v1/users/me/messages",
        params={"q": window_query(window.start, window.end), "maxResults": 500},
        headers={"Authorization": f"Bearer {server.accounts[org.gmail.address].access_token}"},
    )
    return [item["id"] for item in response.json()["messages"]]


@pytest.mark.parametrize(
    ("fault", "max_retries"),
    [
        (GmailFault("get", 500, times=None), 2),  # 5xx outlasting the retry budget
        (GmailFault("get", 429, retry_after="3600", times=None), 5),  # asked to wait far too long
        (GmailFault("get", 403, reason="dailyLimitExceeded", times=None), 5),  # quota gone for the day
        (GmailFault("get", malformed=True, times=None), 2),  # bodies that are not JSON
    ],
    ids=["5xx", "long-retry-after", "daily-quota", "malformed"],
)
def test_a_stopped_read_keeps_what_arrived_and_the_next_one_continues(
    corpus: DemoCorpus, fake: FakeGmailServer, fault: GmailFault, max_retries: int
) -> None:
    org = corpus.org("northwind")
    everything = read(live_request(fake, org, DAY))
    fourth = listed_ids(fake, org, DAY)[3]
    fault = replace(fault, message_id=fourth)  # a copy: the parameter is shared module state
    fake.add_fault(fault)
    config = connection_config(fake, org, max_retries=max_retries)

    first = read(live_request(fake, org, DAY, config=config), sleeps=[])
    assert not first.complete and 1 <= len(first.messages) <= 3
    assert first.resume_state["pending"][0] == fourth
    json.dumps(first.resume_state)  # it is stored as JSON in sync_runs

    fault.times = 0  # the trouble is over
    second = read(live_request(fake, org, DAY, config=config, resume_state=first.resume_state))
    assert second.complete
    assert not set(ids_of(first.messages)) & set(ids_of(second.messages))
    assert sorted(ids_of(first.messages) + ids_of(second.messages)) == sorted(ids_of(everything.messages))


def test_nothing_readable_raises_a_secret_free_error(corpus: DemoCorpus, fake: FakeGmailServer) -> None:
    org = corpus.org("acme")
    account = fake.accounts[org.gmail.address]
    fake.add_fault(GmailFault("get", 500, times=None))
    with pytest.raises(SourceReadError, match="nothing could be read") as caught:
        read(live_request(fake, org, DAY, config=connection_config(fake, org, max_retries=2)), sleeps=[])
    assert account.access_token not in str(caught.value) and account.refresh_token not in str(caught.value)
    assert fake.calls("get") == 3  # the first try and the budget's 2 retries


def test_expired_page_token_restarts_the_listing_without_fetching_twice(
    corpus: DemoCorpus, fake: FakeGmailServer
) -> None:
    org = corpus.org("acme")
    expected = read(live_request(fake, org, DAY))
    fake.requests.clear()
    config = connection_config(fake, org, page_size=2)
    first = read(live_request(fake, org, DAY, config=config, max_messages=3))
    assert not first.complete and first.resume_state["page_token"]
    fake.expire_page_tokens()
    second = read(live_request(fake, org, DAY, config=config, resume_state=first.resume_state))
    assert second.complete
    assert fake.calls("list", status=400) == 1  # the stale token, then a fresh listing
    assert len(fetched_ids(fake)) == len(set(fetched_ids(fake)))
    assert sorted(ids_of(first.messages) + ids_of(second.messages)) == sorted(ids_of(expected.messages))


def test_connection_level_errors_name_the_fix(corpus: DemoCorpus, fake: FakeGmailServer) -> None:
    org = corpus.org("acme")
    account = fake.accounts[org.gmail.address]
    base = credentials_of(account)

    fake.add_fault(GmailFault("profile", 403, reason="domainPolicy"))
    with pytest.raises(SourceReadError, match=r"gmail\.readonly"):
        read(live_request(fake, org, DAY))

    fake.add_fault(GmailFault("profile", 401, times=2))  # still rejected after the refresh
    with pytest.raises(SourceReadError, match="freshly refreshed access token"):
        read(live_request(fake, org, DAY))

    expired = {**base, "expires_at": 1}
    no_client = {k: v for k, v in expired.items() if k not in ("client_id", "client_secret")}
    with pytest.raises(SourceReadError, match=f"{CLIENT_ID_ENV} and {CLIENT_SECRET_ENV}"):
        read(live_request(fake, org, DAY, credentials=no_client))

    with pytest.raises(SourceReadError, match="invalid_client") as caught:
        read(live_request(fake, org, DAY, credentials={**expired, "client_secret": "GOCSPX-wrong-secret"}))
    assert "GOCSPX-wrong-secret" not in str(caught.value)

    with pytest.raises(SourceReadError, match="no refresh token"):
        read(live_request(fake, org, DAY, credentials={"access_token": account.access_token, "expires_at": 1}))

    with pytest.raises(SourceReadError, match="'page_size' must be a number"):
        read(live_request(fake, org, DAY, config=connection_config(fake, org, page_size=0)))

    # The token endpoint's own 5xx is retried; the new token is handed to save_credentials.
    fake.add_fault(GmailFault("token", 503, times=2))
    saved: list[dict[str, Any]] = []
    result = read(live_request(fake, org, DAY, credentials=expired, saved=saved), sleeps=[])
    assert result.complete and len(saved) == 1 and saved[0]["access_token"] == fake.issued_tokens[-1]


def test_the_registry_builds_the_gmail_reader() -> None:
    reader = live_reader_for("gmail")
    assert isinstance(reader, GmailLiveReader) and reader.source == "gmail"


# -- the fake itself -----------------------------------------------------------------------------


def test_fake_speaks_gmail_list_get_and_token_semantics(corpus: DemoCorpus, fake: FakeGmailServer) -> None:
    org = corpus.org("acme")
    token = fake.accounts[org.gmail.address].access_token
    auth = {"Authorization": f"Bearer {token}"}
    messages_url = f"{fake.url}/gmail/v1/users/me/messages"
    in_day = {m.api_id for m in org.gmail.messages if DAY.contains(m.internal_date) and "SPAM" not in m.label_ids}
    not_spam = [m for m in org.gmail.messages if "SPAM" not in m.label_ids]

    by_date = httpx.get(messages_url, params={"q": "after:2026/10/06 before:2026/10/07"}, headers=auth).json()
    assert {m["id"] for m in by_date["messages"]} == in_day and by_date["resultSizeEstimate"] == len(in_day)
    assert set(by_date["messages"][0]) == {"id", "threadId"} and "nextPageToken" not in by_date

    empty = httpx.get(messages_url, params={"q": "after:2020/01/01 before:2020/01/02 -in:chats"}, headers=auth)
    assert empty.status_code == 200 and empty.json() == {"resultSizeEstimate": 0}  # no "messages" key

    default_page = httpx.get(messages_url, headers=auth).json()
    assert len(default_page["messages"]) == 100 and default_page["nextPageToken"]
    big_page = httpx.get(messages_url, params={"maxResults": 10_000}, headers=auth).json()
    assert len(big_page["messages"]) == len(not_spam) and "nextPageToken" not in big_page
    newest_first = sorted(not_spam, key=lambda m: (m.internal_date_ms, m.gmail_id), reverse=True)
    assert [m["id"] for m in big_page["messages"]] == [m.api_id for m in newest_first]

    bad_token = httpx.get(messages_url, params={"pageToken": "123"}, headers=auth)
    assert bad_token.status_code == 400 and bad_token.json()["error"]["errors"][0]["reason"] == "invalidArgument"
    assert httpx.get(messages_url, params={"q": "invoice"}, headers=auth).status_code == 400

    unauthenticated = httpx.get(messages_url).json()["error"]
    assert (unauthenticated["code"], unauthenticated["errors"][0]["reason"]) == (401, "required")
    wrong = httpx.get(messages_url, headers={"Authorization": "Bearer nope"}).json()["error"]
    assert (wrong["code"], wrong["status"], wrong["errors"][0]["reason"]) == (401, "UNAUTHENTICATED", "authError")

    demo = org.gmail.messages[0]
    raw = httpx.get(f"{messages_url}/{demo.api_id}", params={"format": "raw"}, headers=auth).json()
    assert decode_base64url(raw["raw"]) == demo.raw and "payload" not in raw
    minimal = httpx.get(f"{messages_url}/{demo.api_id}", params={"format": "minimal"}, headers=auth).json()
    assert "payload" not in minimal and minimal["labelIds"] == demo.label_ids
    missing = httpx.get(f"{messages_url}/ffffffffffffffff", headers=auth)
    assert missing.status_code == 404 and missing.json()["error"]["errors"][0]["reason"] == "notFound"
    profile = httpx.get(f"{fake.url}/gmail/v1/users/me/profile", headers=auth).json()
    assert profile["emailAddress"] == org.gmail.address and isinstance(profile["historyId"], str)

    form = {
        "grant_type": "refresh_token",
        "refresh_token": fake.accounts[org.gmail.address].refresh_token,
        "client_id": DEFAULT_CLIENT_ID,
        "client_secret": DEFAULT_CLIENT_SECRET,
    }
    refreshed = httpx.post(fake.token_url(), data=form).json()
    assert refreshed["token_type"] == "Bearer" and refreshed["expires_in"] == fake.expires_in
    assert httpx.get(messages_url, headers={"Authorization": f"Bearer {refreshed['access_token']}"}).status_code == 200
    fake.revoke_refresh_token(form["refresh_token"])
    revoked = httpx.post(fake.token_url(), data=form)
    assert revoked.status_code == 400 and revoked.json()["error"] == "invalid_grant"
