"""An LLM provider answering 429 (with retry-after) and 5xx for a while: tier-1 backs off, finishes or
stops resumably, every message ends with an outcome, and nothing answered is bought again.

The fake Anthropic server (real `anthropic` SDK) goes down for wall-clock time after a few
answers (`start_outage`), cycling 429 `retry-after: 2`, 503 and 529. The SDK retries each call
(HEADWAY_LLM_MAX_RETRIES); past them the engine waits the outage out for up to its patience
(HEADWAY_LLM_OUTAGE_PATIENCE_SECONDS) and, past that, stops and leaves the rest pending
(no label row, counted in `remaining`, the check failing) for the next run.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import dagster as dg
import pytest
from sqlalchemy import select

from headway_assets.assets.message_labels import CHECK_EVERY_MESSAGE_LABELLED, message_labels
from headway_assets.assets.raw_messages import RAW_MESSAGE_ASSETS
from headway_assets.core.message import content_hash
from headway_assets.core.warehouse.database import read_connection
from headway_assets.core.warehouse.schema import LabelStatus, MessageLabel
from headway_assets.testing.fakes.headway_responder import headway_responder
from headway_assets.testing.fakes.llm_servers import DEFAULT_ANTHROPIC_KEY, FakeAnthropicServer, Fault
from tests.assets.conftest import MaterializeFn
from tests.faults.support import iter_items, message_keys

DAY = "2026-10-14"
OUTAGE_FAULTS = [Fault.rate_limit(retry_after=2), Fault.server_error(503), Fault.overloaded()]


@pytest.fixture
def anthropic_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeAnthropicServer]:
    with FakeAnthropicServer(responder=headway_responder, latency_s=0.05) as server:
        monkeypatch.setenv("ANTHROPIC_API_KEY", DEFAULT_ANTHROPIC_KEY)
        yield server


def _llm(server: FakeAnthropicServer, **extra: Any) -> dict[str, Any]:
    # Small batches and few slots: several calls per slice, a few in flight when the outage starts.
    return {
        "provider": "anthropic",
        "base_url": server.base_url,
        "max_retries": 2,
        "timeout_seconds": 10.0,
        "max_in_flight": 3,
        "tier1_batch_items": 4,
    } | extra


def _statuses(url: str) -> Counter[str]:
    with read_connection(url) as conn:
        return Counter(conn.execute(select(MessageLabel.status)).scalars())


def _check(result: dg.ExecuteInProcessResult) -> bool:
    return next(e.passed for e in result.get_asset_check_evaluations() if e.check_name == CHECK_EVERY_MESSAGE_LABELLED)


def _bought(server: FakeAnthropicServer) -> Counter[str]:
    """Answers the provider delivered (HTTP 200), per tier-1 item."""
    return Counter(content_hash(text) for _, status, text in iter_items(server.requests) if status == 200)


@pytest.mark.slow
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_minute_of_429_and_5xx_is_waited_out_and_the_run_finishes(
    seeded_warehouse: str, materialize_assets: MaterializeFn, anthropic_server: FakeAnthropicServer
) -> None:
    url = seeded_warehouse
    assert materialize_assets(RAW_MESSAGE_ASSETS, url, partition=DAY).success
    messages = message_keys(url)
    outage = anthropic_server.start_outage(60, OUTAGE_FAULTS, after_calls=3)

    started = time.monotonic()
    result = materialize_assets([message_labels], url, partition=DAY, **_llm(anthropic_server))
    elapsed = time.monotonic() - started
    assert result.success
    assert outage.over() and outage.hits >= 10, "the run met the outage"
    assert elapsed >= 60 - 1, "it waited the outage out"
    assert _statuses(url) == Counter({LabelStatus.LABELLED.value: len(messages)}), "every message labelled"
    assert _check(result)
    metadata: Any = result.asset_materializations_for_node("message_labels")[0].metadata
    assert metadata["remaining"].value == 0 and metadata["complete"].value

    bought = _bought(anthropic_server)
    assert bought and max(bought.values()) == 1, "no answer bought twice"
    calls = anthropic_server.calls()
    again = materialize_assets([message_labels], url, partition=DAY, **_llm(anthropic_server))
    assert anthropic_server.calls() == calls, "the next run buys nothing"
    assert again.asset_materializations_for_node("message_labels")[0].metadata["llm_calls"].value == 0


@pytest.mark.slow
def test_an_outage_past_the_patience_stops_resumably_and_the_next_run_completes(
    seeded_warehouse: str, materialize_assets: MaterializeFn, anthropic_server: FakeAnthropicServer
) -> None:
    url = seeded_warehouse
    assert materialize_assets(RAW_MESSAGE_ASSETS, url, partition=DAY).success
    messages = message_keys(url)
    anthropic_server.start_outage(60, OUTAGE_FAULTS, after_calls=3)

    started = time.monotonic()
    stopped = materialize_assets(
        [message_labels], url, partition=DAY, **_llm(anthropic_server, outage_patience_seconds=3)
    )
    assert time.monotonic() - started < 30, "the run stopped instead of waiting out the whole outage"
    assert stopped.success, "stopping for an outage is not a failed run: the sensor re-requests the day"
    metadata: Any = stopped.asset_materializations_for_node("message_labels")[0].metadata
    statuses = _statuses(url)
    # The answers bought before the outage are labels; the rest is pending, none failed (an outage
    # must not count towards giving up on a message).
    assert 0 < statuses[LabelStatus.LABELLED.value] < len(messages)
    assert LabelStatus.FAILED.value not in statuses
    assert metadata["remaining"].value == len(messages) - sum(statuses.values()) > 0
    assert not metadata["complete"].value and not _check(stopped)
    bought_first = _bought(anthropic_server)

    anthropic_server.clear_faults()  # the provider is back
    finished = materialize_assets([message_labels], url, partition=DAY, **_llm(anthropic_server))
    assert _statuses(url) == Counter({LabelStatus.LABELLED.value: len(messages)})
    assert _check(finished)
    bought = _bought(anthropic_server)
    assert max(bought.values()) == 1, "an answer bought before the outage was bought again"
    assert set(bought_first) < set(bought)
    with read_connection(url) as conn:
        attempts = set(conn.execute(select(MessageLabel.attempts)).scalars())
    assert attempts == {1}, "the outage did not count as a failed attempt"
