"""What the fault tests share: a pipeline run in a child process, and the warehouse read back."""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from headway_assets.core.message import TimeWindow
from headway_assets.core.warehouse.database import read_connection
from headway_assets.core.warehouse.ingestion import active_connections
from headway_assets.core.warehouse.schema import LlmCacheEntry, Message, MessageLabel, SyncRun, SyncStatus
from headway_assets.resources.sources import SourcesResource

CHILD = Path(__file__).with_name("pipeline_child.py")
SOURCES = ("slack", "gmail", "gong", "fathom")
# Settings a developer's shell may hold that must not leak into a child run.
_SCRUBBED = ("LANGFUSE_", "OTEL_", "HEADWAY_", "ANTHROPIC_", "OPENAI_", "DAGSTER_HOME")

Event = dict[str, Any]


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def window_of(first: str, last: str) -> TimeWindow:
    """The `[first 00:00, last+1 00:00)` UTC window of a partition range."""
    start = datetime.fromisoformat(first).replace(tzinfo=UTC)
    return TimeWindow(start, datetime.fromisoformat(last).replace(tzinfo=UTC) + timedelta(days=1))


def child_env(data_dir: Path, **headway: str) -> dict[str, str]:
    """The environment of a child run: this one without Headway/LLM/tracing settings, plus `headway`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUBBED)}
    env["HEADWAY_DATA_DIR"] = str(data_dir)
    env["HEADWAY_LLM_PROVIDER"] = "offline"
    env.update(headway)
    return env


@dataclass
class ChildRun:
    """`pipeline_child.py` running in its own process group; its JSON events arrive on `events`."""

    process: subprocess.Popen[str]
    events: queue.Queue[Event] = field(default_factory=queue.Queue)
    seen: list[Event] = field(default_factory=list)
    output: list[str] = field(default_factory=list)

    @classmethod
    def start(cls, env: Mapping[str, str], *args: str) -> ChildRun:
        """Start the child; `start_new_session` gives it a process group the test can kill whole."""
        process = subprocess.Popen(
            [sys.executable, str(CHILD), *args],
            env=dict(env),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        run = cls(process)
        threading.Thread(target=run._read, name="child-output", daemon=True).start()
        return run

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line)
            if line.startswith("{"):
                try:
                    self.events.put(json.loads(line))
                except json.JSONDecodeError:
                    continue

    def wait_for(self, accept: Callable[[Event], bool], timeout: float = 60) -> Event:
        """The next event `accept` takes (earlier ones are kept in `seen`); fails on exit or timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                event = self.events.get(timeout=0.05)
            except queue.Empty:
                if self.process.poll() is not None and self.events.empty():
                    raise AssertionError(f"the child exited ({self.process.returncode}):\n{self.log()}") from None
                continue
            self.seen.append(event)
            if accept(event):
                return event
        raise AssertionError(f"no awaited event within {timeout} s:\n{self.log()}")

    def kill(self) -> None:
        """SIGKILL the whole process group (the run gets no chance to clean up) and reap it."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def finish(self, timeout: float = 180) -> Event:
        """Wait for the run to end; its `done` event."""
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"the child run did not end within {timeout} s:\n{self.log()}") from None
        return self.wait_for(lambda event: event["event"] == "done", timeout=10)

    def log(self) -> str:
        """The child's output so far (its last 80 lines)."""
        time.sleep(0.1)
        return "".join(self.output[-80:])


def child_args(url: str, data_dir: Path, first: str, last: str, assets: str, *extra: str) -> list[str]:
    """Command-line arguments of `pipeline_child.py`."""
    return [
        *("--database-url", url, "--data-dir", str(data_dir), "--first", first, "--last", last),
        *("--assets", assets, *extra),
    ]


def expected_messages(url: str, data_dir: Path, window: TimeWindow) -> dict[int, set[str]]:
    """External ids each connection's export holds for `window`, read as the pipeline reads them."""
    sources = SourcesResource(data_dir=str(data_dir))
    expected: dict[int, set[str]] = {}
    with read_connection(url) as conn:
        connections = [c for source in SOURCES for c in active_connections(conn, source)]
    for connection in connections:
        expected[connection.id] = {m.external_id for m in sources.read(connection, window).messages}
    return expected


def stored_messages(url: str) -> dict[int, Counter[str]]:
    """How many rows each connection holds per external id (a count above 1 is a duplicate)."""
    stored: dict[int, Counter[str]] = {}
    with read_connection(url) as conn:
        for connection_id, external_id in conn.execute(select(Message.connection_id, Message.external_id)):
            stored.setdefault(connection_id, Counter())[external_id] += 1
    return stored


def sync_statuses(url: str) -> Counter[tuple[int, str]]:
    """Sync-history rows per (connection, status)."""
    with read_connection(url) as conn:
        return Counter(conn.execute(select(SyncRun.connection_id, SyncRun.status)).tuples())


