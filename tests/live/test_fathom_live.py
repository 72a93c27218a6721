"""The Fathom live reader against the local fake API: through the real raw asset, and fault by fault.

Every test runs the real httpx client against `headway_assets/testing/fakes/fathom_server.py`, which serves the
demo corpus's Fathom meetings. Expected messages are computed from the corpus with the export
parser (`parse_fathom_meeting`) and cross-checked against the corpus's own ground truth.
"""

from __future__ import annotations

import copy
import json
import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from headway_assets.assets.raw_messages import (
    CHECK_CONNECTIONS_SYNCED,
    CHECK_NO_DUPLICATES,
    CHECK_REMOVALS_WITHIN_LIMIT,
    CHECK_SENT_AT_IN_WINDOW,
    CHECK_WINDOW_COMPLETE,
    RAW_MESSAGE_ASSETS,
)
from headway_assets.core.credentials import KEY_ENV, Credentials
from headway_assets.core.message import ReadResult, SourceReadError, TimeWindow
from headway_assets.core.warehouse.database import read_connection, write_transaction
from headway_assets.core.warehouse.ingestion import ConnectionInfo
from headway_assets.core.warehouse.schema import (
    ConnectionKind,
    Message,
    SkippedItem,
    SourceConnection,
    SyncRun,
)
from headway_assets.core.warehouse.tenants import store_credentials, upsert_connection, upsert_organization
from headway_assets.demo import DemoCorpus, build_demo_corpus
from headway_assets.resources.sources import SourcesResource
from headway_assets.resources.warehouse import WarehouseResource
from headway_assets.sources.dispatch import live_reader_for
from headway_assets.sources.fathom.export import (
    fathom_meeting_time,
    parse_fathom_meeting,
    read_fathom_meetings,
)
from headway_assets.sources.fathom.live import KEY_REJECTED, TOKEN_REJECTED, FathomLiveReader
from headway_assets.sources.live.base import LiveReadRequest
from headway_assets.testing.fakes.fathom_server import FakeFathomServer, FathomFault

RAW_FATHOM = next(a for a in RAW_MESSAGE_ASSETS if a.key.path[-1] == "raw_fathom_messages")
# Recognisable, so a leak anywhere is found by a plain substring search.
SECRET_KEY = "fathom-key-ZX81-do-not-leak-4b9e"
# Small retry settings keep the fault tests fast.
FAST_RETRIES: dict[str, Any] = {"max_retries": 6, "retry_backoff_seconds": 0.01, "retry_max_backoff_seconds": 0.05}
ACME_DAY = "2026-10-15"  # four acme meetings; the created_at query range spans three pages of two
NORTHWIND_DAY = "2026-10-16"  # five northwind meetings


# -- fixtures and helpers ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def corpus() -> DemoCorpus:
    """The demo corpus (built once: it takes a few seconds)."""
    return build_demo_corpus()


@pytest.fixture(autouse=True)
def credentials_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fresh Fernet key for encrypting the test connections' credentials."""
    monkeypatch.setenv(KEY_ENV, Fernet.generate_key().decode())


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """An empty migrated SQLite warehouse (for tests that need only one backend)."""
    from headway_assets.core.warehouse.database import migrate

    url = f"sqlite:///{tmp_path / 'warehouse.db'}"
    migrate(url)
    return url


def day_window(day: str) -> TimeWindow:
    start = datetime.fromisoformat(day).replace(tzinfo=UTC)
    return TimeWindow(start, start + timedelta(days=1))


def domains_of(corpus: DemoCorpus, slug: str) -> tuple[str, ...]:
    return tuple(corpus.org(slug).org.internal_domains)


def expected_messages(meetings: list[dict[str, Any]], window: TimeWindow, domains: tuple[str, ...]) -> list[Any]:
    """What the export parser makes of the meetings recorded inside the window, in reader order."""
    chosen = [m for m in meetings if window.contains(fathom_meeting_time(m) or datetime.min.replace(tzinfo=UTC))]
    messages = [parse_fathom_meeting(m, internal_domains=domains) for m in chosen]
    return sorted(messages, key=lambda m: (m.sent_at, m.external_id))


def truth_ids(corpus: DemoCorpus, slug: str, window: TimeWindow) -> set[str]:
    """The corpus's own ground truth: ids of the Fathom items recorded inside the window."""
    return {i.external_id for i in corpus.org(slug).expected_for("fathom") if window.contains(i.sent_at)}


