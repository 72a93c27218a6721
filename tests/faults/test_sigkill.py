"""A run killed with SIGKILL, then run again: no duplicate rows, nothing lost, no answer bought twice.

The pipeline runs in a child process (`pipeline_child.py`, one Dagster run over a range of demo
days) and is killed, process group and all, at a moment the test chooses; then it runs again to
completion. Both warehouses (SQLite, PostgreSQL).

"Bought twice", precisely: an LLM answer is *committed* once its row is in the warehouse's
answer cache (the engine writes it as soon as the call returns, before the slice's labels).
No item whose answer was committed before the kill may be sent to the provider again. An item
whose call was in flight at the kill (sent, maybe even answered, but not yet committed) may be
asked again by the next run: that is the price of a kill, at most one call per slot in flight
(`HEADWAY_LLM_MAX_IN_FLIGHT` calls of `HEADWAY_TIER1_BATCH_ITEMS` items).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from headway_assets.assets.message_labels import message_labels
from headway_assets.assets.raw_messages import RAW_MESSAGE_ASSETS
from headway_assets.core.message import content_hash
from headway_assets.core.warehouse.database import read_connection
from headway_assets.core.warehouse.ingestion import active_connections
from headway_assets.core.warehouse.schema import LabelStatus, Message, MessageLabel
from headway_assets.testing.fakes.headway_responder import headway_responder
from headway_assets.testing.fakes.llm_servers import DEFAULT_ANTHROPIC_KEY, FakeAnthropicServer
from tests.assets.conftest import MaterializeFn
from tests.faults.support import (
    SOURCES,
    ChildRun,
    assert_whole_connections,
    cache_keys_by_sent_text,
    cached_hashes,
    child_args,
    child_env,
    count,
    expected_messages,
    iter_items,
    label_outcomes,
    message_keys,
    poll,
    window_of,
)

RAW_FIRST, RAW_LAST = "2026-10-01", "2026-10-10"  # ~520 messages over 8 export connections
TIER1_FIRST, TIER1_LAST = "2026-10-01", "2026-10-05"  # ~210 messages: three tier-1 slices of 100
IN_FLIGHT, BATCH_ITEMS = 2, 5
SLICE = 100  # engine.MIN_SLICE_ITEMS: tier-1 commits its labels every 100 messages here


@pytest.mark.slow
def test_a_run_killed_inside_a_connection_write_leaves_whole_connections_and_the_rerun_completes(
    seeded_warehouse: str, tmp_path: Path, materialize_assets: MaterializeFn
) -> None:
    url = seeded_warehouse
    expected = expected_messages(url, tmp_path, window_of(RAW_FIRST, RAW_LAST))
    assert len(expected) == 8 and all(expected.values())
    with read_connection(url) as conn:
        by_label = {c.label: c.id for source in SOURCES for c in active_connections(conn, source)}
    env = child_env(tmp_path)

    run = ChildRun.start(env, *child_args(url, tmp_path, RAW_FIRST, RAW_LAST, "raw", "--pause-in-write", "raw:0.5"))
    # The third connection has written its rows and not committed them: kill it there.
    for _ in range(3):
        event = run.wait_for(lambda e: e["event"] == "in_transaction")
    assert event["rows"] > 0
    run.kill()

    complete, empty = assert_whole_connections(url, expected)
    assert len(complete) == 2, "the two connections committed before the kill are kept whole"
    assert by_label[event["connection"]] in empty, "the killed transaction left nothing behind"
    assert len(empty) == 6

    # Run again (in-process: what matters is what the killed run left behind) to completion.
    assert materialize_assets(RAW_MESSAGE_ASSETS, url, first=RAW_FIRST, last=RAW_LAST).success
    complete, empty = assert_whole_connections(url, expected)
    assert complete == set(expected) and not empty, "nothing lost"
    assert count(url, Message) == sum(len(ids) for ids in expected.values()), "each message stored once"


@pytest.mark.slow
def test_a_run_killed_in_the_middle_of_tier1_buys_no_committed_answer_twice(
    seeded_warehouse: str, tmp_path: Path, materialize_assets: MaterializeFn, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = seeded_warehouse
    assert materialize_assets(RAW_MESSAGE_ASSETS, url, first=TIER1_FIRST, last=TIER1_LAST).success
    messages = message_keys(url)
    assert len(messages) > 2 * SLICE

    with FakeAnthropicServer(responder=headway_responder, latency_s=0.1) as server:
        env = child_env(
            tmp_path,
            HEADWAY_LLM_PROVIDER="anthropic",
            HEADWAY_LLM_BASE_URL=server.base_url,
            ANTHROPIC_API_KEY=DEFAULT_ANTHROPIC_KEY,
            HEADWAY_LLM_MAX_IN_FLIGHT=str(IN_FLIGHT),
            HEADWAY_TIER1_BATCH_ITEMS=str(BATCH_ITEMS),
            HEADWAY_LLM_MAX_RETRIES="1",
            HEADWAY_LLM_TIMEOUT_SECONDS="10",
        )
        args = child_args(url, tmp_path, TIER1_FIRST, TIER1_LAST, "labels")
        run = ChildRun.start(env, *args)
        # Kill once the first slice's labels are committed and the second slice is half-way.
        poll(lambda: count(url, MessageLabel) >= SLICE, timeout=90)
        calls_then = server.calls()
        poll(lambda: server.calls() >= calls_then + 6, timeout=30)
        run.kill()
        killed_at = server.calls()  # requests with a lower index belong to the killed run
        committed = cached_hashes(url, "tier1")
        labelled_before = count(url, MessageLabel)
        assert SLICE <= labelled_before < len(messages), "killed in the middle of tier-1"

        # Run again (in-process, with the child's settings) to completion.
        monkeypatch.setenv("ANTHROPIC_API_KEY", DEFAULT_ANTHROPIC_KEY)
        done = materialize_assets(
            [message_labels],
            url,
            first=TIER1_FIRST,
            last=TIER1_LAST,
            provider="anthropic",
            base_url=server.base_url,
            max_in_flight=IN_FLIGHT,
            tier1_batch_items=BATCH_ITEMS,
            max_retries=1,
            timeout_seconds=10.0,
        )
        records = server.requests

    # Every message has exactly one tier-1 outcome, and it is a real one.
    outcomes = label_outcomes(url)
    assert set(outcomes) == set(messages) and count(url, MessageLabel) == len(messages)
    assert {status for status, _, _ in outcomes.values()} <= {LabelStatus.LABELLED.value, "skipped_empty"}

    # The provider receives redacted chunks; the cache is keyed by the stored chunk's hash.
    keys = cache_keys_by_sent_text(url)

    def key(text: str) -> str:
        return keys.get(text, content_hash(text))

    answered = Counter(key(text) for index, status, text in iter_items(records) if status == 200)
    asked_before = {key(text) for index, _, text in iter_items(records) if index < killed_at}
    asked_after = {key(text) for index, _, text in iter_items(records) if index >= killed_at}
    assert committed and committed <= asked_before, "the cache holds what the killed run bought"
    assert not committed & asked_after, "an answer committed before the kill was bought again"
    again = asked_before & asked_after  # only what was in flight at the kill
    assert len(again) <= IN_FLIGHT * BATCH_ITEMS, sorted(again)
    assert all(n <= 2 for n in answered.values()) and sum(1 for n in answered.values() if n == 2) <= len(again)
    # Answers committed but not yet written as labels came from the cache, not the provider.
    rerun: Any = done.asset_materializations_for_node("message_labels")[0].metadata
    assert rerun["llm_cache_hits"].value > 0 and rerun["remaining"].value == 0
    assert rerun["labelled_this_run"].value == len(messages) - labelled_before