def assert_whole_connections(url: str, expected: Mapping[int, set[str]]) -> tuple[set[int], set[int]]:
    """Every connection holds all of its window or nothing, each message once, with a finished
    sync-history row exactly when it holds something; returns (complete, empty) connection ids."""
    stored = stored_messages(url)
    statuses = sync_statuses(url)
    complete: set[int] = set()
    empty: set[int] = set()
    for connection_id, ids in expected.items():
        rows = stored.get(connection_id, Counter())
        assert all(n == 1 for n in rows.values()), f"connection {connection_id}: duplicate rows"
        if rows:
            assert set(rows) == ids, f"connection {connection_id}: a partial window was committed"
            complete.add(connection_id)
        else:
            empty.add(connection_id)
        synced = (
            statuses[(connection_id, SyncStatus.SUCCESS.value)] + statuses[(connection_id, SyncStatus.PARTIAL.value)]
        )
        assert bool(synced) == bool(rows) or not ids, f"connection {connection_id}: sync history and rows disagree"
    assert not [key for key in statuses if key[1] == SyncStatus.RUNNING.value], "a sync run was left running"
    assert set(stored) <= set(expected), "rows of a connection that is not active"
    return complete, empty


def label_outcomes(url: str) -> dict[tuple[int, str, str], tuple[str, str | None, int | None]]:
    """Tier-1 outcome per message, keyed by (org, source, external id), without ids or times."""
    with read_connection(url) as conn:
        rows = conn.execute(
            select(
                Message.org_id,
                Message.source,
                Message.external_id,
                MessageLabel.status,
                MessageLabel.category,
                MessageLabel.relevance,
            ).join(MessageLabel, MessageLabel.message_id == Message.id)
        ).all()
    return {(r.org_id, r.source, r.external_id): (r.status, r.category, r.relevance) for r in rows}


def message_keys(url: str) -> dict[tuple[int, str, str], str]:
    """Content hash per message, keyed by (org, source, external id)."""
    with read_connection(url) as conn:
        rows = conn.execute(select(Message.org_id, Message.source, Message.external_id, Message.content_hash))
        return {(r.org_id, r.source, r.external_id): r.content_hash for r in rows}


def count(url: str, table: Any) -> int:
    """Rows in `table`."""
    with read_connection(url) as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def cached_hashes(url: str, task: str) -> set[str]:
    """Content hashes whose answer for `task` is committed in the LLM cache."""
    with read_connection(url) as conn:
        return set(conn.execute(select(LlmCacheEntry.content_hash).where(LlmCacheEntry.task == task)).scalars())


def poll(condition: Callable[[], bool], timeout: float, every: float = 0.05) -> None:
    """Wait until `condition()` holds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(every)


def cache_keys_by_sent_text(url: str) -> dict[str, str]:
    """The tier-1 cache key (content hash of the stored chunk) of every chunk of every message, by
    the text the provider receives: the chunk redacted as the pipeline redacts it. A long call is
    sent to a hosted provider as one digest of its likeliest feedback lines instead of its chunks
    (`assets/local_model.feedback_digests`), keyed by the digest's hash."""
    from headway_assets.assets.local_model import feedback_digests, internal_speakers
    from headway_assets.assets.privacy import message_scopes
    from headway_assets.core.message import content_hash
    from headway_assets.llm.chunking import chunk_text
    from headway_assets.llm.redaction import PrivacyGuard
    from headway_assets.llm.tasks import TIER1, Tier1Input

    with read_connection(url) as conn:
        rows = conn.execute(select(Message.id, Message.text, Message.source_metadata)).all()
        scopes = message_scopes(conn, [row.id for row in rows])
    guard = PrivacyGuard()
    digests = feedback_digests([row.text for row in rows], [internal_speakers(row.source_metadata) for row in rows])
    chunks = [
        (row.id, text)
        for row, digest in zip(rows, digests, strict=True)
        for text in ([digest] if digest is not None else [chunk.text for chunk in chunk_text(row.text)])
    ]
    for message_id, text in chunks:
        guard.register(text, scopes[message_id])
    sent = guard.protect(TIER1, [(str(i), Tier1Input("", text)) for i, (_, text) in enumerate(chunks)])
    return {item.text: content_hash(text) for (_, item), (_, text) in zip(sent, chunks, strict=True)}


def iter_items(records: Any) -> Iterator[tuple[int, int, str]]:
    """(request index, HTTP status, item text) of every tier-1 item of the recorded LLM requests."""
    from headway_assets.testing.fakes.headway_responder import task_of, tier1_items

    for record in records:
        if record.llm_request is None or task_of(record.llm_request) != "tier1":
            continue
        for _, text in tier1_items(record.llm_request):
            yield record.index, record.status, text