def shifted(
    meeting: dict[str, Any], recording_id: int, start: datetime, *, minutes: int, processing: int
) -> dict[str, Any]:
    """A copy of a demo meeting recorded at `start` for `minutes`, created `processing` minutes after it ended."""
    copy_ = copy.deepcopy(meeting)
    end = start + timedelta(minutes=minutes)
    iso = "%Y-%m-%dT%H:%M:%SZ"
    copy_.update(
        recording_id=recording_id,
        url=f"https://fathom.video/calls/{recording_id}",
        scheduled_start_time=start.strftime(iso),
        scheduled_end_time=end.strftime(iso),
        recording_start_time=start.strftime(iso),
        recording_end_time=end.strftime(iso),
        created_at=(end + timedelta(minutes=processing)).strftime(iso),
    )
    return copy_


def midnight_meetings(corpus: DemoCorpus, day: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Two meetings around the window's edges: one recorded late on `day` and created the next day
    (belongs to the window), one recorded late the day before and created on `day` (does not)."""
    base = corpus.org("acme").fathom.meetings[0]
    start = datetime.fromisoformat(day).replace(tzinfo=UTC)
    inside = shifted(base, 900000001, start + timedelta(hours=23, minutes=40), minutes=35, processing=9)
    before = shifted(base, 900000002, start - timedelta(minutes=25), minutes=20, processing=10)
    return inside, before


def connection_info(base_url: str, **config: Any) -> ConnectionInfo:
    return ConnectionInfo(
        id=1,
        org_id=1,
        org_slug="acme",
        source="fathom",
        kind=ConnectionKind.API.value,
        name="fathom",
        config={"base_url": base_url, **FAST_RETRIES, **config},
    )


def read(
    server: FakeFathomServer,
    window: TimeWindow,
    *,
    credentials: dict[str, Any] | None = None,
    max_messages: int | None = None,
    resume_state: dict[str, Any] | None = None,
    reader: FathomLiveReader | None = None,
    save: list[dict[str, Any]] | None = None,
    **config: Any,
) -> ReadResult:
    request = LiveReadRequest(
        connection=connection_info(server.url, **config),
        credentials=Credentials(credentials or {"api_key": server.api_key}),
        window=window,
        max_messages=max_messages,
        resume_state=resume_state or {},
        save_credentials=save.append if save is not None else None,
    )
    return (reader or FathomLiveReader()).read(request)


def add_connection(
    url: str, *, slug: str, server_url: str, api_key: str, domains: tuple[str, ...], **config: Any
) -> int:
    with write_transaction(url) as conn:
        org_id = upsert_organization(conn, slug=slug, name=slug.title())
        connection_id = upsert_connection(
            conn,
            org_id=org_id,
            source="fathom",
            name="fathom",
            kind=ConnectionKind.API,
            config={"base_url": server_url, "internal_domains": list(domains), **FAST_RETRIES, **config},
        )
        store_credentials(conn, connection_id=connection_id, values={"api_key": api_key})
    return connection_id


def materialise(url: str, day: str, tmp_path: Path) -> tuple[dg.ExecuteInProcessResult, dg.DagsterInstance]:
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize(
        [RAW_FATHOM],
        partition_key=day,
        resources={
            "warehouse": WarehouseResource(database_url=url),
            "sources": SourcesResource(data_dir=str(tmp_path)),
        },
        instance=instance,
    )
    assert result.success
    return result, instance


def checks(result: dg.ExecuteInProcessResult) -> dict[str, bool]:
    return {e.check_name: e.passed for e in result.get_asset_check_evaluations()}


def stored(url: str, connection_id: int) -> list[Any]:
    with read_connection(url) as conn:
        return list(
            conn.execute(
                select(Message.external_id, Message.text, Message.sent_at, Message.customer)
                .where(Message.connection_id == connection_id)
                .order_by(Message.sent_at, Message.external_id)
            )
        )


def sync_runs(url: str, connection_id: int) -> list[Any]:
    with read_connection(url) as conn:
        return list(conn.execute(select(SyncRun).where(SyncRun.connection_id == connection_id).order_by(SyncRun.id)))


@pytest.fixture
def acme_server(corpus: DemoCorpus) -> Iterator[FakeFathomServer]:
    inside, before = midnight_meetings(corpus, ACME_DAY)
    with FakeFathomServer([*corpus.org("acme").fathom.meetings, inside, before], page_size=2) as server:
        yield server


# -- through the raw asset ----------------------------------------------------------------------------------


def test_materialised_partition_holds_exactly_the_window(
    database_url: str, tmp_path: Path, corpus: DemoCorpus, acme_server: FakeFathomServer
) -> None:
    """A raw partition against the fake holds exactly the meetings recorded that day, across pages."""
    window = day_window(ACME_DAY)
    domains = domains_of(corpus, "acme")
    connection_id = add_connection(
        database_url, slug="acme", server_url=acme_server.url, api_key=acme_server.api_key or "", domains=domains
    )
    result, _ = materialise(database_url, ACME_DAY, tmp_path)

    expected = expected_messages(acme_server.meetings, window, domains)
    rows = stored(database_url, connection_id)
    assert [r.external_id for r in rows] == [m.external_id for m in expected]
    assert [r.text for r in rows] == [m.text for m in expected]
    # The corpus's ground truth for the day, plus the meeting recorded before midnight and created after it.
    assert {r.external_id for r in rows} == truth_ids(corpus, "acme", window) | {"900000001"}
    assert "900000002" not in {r.external_id for r in rows}
    pages = acme_server.requests_to("/meetings")
    assert len(pages) >= 3 and all(p.status == 200 for p in pages)
    assert [p.params.get("cursor") is None for p in pages].count(True) == 1
    assert checks(result) == {
        CHECK_WINDOW_COMPLETE: True,
        CHECK_NO_DUPLICATES: True,
        CHECK_SENT_AT_IN_WINDOW: True,
        CHECK_CONNECTIONS_SYNCED: True,
        CHECK_REMOVALS_WITHIN_LIMIT: True,
    }
    [run] = sync_runs(database_url, connection_id)
    assert (run.status, run.messages_read, run.error) == ("success", len(expected), None)


def test_rate_limits_and_server_errors_are_retried_to_the_same_result(
    sqlite_url: str, tmp_path: Path, corpus: DemoCorpus, acme_server: FakeFathomServer
) -> None:
    """429s (with and without Retry-After), a 503, a dropped connection: same messages, no duplicates."""
    domains = domains_of(corpus, "acme")
    acme_server.add_fault(FathomFault.rate_limit(retry_after=0), times=2)
    acme_server.add_fault(FathomFault.rate_limit(retry_after=None, reset_seconds=0), skip=1)
    acme_server.add_fault(FathomFault.server_error(503), skip=2)
    acme_server.add_fault(FathomFault.drop(), skip=3)
    connection_id = add_connection(
        sqlite_url, slug="acme", server_url=acme_server.url, api_key=acme_server.api_key or "", domains=domains
    )
    result, _ = materialise(sqlite_url, ACME_DAY, tmp_path)

    expected = expected_messages(acme_server.meetings, day_window(ACME_DAY), domains)
    assert [r.external_id for r in stored(sqlite_url, connection_id)] == [m.external_id for m in expected]
    faults = [r.fault for r in acme_server.requests_to("/meetings") if r.fault]
    assert sorted(faults) == ["drop", "rate_limit", "rate_limit", "rate_limit", "server_error"]
    assert checks(result)[CHECK_WINDOW_COMPLETE] and checks(result)[CHECK_NO_DUPLICATES]
    assert sync_runs(sqlite_url, connection_id)[0].status == "success"


def test_empty_window_is_a_successful_sync_with_no_messages(
    sqlite_url: str, tmp_path: Path, corpus: DemoCorpus, acme_server: FakeFathomServer
) -> None:
    """A day with no meetings at all (after the corpus month) and a day whose query range only
    holds other days' meetings both end with zero messages and passing checks."""
    connection_id = add_connection(
        sqlite_url,
        slug="acme",
        server_url=acme_server.url,
        api_key=acme_server.api_key or "",
        domains=domains_of(corpus, "acme"),
    )
    for day in ("2026-11-20", "2026-10-10"):
        result, _ = materialise(sqlite_url, day, tmp_path)
        assert all(checks(result).values())
    assert stored(sqlite_url, connection_id) == []
    # 2026-10-10's range (created up to 10-13) does hold meetings, of 10-12: fetched, then left out.
    listed = [r for r in acme_server.requests_to("/meetings") if r.params["created_after"] == ["2026-10-09T23:59:59Z"]]
    assert listed and [run.status for run in sync_runs(sqlite_url, connection_id)] == ["success", "success"]


def test_revoked_key_fails_one_connection_while_the_other_lands(
    sqlite_url: str, tmp_path: Path, corpus: DemoCorpus
) -> None:
    """A revoked key: a failed sync row naming the fix, a failing connections_synced check, and the
    other organisation's meetings still written."""
    window = day_window(NORTHWIND_DAY)
    with (
        FakeFathomServer(corpus.org("acme").fathom.meetings, page_size=2) as acme,
        FakeFathomServer(corpus.org("northwind").fathom.meetings, page_size=2) as northwind,
    ):
        acme.revoke()
        acme_id = add_connection(
            sqlite_url, slug="acme", server_url=acme.url, api_key=acme.api_key or "", domains=domains_of(corpus, "acme")
        )
        northwind_domains = domains_of(corpus, "northwind")
        northwind_id = add_connection(
            sqlite_url,
            slug="northwind",
            server_url=northwind.url,
            api_key=northwind.api_key or "",
            domains=northwind_domains,
        )
        result, _ = materialise(sqlite_url, NORTHWIND_DAY, tmp_path)

        assert [r.status for r in acme.requests] == [401]
        expected = expected_messages(northwind.meetings, window, northwind_domains)
    assert [r.external_id for r in stored(sqlite_url, northwind_id)] == [m.external_id for m in expected]
    assert {m.external_id for m in expected} == truth_ids(corpus, "northwind", window)
    assert stored(sqlite_url, acme_id) == []
    [failed] = sync_runs(sqlite_url, acme_id)
    assert failed.status == "failed" and KEY_REJECTED in failed.error
    assert checks(result)[CHECK_CONNECTIONS_SYNCED] is False
    with read_connection(sqlite_url) as conn:
        last_error = conn.execute(select(SourceConnection.last_error).where(SourceConnection.id == acme_id)).scalar()
    assert last_error is not None and KEY_REJECTED in last_error


def test_capped_syncs_resume_until_the_window_is_whole(sqlite_url: str, tmp_path: Path, corpus: DemoCorpus) -> None:
    """Cap 2 over five meetings on three pages: three runs, window_complete failing until the last,
    then exactly the window's meetings, none twice; each resumed run starts at its saved cursor."""
    window = day_window(NORTHWIND_DAY)
    domains = domains_of(corpus, "northwind")
    with FakeFathomServer(corpus.org("northwind").fathom.meetings, page_size=2) as server:
        connection_id = add_connection(
            sqlite_url,
            slug="northwind",
            server_url=server.url,
            api_key=server.api_key or "",
            domains=domains,
            max_messages_per_sync=2,
        )
        expected = expected_messages(server.meetings, window, domains)
        assert len(expected) == 5
        outcomes = []
        for _ in range(3):
            before = len(server.requests)
            result, _ = materialise(sqlite_url, NORTHWIND_DAY, tmp_path)
            outcomes.append((checks(result)[CHECK_WINDOW_COMPLETE], len(stored(sqlite_url, connection_id))))
            runs = sync_runs(sqlite_url, connection_id)
            first_request = server.requests[before]
            if len(runs) > 1:
                # The resumed run asks for the page it stopped on, not for page one again.
                assert first_request.params.get("cursor") == [runs[-2].resume_state["cursor"]] or (
                    runs[-2].resume_state["cursor"] is None and "cursor" not in first_request.params
                )
        fetched_per_run = [run.messages_read for run in sync_runs(sqlite_url, connection_id)]
    assert outcomes == [(False, 2), (False, 4), (True, 5)]
    assert fetched_per_run == [2, 2, 1]
    assert [r.external_id for r in stored(sqlite_url, connection_id)] == [m.external_id for m in expected]
    statuses = [run.status for run in sync_runs(sqlite_url, connection_id)]
    assert statuses == ["incomplete", "incomplete", "success"]


def test_no_secret_in_logs_metadata_or_sync_history(
    sqlite_url: str, tmp_path: Path, corpus: DemoCorpus, caplog: pytest.LogCaptureFixture
) -> None:
    """A recognisable key, echoed back by the fake in its error bodies, appears nowhere: not in the
    Python logs, the Dagster event log, asset metadata, sync history or skipped items."""
    caplog.set_level(logging.DEBUG)
    domains = domains_of(corpus, "acme")
    texts: list[str] = []
    meetings = corpus.org("acme").fathom.meetings
    scenarios: list[tuple[str, Any]] = [
        ("revoked", lambda s: s.revoke()),
        ("server errors", lambda s: s.add_fault(FathomFault.server_error(500), times=None)),
        ("malformed", lambda s: s.add_fault(FathomFault.malformed(), times=None)),
        ("refused", lambda s: s.add_fault(FathomFault.bad_request(), times=None)),
        ("rate limited, then fine", lambda s: s.add_fault(FathomFault.rate_limit(retry_after=0), times=2)),
        ("no transcript", lambda s: s.missing.add(int(meetings[5]["recording_id"]))),
    ]
    for label, arrange in scenarios:
        with FakeFathomServer(meetings, api_key=SECRET_KEY, page_size=2, echo_credentials_in_errors=True) as server:
            arrange(server)
            add_connection(sqlite_url, slug="acme", server_url=server.url, api_key=SECRET_KEY, domains=domains)
            day = meetings[5]["recording_start_time"][:10]
            result, instance = materialise(sqlite_url, day, tmp_path)
            # The key really went out on every request (so finding it nowhere below means something).
            assert server.requests and all(r.auth == "api_key" for r in server.requests), label
            for entry in instance.all_logs(result.run_id):
                texts.append(entry.user_message or "")
                texts.append(str(entry.dagster_event or ""))
            for materialization in result.asset_materializations_for_node("raw_fathom_messages"):
                texts.append(json.dumps({k: str(v) for k, v in materialization.metadata.items()}))
            for evaluation in result.get_asset_check_evaluations():
                texts.append(json.dumps({k: str(v) for k, v in evaluation.metadata.items()}))
    with read_connection(sqlite_url) as conn:
        runs = list(conn.execute(select(SyncRun.status, SyncRun.error, SyncRun.resume_state)))
        skipped = list(conn.execute(select(SkippedItem.location, SkippedItem.reason)))
        encrypted = conn.execute(select(SourceConnection.credentials_encrypted)).scalar_one()
    texts += [f"{r.status} {r.error} {json.dumps(r.resume_state)}" for r in runs]
    texts += [f"{s.location} {s.reason}" for s in skipped]
    texts.append(caplog.text)
    texts.append(encrypted or "")
    # The failure paths really happened and were recorded (so the search below means something).
    assert sorted(r.status for r in runs) == ["failed", "failed", "failed", "failed", "partial", "success"]
    assert any(KEY_REJECTED in (r.error or "") for r in runs)
    assert any("[redacted]" in (r.error or "") for r in runs)  # the echoed key was removed, not absent
    assert skipped and "404" in skipped[0].reason
    assert not [t for t in texts if SECRET_KEY in t]


# -- reader-level: query, pages, identity -------------------------------------------------------------------


def test_live_messages_are_identical_to_the_export_readers(tmp_path: Path, corpus: DemoCorpus) -> None:
    """Over the whole corpus month, the API reader's messages equal the export reader's, field for field."""
    window = TimeWindow(corpus.window_start, corpus.window_end)
    for org in corpus:
        domains = tuple(org.org.internal_domains)
        export = tmp_path / f"{org.org.slug}.json"
        export.write_text(json.dumps({"items": org.fathom.meetings}))
        exported = read_fathom_meetings(export, window, internal_domains=domains)
        with FakeFathomServer(org.fathom.meetings, page_size=7) as server:
            live = read(server, window, internal_domains=list(domains))
        assert live.complete and not live.skipped
        assert live.messages == exported.messages
        assert {m.external_id for m in live.messages} == truth_ids(corpus, org.org.slug, window)


def test_query_covers_the_window_by_created_at_and_pages_keep_their_parameters(
    corpus: DemoCorpus, acme_server: FakeFathomServer
) -> None:
    """created_after/created_before, include_transcript, the X-Api-Key header, and cursor pages
    that repeat the other parameters unchanged."""
    read(acme_server, day_window(ACME_DAY))
    pages = acme_server.requests_to("/meetings")
    first = pages[0].params
    assert first == {
        "created_after": ["2026-10-14T23:59:59Z"],
        "created_before": ["2026-10-18T00:00:00Z"],
        "include_transcript": ["true"],
    }
    assert all({k: v for k, v in p.params.items() if k != "cursor"} == first for p in pages[1:])
    assert all(p.auth == "api_key" and p.headers["x-api-key"] == "[redacted]" for p in pages)
    assert len({p.params["cursor"][0] for p in pages[1:]}) == len(pages) - 1


def test_created_slack_is_what_catches_meetings_created_after_the_window(
    corpus: DemoCorpus, acme_server: FakeFathomServer
) -> None:
    """Without slack the meeting recorded at 23:40 and processed after midnight is missed."""
    window = day_window(ACME_DAY)
    with_slack = {m.external_id for m in read(acme_server, window).messages}
    without = {m.external_id for m in read(acme_server, window, created_slack_hours=0).messages}
    assert with_slack - without == {"900000001"}


@pytest.mark.parametrize("end_cursor", ["null", "blank", "missing"])
def test_listing_ends_on_a_null_blank_or_missing_next_cursor(corpus: DemoCorpus, end_cursor: Any) -> None:
    window = day_window(NORTHWIND_DAY)
    meetings = corpus.org("northwind").fathom.meetings
    with FakeFathomServer(meetings, page_size=2, end_cursor=end_cursor) as server:
        result = read(server, window)
        assert len(server.requests) == 3
    assert result.complete
    assert [m.external_id for m in result.messages] == [m.external_id for m in expected_messages(meetings, window, ())]


def test_duplicate_listing_of_one_meeting_gives_one_message(corpus: DemoCorpus) -> None:
    meetings = corpus.org("northwind").fathom.meetings
    window = day_window(NORTHWIND_DAY)
    twice = next(m for m in meetings if window.contains(fathom_meeting_time(m) or window.end))
    with FakeFathomServer([*meetings, twice], page_size=2) as server:
        result = read(server, window)
    assert result.ignored == {"duplicate": 1}
    assert len(result.messages) == len({m.external_id for m in result.messages}) == 5


# -- reader-level: retries and rate limits ------------------------------------------------------------------


def test_rate_limit_waits_honour_retry_after_and_ratelimit_reset(corpus: DemoCorpus) -> None:
    """Retry-After (seconds and HTTP date) and RateLimit-Reset decide the waits; else a small backoff."""
    meetings = corpus.org("northwind").fathom.meetings
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        time.sleep(seconds)

    retry_date = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 1))
    with FakeFathomServer(meetings, page_size=2) as server:
        server.add_fault(FathomFault.rate_limit(retry_after=1, reset_seconds=30))
        server.add_fault(FathomFault.rate_limit(retry_after=None, reset_seconds=1), skip=1)
        server.add_fault(FathomFault.rate_limit(retry_after=retry_date, reset_seconds=30), skip=2)
        server.add_fault(FathomFault.server_error(502), skip=3)
        started = time.monotonic()
        result = read(server, day_window(NORTHWIND_DAY), reader=FathomLiveReader(sleep=sleep))
        elapsed = time.monotonic() - started
    assert result.complete and len(result.messages) == 5
    assert waits[:2] == [1.0, 1.0]
    assert 0.0 <= waits[2] <= 2.0
    assert 0.0 < waits[3] <= 0.05  # exponential backoff with jitter, within the configured cap
    assert elapsed >= 2.0


