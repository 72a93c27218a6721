"""The live Gong reader with the real httpx client against the local fake Gong API.

Reader-level tests cover each fault; materialisation tests run the real raw asset
(`raw_gong_messages`) against the fake for the main cases.
"""

from __future__ import annotations

import base64
import copy
import json
import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import httpx
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from headway_assets.assets.raw_messages import RAW_MESSAGE_ASSETS
from headway_assets.core.credentials import KEY_ENV, Credentials
from headway_assets.core.message import NormalisedMessage, ReadResult, SourceReadError, TimeWindow
from headway_assets.core.warehouse.database import read_connection, write_transaction
from headway_assets.core.warehouse.ingestion import ConnectionInfo, record_hash
from headway_assets.core.warehouse.schema import (
    ConnectionKind,
    Message,
    SkippedItem,
    SourceConnection,
    SyncRun,
)
from headway_assets.core.warehouse.tenants import store_credentials, upsert_connection, upsert_organization
from headway_assets.demo import DemoCorpus, DemoOrgCorpus, build_demo_corpus
from headway_assets.resources.sources import SourcesResource
from headway_assets.resources.warehouse import WarehouseResource
from headway_assets.sources.dispatch import live_reader_for
from headway_assets.sources.gong.export import read_gong_transcripts
from headway_assets.sources.gong.live import GongLiveReader
from headway_assets.sources.live.base import LiveReadRequest
from headway_assets.testing.fakes.gong_server import (
    CALLS,
    DEFAULT_ACCESS_KEY,
    DEFAULT_ACCESS_KEY_SECRET,
    EXTENSIVE,
    TOKEN,
    TRANSCRIPT,
    USERS,
    FakeGongServer,
    demo_call_ids,
)

BUSY_DAY = "2026-10-23"  # acme: 5 calls
EMPTY_DAY = "2026-10-04"  # no calls in either demo org
NORTHWIND_DAY = "2026-10-12"  # northwind: 4 calls
BASIC = {"access_key": DEFAULT_ACCESS_KEY, "access_key_secret": DEFAULT_ACCESS_KEY_SECRET}
GONG_ASSET = next(a for a in RAW_MESSAGE_ASSETS if a.key.path[-1] == "raw_gong_messages")
# Small waits so the whole module stays fast; the fake sends Retry-After 0 or 1.
FAST_RETRIES = {"retry_base_seconds": 0.01, "retry_max_wait_seconds": 5}


# ---- fixtures and helpers ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def corpus() -> DemoCorpus:
    """The default demo corpus (built once: it takes a second or two)."""
    return build_demo_corpus()


@pytest.fixture
def acme(corpus: DemoCorpus) -> DemoOrgCorpus:
    return corpus.org("acme")


@pytest.fixture
def northwind(corpus: DemoCorpus) -> DemoOrgCorpus:
    return corpus.org("northwind")