def test_a_wait_longer_than_allowed_ends_the_read_early_and_the_next_read_resumes(corpus: DemoCorpus) -> None:
    """Retry-After: 120 on page two: keep page one, return a resume state, wait for nothing; the
    next read continues there and the two reads make exactly the window."""
    meetings = corpus.org("northwind").fathom.meetings
    window = day_window(NORTHWIND_DAY)
    reader = FathomLiveReader()
    with FakeFathomServer(meetings, page_size=2) as server:
        server.add_fault(FathomFault.rate_limit(retry_after=120), skip=1)
        started = time.monotonic()
        first = read(server, window, reader=reader)
        assert time.monotonic() - started < 5 and reader.last_waits == []
        assert not first.complete and first.resume_state["cursor"]
        second = read(server, window, resume_state=first.resume_state)
    ids = [m.external_id for m in first.messages] + [m.external_id for m in second.messages]
    assert 0 < len(first.messages) < 5 and second.complete
    assert sorted(ids) == sorted(m.external_id for m in expected_messages(meetings, window, ()))


def test_retry_budget_spent_on_the_first_request_is_a_read_error(corpus: DemoCorpus) -> None:
    with FakeFathomServer(corpus.org("acme").fathom.meetings) as server:
        server.add_fault(FathomFault.rate_limit(retry_after=0), times=None)
        with pytest.raises(SourceReadError, match=r"nothing of .* could be read.*retry budget"):
            read(server, day_window(ACME_DAY), max_retries=3)
        assert len(server.requests) == 4


def test_retry_budget_spent_mid_window_keeps_what_arrived(corpus: DemoCorpus) -> None:
    meetings = corpus.org("northwind").fathom.meetings
    window = day_window(NORTHWIND_DAY)
    with FakeFathomServer(meetings, page_size=2) as server:
        server.add_fault(FathomFault.server_error(503), skip=1, times=None)
        first = read(server, window)
        server.clear_faults()
        second = read(server, window, resume_state=first.resume_state)
    assert not first.complete and len(first.messages) == 2
    assert second.complete and len(second.messages) == 3
    assert {m.external_id for m in first.messages}.isdisjoint(m.external_id for m in second.messages)


def test_transport_errors_and_malformed_bodies_are_retried(corpus: DemoCorpus) -> None:
    meetings = corpus.org("northwind").fathom.meetings
    reader = FathomLiveReader()
    with FakeFathomServer(meetings, page_size=2) as server:
        server.add_fault(FathomFault.malformed())
        server.add_fault(FathomFault.wrong_shape(), skip=1)
        server.add_fault(FathomFault.drop(), skip=2)
        result = read(server, day_window(NORTHWIND_DAY), reader=reader)
    assert result.complete and len(result.messages) == 5
    assert len(reader.last_waits) == 3


def test_a_persistently_malformed_listing_is_a_read_error(corpus: DemoCorpus) -> None:
    with FakeFathomServer(corpus.org("acme").fathom.meetings) as server:
        server.add_fault(FathomFault.malformed(), times=None)
        with pytest.raises(SourceReadError, match="malformed"):
            read(server, day_window(ACME_DAY))