@pytest.fixture(autouse=True)
def credentials_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fresh encryption key for stored credentials."""
    monkeypatch.setenv(KEY_ENV, Fernet.generate_key().decode())


@pytest.fixture
def gong(acme: DemoOrgCorpus) -> Iterator[FakeGongServer]:
    """The fake Gong tenant of the acme demo org, two calls per page."""
    with FakeGongServer.from_demo(acme, page_size=2, transcript_page_size=1) as server:
        yield server


def day_window(day: str) -> TimeWindow:
    start = datetime.fromisoformat(day).replace(tzinfo=UTC)
    return TimeWindow(start, start + timedelta(days=1))


def connection_info(org: DemoOrgCorpus, base_url: str | None, **config: Any) -> ConnectionInfo:
    values: dict[str, Any] = {"internal_domains": list(org.org.internal_domains), **FAST_RETRIES, **config}
    if base_url is not None:
        values["base_url"] = base_url
    return ConnectionInfo(
        id=1, org_id=1, org_slug=org.org.slug, source="gong", kind="api", name="gong-live", config=values
    )


def request_for(
    org: DemoOrgCorpus,
    base_url: str | None,
    window: TimeWindow,
    *,
    credentials: dict[str, Any] | None = None,
    max_messages: int | None = None,
    resume_state: dict[str, Any] | None = None,
    save_credentials: Callable[[dict[str, Any]], None] | None = None,
    **config: Any,
) -> LiveReadRequest:
    return LiveReadRequest(
        connection=connection_info(org, base_url, **config),
        credentials=Credentials(BASIC if credentials is None else credentials),
        window=window,
        max_messages=max_messages,
        resume_state=resume_state or {},
        save_credentials=save_credentials,
    )


def read(request: LiveReadRequest, sleeps: list[float] | None = None) -> ReadResult:
    """One read with the real reader; waits are recorded instead of slept."""
    sink = sleeps if sleeps is not None else []
    return GongLiveReader(sleep=sink.append, seed=3).read(request)


def export_messages(org: DemoOrgCorpus, window: TimeWindow, tmp_path: Path) -> list[NormalisedMessage]:
    """What the export reader makes of the same calls saved as a Gong API response file."""
    path = tmp_path / f"{org.org.slug}-gong.json"
    path.write_text(json.dumps({"calls": org.gong.calls, "callTranscripts": org.gong.transcripts}))
    result = read_gong_transcripts(path, window, internal_domains=org.org.internal_domains)
    assert not result.skipped
    return result.messages


def by_id(messages: list[NormalisedMessage]) -> list[NormalisedMessage]:
    return sorted(messages, key=lambda m: (m.sent_at, m.external_id))


def add_connection(
    url: str,
    org: DemoOrgCorpus,
    base_url: str,
    *,
    credentials: dict[str, Any] | None = None,
    name: str = "gong-live",
    **config: Any,
) -> int:
    """An org with one live Gong connection pointing at `base_url`, credentials encrypted."""
    with write_transaction(url) as conn:
        org_id = upsert_organization(conn, slug=org.org.slug, name=org.org.name)
        connection_id = upsert_connection(
            conn,
            org_id=org_id,
            source="gong",
            name=name,
            kind=ConnectionKind.API,
            config={
                "base_url": base_url,
                "internal_domains": list(org.org.internal_domains),
                **FAST_RETRIES,
                **config,
            },
        )
        store_credentials(conn, connection_id=connection_id, values=BASIC if credentials is None else credentials)
    return connection_id


def materialise(
    url: str, day: str, tmp_path: Path, instance: dg.DagsterInstance | None = None
) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [GONG_ASSET],
        partition_key=day,
        resources={
            "warehouse": WarehouseResource(database_url=url),
            "sources": SourcesResource(data_dir=str(tmp_path)),
        },
        instance=instance or dg.DagsterInstance.ephemeral(),
    )


def checks(result: dg.ExecuteInProcessResult) -> dict[str, bool]:
    return {e.check_name: e.passed for e in result.get_asset_check_evaluations()}


def metadata(result: dg.ExecuteInProcessResult) -> dict[str, Any]:
    (event,) = result.get_asset_materialization_events()
    return {k: v.value for k, v in event.materialization.metadata.items()}


def stored(url: str, org_slug: str | None = None) -> list[Any]:
    with read_connection(url) as conn:
        rows = conn.execute(
            select(Message.external_id, Message.record_hash, Message.org_id, Message.connection_id).order_by(
                Message.sent_at, Message.external_id
            )
        ).all()
    return list(rows)


def sync_runs(url: str, connection_id: int | None = None) -> list[Any]:
    query = select(SyncRun).order_by(SyncRun.id)
    if connection_id is not None:
        query = query.where(SyncRun.connection_id == connection_id)
    with read_connection(url) as conn:
        return list(conn.execute(query).all())


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    from headway_assets.core.warehouse.database import migrate

    url = f"sqlite:///{tmp_path / 'warehouse.db'}"
    migrate(url)
    return url


# ---- reader: the window, exactly --------------------------------------------------------------


def test_registry_builds_the_gong_reader() -> None:
    assert isinstance(live_reader_for("gong"), GongLiveReader)


@pytest.mark.parametrize("slug", ["acme", "northwind"])
def test_live_messages_equal_export_messages_for_the_whole_corpus(
    corpus: DemoCorpus, slug: str, tmp_path: Path
) -> None:
    org = corpus.org(slug)
    month = TimeWindow(corpus.window_start, corpus.window_end)
    with FakeGongServer.from_demo(org, page_size=7, transcript_page_size=3) as server:
        result = read(request_for(org, server.base_url, month, transcript_batch_size=5))
        extensive = server.requests_to(EXTENSIVE)
    expected = export_messages(org, month, tmp_path)
    assert len(expected) == len(org.gong.calls) == 43
    assert result.complete and not result.skipped
    # Identical dataclasses: same ids, text, speakers, customer and metadata.
    assert by_id(result.messages) == by_id(expected)
    assert len(extensive) == 7  # ceil(43 / 7) pages


def test_the_window_is_start_inclusive_and_end_exclusive(acme: DemoOrgCorpus) -> None:
    window = day_window(BUSY_DAY)
    at_start, at_end = copy.deepcopy(acme.gong.calls[0]), copy.deepcopy(acme.gong.calls[1])
    at_start["metaData"]["started"] = "2026-10-23T00:00:00Z"
    at_end["metaData"]["started"] = "2026-10-24T00:00:00Z"
    transcripts = [acme.gong.transcript(c["metaData"]["id"]) for c in (at_start, at_end)]
    with FakeGongServer(calls=[at_start, at_end], transcripts=transcripts) as server:
        result = read(request_for(acme, server.base_url, window))
        next_day = read(request_for(acme, server.base_url, day_window("2026-10-24")))
    assert [m.external_id for m in result.messages] == [at_start["metaData"]["id"]]
    assert result.messages[0].sent_at == window.start
    assert [m.external_id for m in next_day.messages] == [at_end["metaData"]["id"]]


def test_requests_follow_gongs_protocol(acme: DemoOrgCorpus, gong: FakeGongServer) -> None:
    window = day_window(BUSY_DAY)
    result = read(request_for(acme, gong.base_url, window, transcript_batch_size=2))
    expected = demo_call_ids(acme, window.start, window.end)
    assert len(expected) == 5
    assert [m.external_id for m in result.messages] == expected

    extensive = gong.requests_to(EXTENSIVE)
    assert len(extensive) == 3  # 5 calls, 2 per page
    first = extensive[0].body
    assert first["filter"] == {"fromDateTime": "2026-10-23T00:00:00Z", "toDateTime": "2026-10-24T00:00:00Z"}
    assert "cursor" not in first
    assert first["contentSelector"]["exposedFields"]["parties"] is True
    assert first["contentSelector"]["exposedFields"]["content"]["topics"] is True
    assert first["contentSelector"]["exposedFields"]["interaction"]["speakers"] is True
    # Later pages send the cursor back in the body with every other input unchanged.
    for later in extensive[1:]:
        assert later.body["cursor"]
        assert {k: v for k, v in later.body.items() if k != "cursor"} == first
    assert len({r.body["cursor"] for r in extensive[1:]}) == 2

    transcript = gong.requests_to(TRANSCRIPT)
    asked: list[str] = []
    for request in transcript:
        flt = request.body["filter"]
        assert flt["fromDateTime"] == first["filter"]["fromDateTime"]
        assert flt["toDateTime"] == first["filter"]["toDateTime"]
        assert 1 <= len(flt["callIds"]) <= 2
        if "cursor" not in request.body:
            asked += flt["callIds"]
    assert asked == expected
    # One transcript per response page: each batch of two takes a cursor-paged second request.
    assert sum(1 for r in transcript if "cursor" in r.body) == 2
    assert {r.auth_scheme for r in gong.requests} == {"Basic"}
    assert all(r.status == 200 for r in gong.requests)


def test_speakers_are_named_through_parties(acme: DemoOrgCorpus, gong: FakeGongServer) -> None:
    window = day_window(BUSY_DAY)
    result = read(request_for(acme, gong.base_url, window))
    call = next(c for c in acme.gong.calls if c["metaData"]["id"] == result.messages[0].external_id)
    speakers = {p["name"] for p in call["parties"] if p.get("speakerId")}
    lines = result.messages[0].text.splitlines()
    assert {line.split(":", 1)[0] for line in lines} <= speakers
    assert "Unknown speaker" not in result.messages[0].text
    assert "unknown_speaker_count" not in result.messages[0].metadata


def test_bearer_token_and_the_oauth_base_url(acme: DemoOrgCorpus) -> None:
    token = "gong-oauth-access-token-1"
    window = day_window(BUSY_DAY)
    with FakeGongServer.from_demo(acme, prefix="/company-17", access_keys={}, bearer_tokens=[token]) as server:
        # No base_url in the config: the reader uses the token's api_base_url_for_customer.
        creds = {"access_token": token, "api_base_url_for_customer": server.base_url}
        result = read(request_for(acme, None, window, credentials=creds))
        schemes = {r.auth_scheme for r in server.requests}
    assert [m.external_id for m in result.messages] == demo_call_ids(acme, window.start, window.end)
    assert schemes == {"Bearer"}


def test_a_base_url_that_is_not_the_tenant_is_a_clear_error(acme: DemoOrgCorpus, gong: FakeGongServer) -> None:
    # The fake's host without the tenant path answers a plain 404 page, not Gong's JSON.
    with pytest.raises(SourceReadError, match="base URL") as raised:
        read(request_for(acme, gong.url, day_window(BUSY_DAY)))
    assert "gong-live" in str(raised.value)


# ---- reader: Gong's 404 for an empty range ---------------------------------------------------


def test_no_calls_in_range_is_an_empty_complete_read(acme: DemoOrgCorpus, gong: FakeGongServer) -> None:
    window = day_window(EMPTY_DAY)
    assert demo_call_ids(acme, window.start, window.end) == []
    result = read(request_for(acme, gong.base_url, window))
    assert result.messages == [] and result.skipped == [] and result.complete
    (only,) = gong.requests
    assert (only.path, only.status) == (EXTENSIVE, 404)


def test_transcript_404_means_the_calls_are_skipped(acme: DemoOrgCorpus) -> None:
    window = day_window(BUSY_DAY)
    expected = demo_call_ids(acme, window.start, window.end)
    with FakeGongServer.from_demo(acme, missing_transcripts=expected) as server:
        result = read(request_for(acme, server.base_url, window))
        statuses = [r.status for r in server.requests_to(TRANSCRIPT)]
    assert statuses == [404]
    assert result.complete and result.messages == []
    assert [s.location for s in result.skipped] == [f"gong call {i}" for i in expected]
    assert all("no transcript" in s.reason for s in result.skipped)


def test_a_call_without_a_transcript_is_skipped_and_the_rest_kept(acme: DemoOrgCorpus) -> None:
    window = day_window(BUSY_DAY)
    expected = demo_call_ids(acme, window.start, window.end)
    with FakeGongServer.from_demo(acme, page_size=2, missing_transcripts=[expected[1]]) as server:
        result = read(request_for(acme, server.base_url, window))
    assert [m.external_id for m in result.messages] == [expected[0], *expected[2:]]
    assert [s.location for s in result.skipped] == [f"gong call {expected[1]}"]
    assert result.complete


# ---- reader: rate limits, 5xx, malformed bodies ---------------------------------------------


def test_rate_limit_retry_after_is_honoured(acme: DemoOrgCorpus, gong: FakeGongServer) -> None:
    gong.add_fault(EXTENSIVE, "rate_limit", times=2, retry_after="1")
    gong.add_fault(TRANSCRIPT, "rate_limit", times=1, after=1, retry_after="4")
    sleeps: list[float] = []
    window = day_window(BUSY_DAY)
    result = read(request_for(acme, gong.base_url, window), sleeps)
    assert sleeps == [1.0, 1.0, 4.0]
    assert [m.external_id for m in result.messages] == demo_call_ids(acme, window.start, window.end)
    assert result.complete
    assert [r.status for r in gong.requests].count(429) == 3


def test_rate_limit_without_retry_after_backs_off_exponentially(acme: DemoOrgCorpus, gong: FakeGongServer) -> None:
    gong.add_fault(EXTENSIVE, "rate_limit", times=3, retry_after=None)
    sleeps: list[float] = []
    result = read(
        request_for(acme, gong.base_url, day_window(BUSY_DAY), retry_base_seconds=2, retry_max_wait_seconds=60), sleeps
    )
    assert result.complete and len(result.messages) == 5
    assert len(sleeps) == 3
    for attempt, wait in enumerate(sleeps):
        assert 2 * 2**attempt * 0.5 <= wait <= 2 * 2**attempt


def test_server_errors_and_cut_bodies_are_retried(acme: DemoOrgCorpus, gong: FakeGongServer) -> None:
    gong.add_fault(EXTENSIVE, "server_error", times=2)
    gong.add_fault(TRANSCRIPT, "server_error", times=1, status=503)
    gong.add_fault(EXTENSIVE, "cut", times=1, after=3)
    window = day_window(BUSY_DAY)
    sleeps: list[float] = []
    result = read(request_for(acme, gong.base_url, window), sleeps)
    assert [m.external_id for m in result.messages] == demo_call_ids(acme, window.start, window.end)
    assert result.complete and not result.skipped
    assert len(sleeps) == 4
    assert sorted(r.status for r in gong.requests if r.fault) == [200, 500, 500, 503]


def test_malformed_bodies_are_retried(acme: DemoOrgCorpus, gong: FakeGongServer) -> None:
    gong.add_fault(EXTENSIVE, "malformed", times=1)
    gong.add_fault(TRANSCRIPT, "malformed", times=2)
    window = day_window(BUSY_DAY)
    result = read(request_for(acme, gong.base_url, window))
    assert [m.external_id for m in result.messages] == demo_call_ids(acme, window.start, window.end)
    assert result.complete


def test_faults_outlasting_the_budget_with_nothing_read_raise(acme: DemoOrgCorpus, gong: FakeGongServer) -> None:
    gong.add_fault(EXTENSIVE, "malformed", times=100)
    with pytest.raises(SourceReadError, match="malformed") as raised:
        read(request_for(acme, gong.base_url, day_window(BUSY_DAY), retry_budget=3))
    assert "retry budget of 3" in str(raised.value)
    assert len(gong.requests_to(EXTENSIVE)) == 4  # first try + 3 retries


@pytest.mark.parametrize("kind", ["server_error", "malformed", "rate_limit", "cut"])
def test_budget_running_out_mid_window_keeps_what_arrived_and_resumes(
    acme: DemoOrgCorpus, gong: FakeGongServer, kind: Any
) -> None:
    window = day_window(BUSY_DAY)
    expected = demo_call_ids(acme, window.start, window.end)
    gong.add_fault(EXTENSIVE, kind, times=100, after=1)
    first = read(request_for(acme, gong.base_url, window, retry_budget=2))
    assert not first.complete
    assert [m.external_id for m in first.messages] == expected[:2]
    assert first.resume_state["cursor"]
    assert first.resume_state["handled_call_ids"] == sorted(expected[:2])

    gong.clear_faults()
    state = json.loads(json.dumps(first.resume_state))  # as stored in sync_runs
    second = read(request_for(acme, gong.base_url, window, resume_state=state))
    assert second.complete
    assert [m.external_id for m in second.messages] == expected[2:]


@pytest.mark.parametrize("endpoint", [EXTENSIVE, TRANSCRIPT])
def test_a_cursor_that_never_advances_is_an_error_not_a_loop(
    acme: DemoOrgCorpus, gong: FakeGongServer, endpoint: str
) -> None:
    gong.add_fault(endpoint, "stuck_cursor", times=100)
    with pytest.raises(SourceReadError, match="paging cannot progress"):
        read(request_for(acme, gong.base_url, day_window(BUSY_DAY)))
    assert len(gong.requests_to(endpoint)) == 2


def test_a_retry_after_longer_than_allowed_stops_without_waiting(acme: DemoOrgCorpus, gong: FakeGongServer) -> None:
    gong.add_fault(EXTENSIVE, "rate_limit", times=1, retry_after="3600")
    sleeps: list[float] = []
    with pytest.raises(SourceReadError, match="3600 s"):
        read(request_for(acme, gong.base_url, day_window(BUSY_DAY), retry_max_wait_seconds=60), sleeps)
    assert sleeps == []


# ---- reader: credentials ----------------------------------------------------------------------


def test_revoked_key_raises_with_advice_and_no_secret(acme: DemoOrgCorpus, gong: FakeGongServer) -> None:
    gong.revoke_all()
    with pytest.raises(SourceReadError) as raised:
        read(request_for(acme, gong.base_url, day_window(BUSY_DAY)))
    message = str(raised.value)
    assert "HTTP 401" in message and "access key" in message and "reconnect" in message
    assert DEFAULT_ACCESS_KEY not in message and DEFAULT_ACCESS_KEY_SECRET not in message


def test_a_key_revoked_mid_read_fails_the_connection(acme: DemoOrgCorpus, gong: FakeGongServer) -> None:
    gong.add_fault(EXTENSIVE, "unauthorized", times=1, after=1)
    with pytest.raises(SourceReadError, match="HTTP 401"):
        read(request_for(acme, gong.base_url, day_window(BUSY_DAY)))
    assert [r.status for r in gong.requests_to(EXTENSIVE)] == [200, 401]


def test_credentials_echoed_by_the_server_are_redacted(acme: DemoOrgCorpus, gong: FakeGongServer) -> None:
    gong.add_fault(EXTENSIVE, "echo_unauthorized")
    with pytest.raises(SourceReadError) as raised:
        read(request_for(acme, gong.base_url, day_window(BUSY_DAY)))
    blob = base64.b64encode(f"{DEFAULT_ACCESS_KEY}:{DEFAULT_ACCESS_KEY_SECRET}".encode()).decode()
    assert "[redacted]" in str(raised.value)
    assert blob not in str(raised.value)


def test_missing_credentials_say_what_to_store(acme: DemoOrgCorpus, gong: FakeGongServer) -> None:
    with pytest.raises(SourceReadError, match="access_key_secret"):
        read(request_for(acme, gong.base_url, day_window(BUSY_DAY), credentials={"access_key": "only-half"}))
    assert gong.requests == []


def test_an_expired_oauth_token_is_refreshed_and_saved(acme: DemoOrgCorpus) -> None:
    saved: list[dict[str, Any]] = []
    window = day_window(BUSY_DAY)
    with FakeGongServer.from_demo(
        acme, access_keys={}, oauth_clients={"client-1": "client-secret-1"}, refresh_tokens=["gong-rt-old"]
    ) as server:
        creds = {
            "access_token": "gong-at-expired",
            "refresh_token": "gong-rt-old",
            "client_id": "client-1",
            "client_secret": "client-secret-1",
        }
        result = read(
            request_for(
                acme,
                server.base_url,
                window,
                credentials=creds,
                save_credentials=saved.append,
                oauth_token_url=server.url + TOKEN,
            )
        )
        issued = list(server.issued_tokens)
    assert [m.external_id for m in result.messages] == demo_call_ids(acme, window.start, window.end)
    (new,) = saved
    assert new["access_token"] == issued[0] != "gong-at-expired"
    assert new["refresh_token"] != "gong-rt-old" and new["client_secret"] == "client-secret-1"


def test_a_refused_refresh_asks_to_reconnect(acme: DemoOrgCorpus) -> None:
    with FakeGongServer.from_demo(acme, access_keys={}, oauth_clients={"client-1": "client-secret-1"}) as server:
        creds = {
            "access_token": "gong-at-expired",
            "refresh_token": "gong-rt-revoked",
            "client_id": "client-1",
            "client_secret": "client-secret-1",
        }
        with pytest.raises(SourceReadError, match="reconnect Gong") as raised:
            read(
                request_for(
                    acme, server.base_url, day_window(BUSY_DAY), credentials=creds, oauth_token_url=server.url + TOKEN
                )
            )
    assert "gong-rt-revoked" not in str(raised.value)


@pytest.mark.parametrize(
    ("config", "match"),
    [
        ({"internal_domains": "acme.example"}, "internal_domains"),
        ({"retry_budget": "many"}, "retry_budget"),
        ({"transcript_batch_size": 0}, "transcript_batch_size"),
        ({"base_url": "ftp://gong.example"}, "not an http"),
    ],
)
def test_bad_connection_config_is_a_clear_error(acme: DemoOrgCorpus, config: dict[str, Any], match: str) -> None:
    with pytest.raises(SourceReadError, match=match):
        base_url = config.pop("base_url", "http://127.0.0.1:9")
        read(request_for(acme, base_url, day_window(BUSY_DAY), **config))


# ---- reader: cap and resume -------------------------------------------------------------------


def read_until_complete(make_request: Callable[[dict[str, Any]], LiveReadRequest], limit: int = 40) -> list[ReadResult]:
    results: list[ReadResult] = []
    state: dict[str, Any] = {}
    for _ in range(limit):
        result = read(make_request(state))
        results.append(result)
        if result.complete:
            return results
        state = json.loads(json.dumps(result.resume_state))
    raise AssertionError(f"no complete read after {limit} capped runs")


def test_capped_reads_converge_to_exactly_the_window(corpus: DemoCorpus, acme: DemoOrgCorpus) -> None:
    month = TimeWindow(corpus.window_start, corpus.window_end)
    with FakeGongServer.from_demo(acme, page_size=3, transcript_page_size=2) as server:
        runs = read_until_complete(
            lambda state: request_for(acme, server.base_url, month, max_messages=4, resume_state=state)
        )
    ids = [m.external_id for r in runs for m in r.messages]
    assert len(ids) == len(set(ids))
    assert sorted(ids) == sorted(demo_call_ids(acme, month.start, month.end))
    assert all(len(r.messages) <= 4 for r in runs)
    assert [r.complete for r in runs] == [False] * (len(runs) - 1) + [True]
    assert len(runs) == 11  # 43 calls, 4 per run


def test_resume_survives_an_expired_cursor(acme: DemoOrgCorpus, gong: FakeGongServer) -> None:
    window = day_window(BUSY_DAY)
    expected = demo_call_ids(acme, window.start, window.end)
    first = read(request_for(acme, gong.base_url, window, max_messages=3))
    assert [m.external_id for m in first.messages] == expected[:3]
    gong.invalidate_cursors()
    second = read(request_for(acme, gong.base_url, window, resume_state=first.resume_state))
    assert second.complete
    assert [m.external_id for m in second.messages] == expected[3:]
    assert 400 in [r.status for r in gong.requests_to(EXTENSIVE)]


def test_a_damaged_resume_state_starts_the_window_over(acme: DemoOrgCorpus, gong: FakeGongServer) -> None:
    window = day_window(BUSY_DAY)
    result = read(request_for(acme, gong.base_url, window, resume_state={"version": 99, "cursor": 5}))
    assert result.complete
    assert [m.external_id for m in result.messages] == demo_call_ids(acme, window.start, window.end)


# ---- the fake itself --------------------------------------------------------------------------


def test_fake_serves_gongs_other_endpoints_and_error_shapes(acme: DemoOrgCorpus, gong: FakeGongServer) -> None:
    auth = (DEFAULT_ACCESS_KEY, DEFAULT_ACCESS_KEY_SECRET)
    with httpx.Client(base_url=gong.base_url, auth=auth) as client:
        missing_dates = client.get(CALLS, params={"fromDateTime": "2026-10-23T00:00:00Z"})
        assert missing_dates.status_code == 400 and missing_dates.json()["errors"]
        day = {"fromDateTime": "2026-10-23T00:00:00Z", "toDateTime": "2026-10-24T00:00:00Z"}
        pages = [client.get(CALLS, params=day).json()]
        while "cursor" in pages[-1]["records"]:
            pages.append(client.get(CALLS, params={**day, "cursor": pages[-1]["records"]["cursor"]}).json())
        assert [p["records"]["currentPageNumber"] for p in pages] == [0, 1, 2]
        assert [p["records"]["currentPageSize"] for p in pages] == [2, 2, 1]
        assert {p["records"]["totalRecords"] for p in pages} == {5}
        window = day_window(BUSY_DAY)
        assert [c["id"] for p in pages for c in p["calls"]] == demo_call_ids(acme, window.start, window.end)
        assert "parties" not in pages[0]["calls"][0]
        users: list[dict[str, Any]] = []
        cursor = None
        while True:
            page = client.get(USERS, params={"cursor": cursor} if cursor else {}).json()
            users += page["users"]
            cursor = page["records"].get("cursor")
            if cursor is None:
                break
        assert [u["id"] for u in users] == [u["id"] for u in acme.gong.users]
        empty = client.post(EXTENSIVE, json={"filter": {"fromDateTime": "2026-10-04T00:00:00Z"}})
        assert empty.status_code != 404  # open-ended range: calls after the date exist
        none = client.post(
            EXTENSIVE, json={"filter": {"fromDateTime": "2026-10-04T00:00:00Z", "toDateTime": "2026-10-05T00:00:00Z"}}
        )
        assert none.status_code == 404 and set(none.json()) == {"requestId", "errors"}
        wrong_filter = client.post(
            EXTENSIVE,
            json={"filter": {"fromDateTime": "2026-10-01T00:00:00Z"}, "cursor": pages[0]["records"]["cursor"]},
        )
        assert wrong_filter.status_code == 400
        no_parties = client.post(EXTENSIVE, json={"filter": {"callIds": [acme.gong.calls[0]["metaData"]["id"]]}})
        assert set(no_parties.json()["calls"][0]) == {"metaData"}
    unauthorised = httpx.post(gong.base_url + EXTENSIVE, json={"filter": {}}, headers={"Authorization": "Bearer nope"})
    assert unauthorised.status_code == 401 and set(unauthorised.json()) == {"requestId", "errors"}


# ---- through the raw asset --------------------------------------------------------------------


def test_raw_asset_writes_exactly_the_window_across_pages_and_faults(
    database_url: str, acme: DemoOrgCorpus, gong: FakeGongServer, tmp_path: Path
) -> None:
    window = day_window(BUSY_DAY)
    connection_id = add_connection(database_url, acme, gong.base_url)
    gong.add_fault(EXTENSIVE, "rate_limit", times=1, after=1, retry_after="1")
    gong.add_fault(TRANSCRIPT, "server_error", times=1)
    gong.add_fault(TRANSCRIPT, "malformed", times=1, after=2)

    result = materialise(database_url, BUSY_DAY, tmp_path)
    assert result.success
    expected = export_messages(acme, window, tmp_path)
    rows = stored(database_url)
    assert [r.external_id for r in rows] == [m.external_id for m in by_id(expected)]
    # Live rows hash exactly like the export reader's messages of the same calls.
    assert [r.record_hash for r in rows] == [record_hash(m) for m in by_id(expected)]
    assert {r.connection_id for r in rows} == {connection_id}
    assert checks(result) == {
        "window_complete": True,
        "no_duplicate_messages": True,
        "sent_at_in_window": True,
        "connections_synced": True,
        "removals_within_limit": True,
    }
    (run,) = sync_runs(database_url)
    assert (run.status, run.messages_read, run.items_skipped, run.resume_state) == ("success", 5, 0, {})
    assert [r.status for r in gong.requests].count(429) == 1

    again = materialise(database_url, BUSY_DAY, tmp_path)
    meta = metadata(again)
    assert (meta["messages"], meta["inserted"], meta["unchanged"], meta["removed"]) == (5, 0, 5, 0)
    assert len(stored(database_url)) == 5


def test_an_empty_day_materialises_with_zero_messages(
    sqlite_url: str, acme: DemoOrgCorpus, gong: FakeGongServer, tmp_path: Path
) -> None:
    add_connection(sqlite_url, acme, gong.base_url)
    result = materialise(sqlite_url, EMPTY_DAY, tmp_path)
    assert result.success
    assert metadata(result)["messages"] == 0
    assert checks(result)["connections_synced"] is True
    assert checks(result)["window_complete"] is True
    (run,) = sync_runs(sqlite_url)
    assert (run.status, run.messages_read, run.error) == ("success", 0, None)
    assert [(r.path, r.status) for r in gong.requests] == [(EXTENSIVE, 404)]
    assert stored(sqlite_url) == []


def test_two_tenants_one_unauthorised_the_other_still_lands(
    sqlite_url: str, acme: DemoOrgCorpus, northwind: DemoOrgCorpus, tmp_path: Path
) -> None:
    window = day_window(NORTHWIND_DAY)
    with (
        FakeGongServer.from_demo(acme, prefix="/us-55616") as acme_gong,
        FakeGongServer.from_demo(northwind, prefix="/eu-20417", page_size=3) as northwind_gong,
    ):
        acme_gong.revoke_all()
        acme_id = add_connection(sqlite_url, acme, acme_gong.base_url)
        northwind_id = add_connection(sqlite_url, northwind, northwind_gong.base_url)
        result = materialise(sqlite_url, NORTHWIND_DAY, tmp_path)
        acme_requests = list(acme_gong.requests)
        northwind_paths = {r.path for r in northwind_gong.requests}

    assert result.success
    rows = stored(sqlite_url)
    assert [r.external_id for r in rows] == demo_call_ids(northwind, window.start, window.end)
    assert {r.connection_id for r in rows} == {northwind_id}
    assert checks(result)["connections_synced"] is False
    assert metadata(result)["connections_failed"] == 1
    (failed,) = sync_runs(sqlite_url, acme_id)
    assert failed.status == "failed" and "HTTP 401" in failed.error and "access key" in failed.error
    (ok,) = sync_runs(sqlite_url, northwind_id)
    assert ok.status == "success" and ok.messages_read == 4
    # Each connection talked only to its own tenant's base URL.
    assert [(r.path, r.status) for r in acme_requests] == [(EXTENSIVE, 401)]
    assert northwind_paths == {EXTENSIVE, TRANSCRIPT}
    with read_connection(sqlite_url) as conn:
        last_error = conn.execute(
            select(SourceConnection.last_error).where(SourceConnection.id == acme_id)
        ).scalar_one()
    assert last_error is not None and "HTTP 401" in last_error


def test_capped_syncs_resume_until_the_partition_is_whole(
    sqlite_url: str, acme: DemoOrgCorpus, gong: FakeGongServer, tmp_path: Path
) -> None:
    window = day_window(BUSY_DAY)
    expected = demo_call_ids(acme, window.start, window.end)
    connection_id = add_connection(sqlite_url, acme, gong.base_url, max_messages_per_sync=2)
    instance = dg.DagsterInstance.ephemeral()
    complete_flags, counts = [], []
    for _ in range(3):
        result = materialise(sqlite_url, BUSY_DAY, tmp_path, instance)
        complete_flags.append(checks(result)["window_complete"])
        counts.append(len(stored(sqlite_url)))
    assert complete_flags == [False, False, True]
    assert counts == [2, 4, 5]
    assert [r.external_id for r in stored(sqlite_url)] == expected
    runs = sync_runs(sqlite_url, connection_id)
    assert [(r.status, r.messages_read) for r in runs] == [("incomplete", 2), ("incomplete", 2), ("success", 1)]
    assert runs[0].resume_state["handled_call_ids"] == sorted(expected[:2])
    assert runs[-1].resume_state == {}


def test_no_secret_reaches_logs_metadata_or_sync_history(
    sqlite_url: str,
    acme: DemoOrgCorpus,
    northwind: DemoOrgCorpus,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    key, secret, token = "SECRETKEY-gong-7f3a9", "SECRETVALUE-gong-91bd2", "SECRETTOKEN-gong-c44e1"
    blob = base64.b64encode(f"{key}:{secret}".encode()).decode()
    instance = dg.DagsterInstance.ephemeral()
    results: list[dg.ExecuteInProcessResult] = []
    caplog.set_level(logging.DEBUG)
    with (
        FakeGongServer.from_demo(acme, page_size=2, access_keys={key: secret}) as acme_gong,
        FakeGongServer.from_demo(northwind, access_keys={}, bearer_tokens=[token]) as northwind_gong,
    ):
        add_connection(
            sqlite_url,
            acme,
            acme_gong.base_url,
            credentials={"access_key": key, "access_key_secret": secret},
            max_messages_per_sync=2,
            retry_budget=1,
        )
        add_connection(sqlite_url, northwind, northwind_gong.base_url, credentials={"access_token": token})
        # 1: a capped run (resume state stored) + a bearer connection whose server echoes the header.
        northwind_gong.add_fault(EXTENSIVE, "echo_unauthorized")
        results.append(materialise(sqlite_url, BUSY_DAY, tmp_path, instance))
        # 2: 500s beyond the budget, and malformed bodies.
        acme_gong.add_fault(EXTENSIVE, "server_error", times=5)
        northwind_gong.add_fault(EXTENSIVE, "malformed", times=10)
        results.append(materialise(sqlite_url, BUSY_DAY, tmp_path, instance))
        # 3: the acme server echoes the Basic header in its 401; 4: every credential revoked.
        acme_gong.clear_faults()
        acme_gong.add_fault(EXTENSIVE, "echo_unauthorized")
        results.append(materialise(sqlite_url, BUSY_DAY, tmp_path, instance))
        acme_gong.revoke_all()
        northwind_gong.revoke_all()
        results.append(materialise(sqlite_url, BUSY_DAY, tmp_path, instance))

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
        for run in conn.execute(select(SyncRun)).all():
            texts.append(repr(tuple(run)))
        for item in conn.execute(select(SkippedItem)).all():
            texts.append(repr(tuple(item)))
        for connection in conn.execute(select(SourceConnection)).all():
            texts.append(repr(tuple(connection)))
    everything = "\n".join(texts)
    # The failure paths did run and were recorded.
    assert "HTTP 401" in everything and "[redacted]" in everything and "retry budget" in everything
    assert "malformed" in everything and "handled_call_ids" in everything
    for value in (key, secret, token, blob):
        assert value not in everything