def test_a_rejected_key_says_to_update_it_and_never_shows_it(corpus: DemoCorpus) -> None:
    with FakeFathomServer(
        corpus.org("acme").fathom.meetings, api_key="the-real-key", echo_credentials_in_errors=True
    ) as server:
        with pytest.raises(SourceReadError) as caught:
            read(server, day_window(ACME_DAY), credentials={"api_key": SECRET_KEY})
        assert len(server.requests) == 1  # a 401 is not retried
    assert KEY_REJECTED in str(caught.value) and SECRET_KEY not in str(caught.value)


def test_a_refused_request_quotes_the_body_without_the_key(corpus: DemoCorpus) -> None:
    with FakeFathomServer(
        corpus.org("acme").fathom.meetings, api_key=SECRET_KEY, echo_credentials_in_errors=True
    ) as server:
        server.add_fault(FathomFault.bad_request())
        with pytest.raises(SourceReadError, match=r"HTTP 400.*\[redacted\].*invalid cursor") as caught:
            read(server, day_window(ACME_DAY))
    assert SECRET_KEY not in str(caught.value)


def test_missing_credentials_and_bad_config_are_clear_errors(corpus: DemoCorpus) -> None:
    with FakeFathomServer(corpus.org("acme").fathom.meetings) as server:
        with pytest.raises(SourceReadError, match="neither 'api_key' nor 'access_token'"):
            read(server, day_window(ACME_DAY), credentials={"webhook_secret": "whsec_AAAA"})
        with pytest.raises(SourceReadError, match="'max_retries' must be a number"):
            read(server, day_window(ACME_DAY), max_retries="many")
        assert server.requests == []


# -- reader-level: transcripts, OAuth --------------------------------------------------------------------------


def test_a_meeting_listed_without_transcript_is_fetched_and_one_without_any_is_skipped(corpus: DemoCorpus) -> None:
    meetings = corpus.org("northwind").fathom.meetings
    window = day_window(NORTHWIND_DAY)
    expected = expected_messages(meetings, window, ())
    withheld, missing = int(expected[0].external_id), int(expected[1].external_id)
    with FakeFathomServer(meetings, page_size=2, withhold_transcripts=[withheld], missing_transcripts=[missing]) as s:
        result = read(s, window)
        fetched = sorted(r.path for r in s.requests_to("/recordings"))
    assert fetched == sorted([f"/recordings/{withheld}/transcript", f"/recordings/{missing}/transcript"])
    assert result.messages == [m for m in expected if m.external_id != str(missing)]
    assert [(i.location, "404" in i.reason) for i in result.skipped] == [(f"Fathom recording {missing}", True)]
    assert result.complete


def test_oauth_reads_transcripts_per_meeting_without_include_transcript(corpus: DemoCorpus) -> None:
    meetings = corpus.org("northwind").fathom.meetings
    window = day_window(NORTHWIND_DAY)
    with FakeFathomServer(meetings, api_key=None, access_tokens=["oauth-token-1"], page_size=2) as server:
        result = read(server, window, credentials={"access_token": "oauth-token-1"})
        listings = server.requests_to("/meetings")
        transcripts = server.requests_to("/recordings")
    assert result.messages == expected_messages(meetings, window, ())
    assert all("include_transcript" not in r.params and r.auth == "bearer" for r in listings)
    assert len(transcripts) == 5


def test_an_expired_oauth_token_is_refreshed_and_saved(corpus: DemoCorpus) -> None:
    meetings = corpus.org("northwind").fathom.meetings
    window = day_window(NORTHWIND_DAY)
    saved: list[dict[str, Any]] = []
    credentials = {"access_token": "expired", "refresh_token": "r-1", "client_id": "cid", "client_secret": "cs"}
    with FakeFathomServer(
        meetings, api_key=None, page_size=2, oauth_refresh_tokens={"r-1": "fresh-token"}, oauth_client=("cid", "cs")
    ) as server:
        result = read(server, window, credentials=credentials, save=saved, oauth_token_url=f"{server.url}/oauth2/token")
        with pytest.raises(SourceReadError, match="OAuth token was rejected"):
            # r-1 was used up: the refresh is refused and the connection needs reconnecting.
            read(server, window, credentials=credentials, oauth_token_url=f"{server.url}/oauth2/token")
    assert len(result.messages) == 5
    assert [s["access_token"] for s in saved] == ["fresh-token"]
    assert saved[0]["refresh_token"] != "r-1" and saved[0]["client_secret"] == "cs"
    assert TOKEN_REJECTED.startswith("the Fathom OAuth token")


def test_broken_items_are_skipped_with_where_and_why(corpus: DemoCorpus) -> None:
    meetings = corpus.org("northwind").fathom.meetings
    window = day_window(NORTHWIND_DAY)
    template = next(m for m in meetings if window.contains(fathom_meeting_time(m) or window.end))
    no_id = {k: v for k, v in template.items() if k != "recording_id"}
    empty = {**copy.deepcopy(template), "recording_id": 900000010, "transcript": []}
    with FakeFathomServer([*meetings, no_id, empty], page_size=3) as server:
        result = read(server, window)
    reasons = {i.location: i.reason for i in result.skipped}
    assert "Fathom recording 900000010" in reasons and "empty transcript" in reasons["Fathom recording 900000010"]
    [other] = [loc for loc in reasons if loc != "Fathom recording 900000010"]
    assert other.startswith("/meetings item") and "recording_id" in reasons[other]
    assert len(result.messages) == 5


# -- reader-level: resume robustness ------------------------------------------------------------------------------


def test_capped_reads_converge_when_a_meeting_arrives_between_runs(corpus: DemoCorpus) -> None:
    """Cap 1: a new meeting listed first (shifting every offset by one) between runs causes no gap
    among the meetings the series started with; the next sync of the window picks the newcomer up
    (it did not exist when the series began, and the listing is newest first)."""
    meetings = corpus.org("northwind").fathom.meetings
    window = day_window(NORTHWIND_DAY)
    start = window.start + timedelta(hours=6)
    # Created a day after the window's other meetings, so the API lists it first.
    newcomer = shifted(meetings[0], 900000020, start, minutes=30, processing=30 * 60)
    original_ids = {m.external_id for m in expected_messages(meetings, window, ())}
    collected: list[str] = []
    state: dict[str, Any] = {}
    with FakeFathomServer(meetings, page_size=2) as server:
        for run in range(20):
            result = read(server, window, max_messages=1, resume_state=state)
            collected += [m.external_id for m in result.messages]
            if run == 1:
                server.add_meeting(newcomer)
            if result.complete:
                break
            state = result.resume_state
        else:
            pytest.fail("capped reads did not converge")
        next_sync = read(server, window)
    assert set(collected) - {"900000020"} == original_ids
    assert len(collected) == len(set(collected))  # the saved recording id found its shifted place
    assert {m.external_id for m in next_sync.messages} == original_ids | {"900000020"}


def test_an_unusable_or_stale_resume_state_reads_the_window_anew(corpus: DemoCorpus) -> None:
    meetings = corpus.org("northwind").fathom.meetings
    window = day_window(NORTHWIND_DAY)
    expected = [m.external_id for m in expected_messages(meetings, window, ())]
    with FakeFathomServer(meetings, page_size=2) as server:
        capped = read(server, window, max_messages=2)
        stale = {**capped.resume_state, "cursor": "bm90LWEtY3Vyc29y"}
        restarted = read(server, window, resume_state=stale)
        garbage = read(server, window, resume_state={"cursor": 5})
        other_window = read(
            server, window, resume_state=read(server, day_window(ACME_DAY), max_messages=1).resume_state
        )
        assert [r.status for r in server.requests if r.params.get("cursor") == ["bm90LWEtY3Vyc29y"]] == [400]
    for result in (restarted, garbage, other_window):
        assert result.complete and [m.external_id for m in result.messages] == expected


def test_the_registry_builds_this_reader() -> None:
    reader = live_reader_for("fathom")
    assert isinstance(reader, FathomLiveReader) and reader.source == "fathom"
