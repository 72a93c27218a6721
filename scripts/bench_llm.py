"""Benchmark: LLM calls, tokens and wall time of every AI asset, the old way against Headway's default.

Materialises every asset that calls a model over the whole demo corpus (30 days, two
organisations) in one in-process Dagster run, as the pipeline job does: tier-1
(`message_labels`), tier-2 (`feature_mentions`), the per-message insights (`message_insights`),
the catalogue (`feature_catalog`), the period insights (`insights`, no model) and call intelligence
(`call_insights`, issue 16 item 5). The provider is
the fake Anthropic server (real `anthropic` SDK) in a process of its own, answering after a fixed
latency, with at most 16 calls in flight; its answers are computed before the timed runs (the
insight answers from the asks of an untimed tier-1/tier-2 rehearsal). Configurations:

1. legacy   — (with `--legacy`) the system Headway replaces: one call per message (per chunk)
              for tier-1, one per relevant message for tier-2 and insights, one per mention for
              matching, nothing cached;
2. default  — Headway as shipped: items batched, answers cached;
3. rerun    — the default again on unchanged data (every answer should come from the cache).

    .venv/bin/python scripts/bench_llm.py [--latency 0.4] [--in-flight 16] [--legacy] [--match-disagree 0.2]

Prints, per asset and in total: calls, input and output tokens, seconds; calls per 1,000
messages and messages/s; where the wall time went (per asset: calls, rounds of calls one after
another, seconds in calls and outside them; the run outside its steps; a timeline); Dagster's own
cost (the same run of assets that do nothing); and two floors with the wall time's ratio to each:
the latency floor (calls x latency / calls in flight, the issue's) and the critical-path floor
(dependent assets one after another, each ceil(calls / in flight) x latency, independent ones side
by side). docs/benchmarks.md records the figures with this command.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import dagster as dg  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from headway_assets.assets.call_insights import call_insights  # noqa: E402
from headway_assets.assets.feature_catalog import feature_catalog  # noqa: E402
from headway_assets.assets.feature_mentions import feature_mentions  # noqa: E402
from headway_assets.assets.insights import insights, message_insights  # noqa: E402
from headway_assets.assets.message_labels import message_labels  # noqa: E402
from headway_assets.core.warehouse.database import dispose_engines, read_connection  # noqa: E402
from headway_assets.core.warehouse.schema import Message  # noqa: E402
from headway_assets.llm.engine import LlmEngine  # noqa: E402
from headway_assets.resources.llm import LlmResource  # noqa: E402
from headway_assets.resources.warehouse import WarehouseResource  # noqa: E402
from headway_assets.testing.demo_warehouse import RANGE_TAGS, prepare_raw  # noqa: E402
from headway_assets.testing.fakes.headway_responder import headway_responder  # noqa: E402
from headway_assets.testing.fakes.llm_servers import DEFAULT_ANTHROPIC_KEY, FakeAnthropicServer  # noqa: E402

# Every asset that calls a model, and the period insights, in one run over the 30 days (the
# catalogue and the period insights are not partitioned); Dagster orders the steps.
AI_ASSETS: list[Any] = [message_labels, feature_mentions, message_insights, feature_catalog, insights, call_insights]
# The tier-1 and tier-2 of a rehearsal run, whose asks the insight answers are warmed from.
REHEARSAL_ASSETS: list[Any] = [message_labels, feature_mentions]
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
ASSET_TASKS = {
    "message_labels": "tier1",
    "feature_mentions": "tier2",
    "message_insights": "insight",
    "feature_catalog": "match",
    "insights": "-",
    "call_insights": "call",
}


@dataclass
class AssetFigures:
    """What one asset cost in one configuration."""

    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    seconds: float = 0.0
    max_output_tokens: int = 0  # the most one call wrote
    max_output_limit: int = 0  # the largest output-token limit one call asked for
    # When the step ran and when each of its calls was at the server (epoch seconds).
    step: tuple[float, float] | None = None
    spans: list[tuple[float, float]] = field(default_factory=list)

    @property
    def waves(self) -> int:
        """Rounds of calls one after another: a call is one round after the latest call that had
        finished before it reached the server (calls that overlap are the same round)."""
        rounds: list[tuple[float, float, int]] = []
        for received, finished in sorted(self.spans):
            depth = 1 + max((r for _s, f, r in rounds if f <= received), default=0)
            rounds.append((received, finished, depth))
        return max((r for _s, _f, r in rounds), default=0)

    @property
    def seconds_in_calls(self) -> float:
        """Seconds of the step with at least one of its calls at the server."""
        covered, end = 0.0, float("-inf")
        for received, finished in sorted(self.spans):
            if finished > end:
                covered += finished - max(received, end)
                end = finished
        return covered


@dataclass
class Figures:
    """What one configuration cost."""

    name: str
    seconds: float
    messages: int
    max_in_flight: int
    latency: float
    in_flight: int
    assets: dict[str, AssetFigures] = field(default_factory=dict)
    upstream: dict[str, set[str]] = field(default_factory=dict)  # each asset's upstream assets
    outside_steps: float = 0.0  # seconds of the runs with no step running
    dagster_seconds: float = 0.0  # the same run of assets that do nothing (mean of two, around the run)

    @property
    def calls(self) -> int:
        return sum(a.calls for a in self.assets.values())

    @property
    def input_tokens(self) -> int:
        return sum(a.input_tokens for a in self.assets.values())

    @property
    def output_tokens(self) -> int:
        return sum(a.output_tokens for a in self.assets.values())

    @property
    def messages_per_second(self) -> float:
        return self.messages / self.seconds if self.seconds else 0.0

    @property
    def floor_seconds(self) -> float:
        """The latency floor: every call's latency, `in_flight` at a time."""
        return self.calls * self.latency / self.in_flight

    def _stage_seconds(self, asset: str) -> float:
        """The fewest seconds `asset`'s calls take: ceil(calls / in flight) rounds of the latency."""
        calls = self.assets[asset].calls if asset in self.assets else 0
        return -(-calls // self.in_flight) * self.latency

    def _critical_path(self) -> tuple[float, list[str]]:
        """The slowest chain of dependent assets, by `_stage_seconds` (independent ones run side by side)."""
        memo: dict[str, tuple[float, list[str]]] = {}

        def longest(asset: str) -> tuple[float, list[str]]:
            if asset not in memo:
                before = max((longest(up) for up in self.upstream.get(asset, ())), default=(0.0, []))
                memo[asset] = (before[0] + self._stage_seconds(asset), [*before[1], asset])
            return memo[asset]

        return max((longest(asset) for asset in self.assets), default=(0.0, []))

    @property
    def critical_floor_seconds(self) -> float:
        """The critical-path floor: dependent assets cannot overlap, so the slowest chain of them,
        each taking ceil(calls / in flight) round trips, bounds the wall time from below."""
        return self._critical_path()[0]

    def critical_path_text(self) -> str:
        """The critical path as 'asset waves x latency + ...'."""
        _seconds, path = self._critical_path()
        return " + ".join(
            f"{asset} {-(-self.assets[asset].calls // self.in_flight)} x {self.latency}"
            for asset in path
            if self.assets[asset].calls
        )

    @property
    def calls_per_thousand(self) -> float:
        return 1000 * self.calls / self.messages


def warm_fake_answers(url: str) -> int:
    """Compute the fake server's answers for every text it can be asked about, before timing.

    The fake answers with Headway's offline logic; a real provider does that work on its own
    machines, so it must not be charged to the pipeline's wall time. Every tier-1 input (each
    message, or each chunk of a long one) and every possible tier-2 input (each whole message)
    is answered once here and looked up during the runs.
    """
    import functools

    import headway_assets.testing.fakes.headway_responder as responder
    from headway_assets import offline
    from headway_assets.core.limits import OVERSIZED_CHARS
    from headway_assets.core.taxonomy import load_taxonomy
    from headway_assets.core.warehouse.schema import Organization
    from headway_assets.llm import chunking
    from headway_assets.llm.tasks import Tier2Input

    classifier = responder._classifier()
    labels: dict[str, object] = {}
    answer = functools.lru_cache(maxsize=None)(offline.answer)
    with read_connection(url) as conn:
        taxonomies = {
            org_id: load_taxonomy(conn, org_id=org_id, org_slug=slug).listing()
            for org_id, slug in conn.execute(select(Organization.id, Organization.slug))
        }
        rows = conn.execute(select(Message.org_id, Message.source, Message.customer, Message.title, Message.text)).all()
    for row in rows:
        if len(row.text) > OVERSIZED_CHARS:
            continue
        for chunk in chunking.chunk_text(row.text):
            labels[chunk.text] = classifier.classify(chunk.text)
        # Tier-2 reads the whole relevant message.
        answer("tier2", Tier2Input(row.text, row.source, row.customer, row.title, taxonomies[row.org_id]))

    class WarmClassifier:
        def classify_many(self, texts: object) -> list[object]:
            # A text not warmed above (a chunk as PII redaction left it) is classified once, in the
            # untimed rehearsal, and kept for the timed run.
            return [
                labels.get(text) or labels.setdefault(text, classifier.classify(text))
                for text in texts  # type: ignore[attr-defined]
            ]

    responder._classifier = lambda: WarmClassifier()  # type: ignore[assignment]
    offline.answer = answer  # type: ignore[assignment]  # the responder reads it from the package
    return len(labels)


def disagree_on_matches(fraction: float) -> None:
    """Make the fake's match answers differ from the offline matcher's on `fraction` of the
    questions (chosen by a hash of the question, so a question asked again gets the same answer).

    The fake answers matches with the offline matcher, which is also what the catalogue guesses
    a hosted model's answers with when it asks ahead (`Linker(predict=...)`): its guesses are
    right every time here. A real model disagrees with it on some questions; this measures what
    those cost (questions asked in vain, rounds). A flipped answer links where the matcher
    founds (to the first candidate) and founds where it links.
    """
    import hashlib

    from headway_assets import offline
    from headway_assets.llm.schemas import CatalogMatch
    from headway_assets.llm.tasks import AI_MATCH, MatchInput

    answer = offline.answer

    def disagreeing(task: str, item: Any) -> Any:
        found = answer(task, item)
        if task != "match" or not isinstance(item, MatchInput):
            return found
        if int(hashlib.sha256(repr(item).encode()).hexdigest()[:8], 16) >= fraction * 2**32:
            return found
        if (found.candidate_id is not None and found.score >= AI_MATCH) or not item.candidates:
            return CatalogMatch(candidate_id=None, score=0.1)
        return CatalogMatch(candidate_id=item.candidates[0].id, score=0.9)

    offline.answer = disagreeing  # type: ignore[assignment]  # the responder reads it from the package


def warm_insight_answers(url: str) -> int:
    """Compute the fake server's insight answers for every message due an insight (after tier-2,
    before the timed insight run), for the reason `warm_fake_answers` gives."""
    from headway_assets import offline
    from headway_assets.assets.insights import insight_inputs
    from headway_assets.assets.privacy import message_scopes, register_texts
    from headway_assets.core.message import TimeWindow
    from headway_assets.llm.redaction import PrivacyGuard
    from headway_assets.llm.tasks import INSIGHT

    everything = TimeWindow(datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))
    with read_connection(url) as conn:
        due, _ = insight_inputs(conn, everything)
        scopes = message_scopes(conn, due)
    for _org, item, _hash in due.values():
        offline.answer("insight", item)
    # The items as the timed run sends them when PII redaction is on (the default): redacted by
    # the engine's guard with each message's scope, as `message_insights` registers them.
    guard = PrivacyGuard()
    register_texts(guard, scopes, {message_id: [item.text] for message_id, (_, item, _) in due.items()})
    for _id, redacted in guard.protect(INSIGHT, [(str(i), item) for i, (_, item, _) in enumerate(due.values())]):
        offline.answer("insight", redacted)
    return len(due)


class MatchRecorder:
    """Keeps every mention the catalogue asks `LlmEngine.match` about (the engine answers as usual),
    so the same mentions can be asked again all at once, as a catalogue that passes every mention
    of a run in one go would."""

    def __init__(self) -> None:
        self.items: dict[str, Any] = {}
        self._original = LlmEngine.match

    def __enter__(self) -> MatchRecorder:
        recorder = self

        async def recording(engine: LlmEngine, items: Any) -> Any:
            recorder.items.update(items)
            return await recorder._original(engine, items)

        LlmEngine.match = recording  # type: ignore[method-assign,assignment]
        return self

    def __exit__(self, *_exc: object) -> None:
        LlmEngine.match = self._original  # type: ignore[method-assign]


def replay_matches(server: FakeServer, llm: LlmResource, url: str, items: dict[str, Any]) -> None:
    """Ask every recorded mention again in one `engine.match` (uncached) and print what it cost."""
    server.ask("reset")

    async def ask() -> None:
        async with llm.engine(url) as engine:
            await engine.match(items)

    started = time.perf_counter()
    asyncio.run(ask())
    seconds = time.perf_counter() - started
    per_task, max_in_flight = server.ask("figures")
    match = per_task.get("match", AssetFigures())
    print(
        f"  the catalogue's {len(items)} match questions asked at once (engine.match, uncached): "
        f"{match.calls} calls, {match.input_tokens:,} in, {match.output_tokens:,} out, {seconds:.1f} s "
        f"(peak {max_in_flight} in flight)",
        flush=True,
    )


async def warm_up(llm: LlmResource, url: str) -> None:
    """One call through the provider (SDK import, first connection), untimed and uncached."""
    async with llm.engine(url) as engine:
        await engine.label({"warm-up": "Is the CSV export fixed yet?"})


@dataclass
class RunTimes:
    """When one Dagster run and each of its steps ran (epoch seconds)."""

    started: float
    finished: float
    steps: dict[str, tuple[float, float]]

    @property
    def seconds_outside_steps(self) -> float:
        """Run seconds with no step running: run start-up, between steps, run shutdown."""
        covered, end = 0.0, float("-inf")
        for start, stop in sorted(self.steps.values()):
            if stop > end:
                covered += stop - max(start, end)
                end = stop
        return (self.finished - self.started) - covered


def materialize(assets: list[Any], url: str, llm: LlmResource) -> tuple[dg.ExecuteInProcessResult, dg.DagsterInstance]:
    """Materialise `assets` over the 30 days in one in-process run on a fresh ephemeral instance."""
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize(
        assets,
        tags=RANGE_TAGS,
        resources={"warehouse": WarehouseResource(database_url=url), "llm": llm},
        instance=instance,
        raise_on_error=True,
        run_config=QUIET,
    )
    assert result.success
    return result, instance


def noop_assets() -> list[dg.AssetsDefinition]:
    """`AI_ASSETS` doing nothing: the same keys, partitions, backfill policies, dependencies and
    checks (each passing), so that a run of them costs what Dagster itself costs for the run."""

    def noop(asset: dg.AssetsDefinition) -> dg.AssetsDefinition:
        key = asset.key
        checks = list(asset.check_specs)

        @dg.asset(
            key=key,
            deps=list(asset.asset_deps[key]),
            partitions_def=asset.partitions_def,
            backfill_policy=asset.backfill_policy,
            check_specs=checks,
        )
        def _noop() -> dg.MaterializeResult:
            return dg.MaterializeResult(
                check_results=[dg.AssetCheckResult(check_name=spec.name, passed=True) for spec in checks]
            )

        return _noop

    return [noop(asset) for asset in AI_ASSETS]


def dagster_floor() -> float:
    """Wall seconds of `noop_assets` materialised over the 30 days, as the timed run is."""
    started = time.perf_counter()
    dg.materialize(noop_assets(), tags=RANGE_TAGS, instance=dg.DagsterInstance.ephemeral(), run_config=QUIET)
    return time.perf_counter() - started


def run_ai(url: str, llm: LlmResource) -> tuple[float, list[RunTimes]]:
    """Materialise every AI asset over the 30 days in one run; returns its wall seconds and when
    the run and each step ran."""
    started, wall_started = time.perf_counter(), time.time()
    result, instance = materialize(AI_ASSETS, url, llm)
    seconds = time.perf_counter() - started
    steps: dict[str, tuple[float, float]] = {}
    starts: dict[str, float] = {}
    for entry in instance.all_logs(result.run_id):
        event = entry.dagster_event
        if event is None or not event.step_key:
            continue
        if event.event_type == dg.DagsterEventType.STEP_START:
            starts[event.step_key] = entry.timestamp
        elif event.event_type == dg.DagsterEventType.STEP_SUCCESS:
            steps[event.step_key] = (starts[event.step_key], entry.timestamp)
    return seconds, [RunTimes(wall_started, wall_started + seconds, steps)]


def rehearse(server: FakeServer, raw: Path, llm: LlmResource) -> int:
    """Untimed: tier-1 and tier-2 on a copy of the raw warehouse through the fake, then the fake's
    insight answers warmed from the asks they wrote (the timed run writes the same asks); returns
    how many insight answers were warmed."""
    rehearsal = raw.with_name("rehearsal.db")
    shutil.copy(raw, rehearsal)
    materialize(REHEARSAL_ASSETS, f"sqlite:///{rehearsal}", llm)
    dispose_engines()
    warmed: int = server.ask("warm_insights", f"sqlite:///{rehearsal}")
    rehearsal.unlink()
    return warmed


TASK_OF_TOOL = {
    "record_tier1": "tier1",
    "record_tier2": "tier2",
    "record_insight": "insight",
    "record_match": "match",
    "record_call": "call",
}


def task_figures(server: FakeAnthropicServer) -> tuple[dict[str, AssetFigures], int]:
    """Calls, tokens, output sizes and call times per task of what `server` answered, and its peak
    in flight."""
    per_task: dict[str, AssetFigures] = defaultdict(AssetFigures)
    for request in server.requests:
        tools = request.body.get("tools") or [{}]
        task = TASK_OF_TOOL.get(tools[0].get("name", "?"), "?")
        figures = per_task[task]
        figures.calls += 1
        figures.spans.append((request.received_at, request.finished_at))
        if request.usage is not None:
            usage = request.usage
            figures.input_tokens += (
                usage.input_tokens + usage.cache_read_input_tokens + usage.cache_creation_input_tokens
            )
            figures.output_tokens += usage.output_tokens
            figures.max_output_tokens = max(figures.max_output_tokens, usage.output_tokens)
        figures.max_output_limit = max(figures.max_output_limit, int(request.body.get("max_tokens") or 0))
    return dict(per_task), server.stats().max_in_flight


def _command(server: FakeAnthropicServer, command: str, argument: Any) -> Any:
    """What the fake server's keeper does for `command` (in this process or in the server's)."""
    if command == "reset":
        server.reset_records()
        return None
    if command == "figures":
        return task_figures(server)
    if command == "warm_insights":
        return warm_insight_answers(argument)
    raise ValueError(command)


def _serve(connection: Any, latency: float) -> None:
    """The fake server's own process: serve until told to stop, answering commands on `connection`."""
    dispose_engines()  # the parent's pooled connections stay the parent's
    with FakeAnthropicServer(responder=headway_responder, latency_s=latency) as server:
        connection.send(server.base_url)
        while True:
            command, argument = connection.recv()
            if command == "stop":
                connection.send(None)
                return
            connection.send(_command(server, command, argument))


class FakeServer:
    """The fake Anthropic server, in a process of its own (default: a real provider's parsing,
    token counting and answer checks do not run on the pipeline's cores) or in this one."""

    def __init__(self, latency: float, *, same_process: bool) -> None:
        self._local: FakeAnthropicServer | None = None
        self._process: Any = None
        if same_process:
            self._local = FakeAnthropicServer(responder=headway_responder, latency_s=latency).__enter__()
            self.base_url = self._local.base_url
            return
        # Forked after the answers were warmed, so the child starts with them.
        context = multiprocessing.get_context("fork")
        self._connection, child = context.Pipe()
        dispose_engines()
        self._process = context.Process(target=_serve, args=(child, latency), daemon=True)
        self._process.start()
        self.base_url = self._connection.recv()

    def ask(self, command: str, argument: Any = None) -> Any:
        """Run a keeper command (`reset`, `figures`, `warm_insights`) where the server runs."""
        if self._local is not None:
            return _command(self._local, command, argument)
        self._connection.send((command, argument))
        return self._connection.recv()

    def close(self) -> None:
        """Stop the server (and its process)."""
        if self._local is not None:
            self._local.__exit__(None, None, None)
            return
        self.ask("stop")
        self._process.join(timeout=10)


def upstream_assets() -> dict[str, set[str]]:
    """Each measured asset's upstream assets among the measured ones (from their definitions)."""
    definitions = AI_ASSETS
    names = {key.to_user_string() for asset in definitions for key in asset.keys}
    return {
        key.to_user_string(): {dep.to_user_string() for dep in asset.asset_deps[key]} & names
        for asset in definitions
        for key in asset.keys
    }


def measure(
    name: str, server: FakeServer, url: str, llm: LlmResource, messages: int, args: argparse.Namespace
) -> Figures:
    """Run every AI asset once in this configuration and print what each cost, and where its time went."""
    server.ask("reset")
    before = dagster_floor()  # Dagster's own cost, measured around the run (the load varies)
    seconds, runs = run_ai(url, llm)
    per_task, max_in_flight = server.ask("figures")
    result = Figures(name, seconds, messages, max_in_flight, args.latency, args.in_flight)
    steps = {asset: times for run in runs for asset, times in run.steps.items()}
    for asset, task in ASSET_TASKS.items():
        figures = per_task.pop(task, AssetFigures())
        figures.step = steps.get(asset)
        figures.seconds = figures.step[1] - figures.step[0] if figures.step else 0.0
        result.assets[asset] = figures
    assert not per_task, f"calls of no asset: {dict(per_task)}"
    result.upstream = upstream_assets()
    result.outside_steps = sum(run.seconds_outside_steps for run in runs)
    print(f"  {name}:", flush=True)
    for asset, figures in result.assets.items():
        print(
            f"    {asset:17s} {ASSET_TASKS[asset]:7s} {figures.calls:6,d} calls {figures.input_tokens:10,d} in "
            f"{figures.output_tokens:9,d} out {figures.seconds:6.2f} s"
            + (
                f"   (most output in one call {figures.max_output_tokens:,}, limit up to {figures.max_output_limit:,})"
                if figures.calls
                else ""
            ),
            flush=True,
        )
    print(
        f"    {'total':25s} {result.calls:6,d} calls {result.input_tokens:10,d} in {result.output_tokens:9,d} out "
        f"{result.seconds:6.2f} s wall\n"
        f"    {result.calls_per_thousand:.1f} calls per 1,000 messages; {result.messages_per_second:.1f} messages/s; "
        f"peak {result.max_in_flight} in flight",
        flush=True,
    )
    print("    where the wall time went (seconds):", flush=True)
    print(
        f"      {'asset':17s} {'calls':>5s} {'waves':>5s} {'fewest':>6s} {'step':>6s} {'in calls':>8s} {'outside':>7s} "
        f"{'before 1st call':>15s} {'after last call':>15s}",
        flush=True,
    )
    for asset, figures in result.assets.items():
        print(
            f"      {asset:17s} {figures.calls:5d} {figures.waves:5d} {-(-figures.calls // args.in_flight):6d} "
            f"{figures.seconds:6.2f} {figures.seconds_in_calls:8.2f} {figures.seconds - figures.seconds_in_calls:7.2f} "
            + (
                f"{min(s for s, _f in figures.spans) - figures.step[0]:15.2f} "
                f"{figures.step[1] - max(f for _s, f in figures.spans):15.2f}"
                if figures.spans and figures.step
                else ""
            ),
            flush=True,
        )
    print(
        f"      {'Dagster run outside steps':36s} {result.outside_steps:8.2f}   (timeline: "
        + ", ".join(
            f"{asset} {start - run.started:.2f}-{stop - run.started:.2f}"
            for run in runs
            for asset, (start, stop) in sorted(run.steps.items(), key=lambda item: item[1])
        )
        + f", run end {runs[-1].finished - runs[-1].started:.2f})\n"
        f"      (waves: rounds of calls one after another; fewest: ceil(calls / {args.in_flight}))"
        + (
            f"\n      seconds a call spent at the fake server (latency {args.latency} s plus its own work): "
            f"median {statistics.median(durations):.3f}, max {max(durations):.3f}"
            if (durations := [f - s for a in result.assets.values() for s, f in a.spans])
            else ""
        ),
        flush=True,
    )
    after = dagster_floor()
    result.dagster_seconds = (before + after) / 2
    print(
        f"    Dagster's own cost: the same run of assets that do nothing (same partitions, dependencies, "
        f"checks) took {before:.2f} s just before and {after:.2f} s just after; of the wall time, "
        f"{result.seconds - result.dagster_seconds:.2f} s are over their mean: calls and Headway's own work",
        flush=True,
    )
    if result.calls:
        print(
            f"    latency floor (calls x latency / in flight) {result.floor_seconds:.2f} s "
            f"({result.calls} x {args.latency} s / {args.in_flight}): "
            f"wall / floor {result.seconds / result.floor_seconds:.2f}\n"
            f"    critical-path floor (dependent stages one after another, each ceil(calls / {args.in_flight}) "
            f"x latency) {result.critical_floor_seconds:.2f} s ({result.critical_path_text()}): "
            f"wall / floor {result.seconds / result.critical_floor_seconds:.2f}; "
            "(wall - Dagster's own cost) / floor "
            f"{(result.seconds - result.dagster_seconds) / result.critical_floor_seconds:.2f}",
            flush=True,
        )
    return result


def main() -> int:
    """Run the configurations and print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency", type=float, default=0.4, help="seconds the fake server waits per call")
    parser.add_argument("--in-flight", type=int, default=16, help="LLM calls in flight at most")
    parser.add_argument("--legacy", action="store_true", help="also run the unbatched, uncached legacy way")
    parser.add_argument(
        "--fake-in-process",
        action="store_true",
        help="run the fake server in this process (as before issue 14), sharing its cores and interpreter",
    )
    parser.add_argument(
        "--match-disagree",
        type=float,
        default=0.0,
        metavar="FRACTION",
        help="the fake's match answers differ from the offline matcher's (the catalogue's guess) on this share",
    )
    args = parser.parse_args()
    os.environ["ANTHROPIC_API_KEY"] = DEFAULT_ANTHROPIC_KEY
    workdir = Path(tempfile.mkdtemp(prefix="headway-bench-llm-"))
    try:
        print(f"preparing the demo corpus and its raw messages in {workdir} …", flush=True)
        raw = prepare_raw(workdir)
        with read_connection(f"sqlite:///{raw}") as conn:
            messages = conn.execute(select(func.count()).select_from(Message)).scalar_one()
        print(
            f"{messages:,} messages over 30 days; fake Anthropic latency {args.latency} s, "
            f"at most {args.in_flight} calls in flight, {os.cpu_count()} cores, load average "
            f"{os.getloadavg()[0]:.1f}\n",
            flush=True,
        )
        print(
            f"pre-computing the fake provider's answers for {warm_fake_answers(f'sqlite:///{raw}'):,} texts …\n",
            flush=True,
        )
        if args.match_disagree:
            disagree_on_matches(args.match_disagree)
            print(f"the fake's match answers differ from the offline matcher's on {args.match_disagree:.0%}\n")
        common: dict[str, Any] = {"provider": "anthropic", "max_in_flight": args.in_flight, "max_retries": 2}
        server = FakeServer(args.latency, same_process=args.fake_in_process)
        try:
            common["base_url"] = server.base_url
            # A worker imports the SDK and opens its first connection once; the earlier figures (legacy
            # first) never charged that to the default run, so one untimed call does it here.
            asyncio.run(warm_up(LlmResource(**common, use_cache=False), f"sqlite:///{raw}"))
            print(
                f"rehearsing tier-1 and tier-2 to warm the fake's {rehearse(server, raw, LlmResource(**common)):,} "
                "insight answers …\n",
                flush=True,
            )
            legacy: Figures | None = None
            if args.legacy:
                legacy_db = workdir / "legacy.db"
                shutil.copy(raw, legacy_db)
                unbatched: dict[str, Any] = {
                    "tier1_batch_items": 1,
                    "tier2_batch_items": 1,
                    "insight_batch_items": 1,
                    "match_batch_items": 1,
                }
                legacy = measure(
                    "legacy",
                    server,
                    f"sqlite:///{legacy_db}",
                    LlmResource(**common, use_cache=False, **unbatched),
                    messages,
                    args,
                )
            default_db = workdir / "default.db"
            shutil.copy(raw, default_db)
            with MatchRecorder() as recorder:
                default = measure("default", server, f"sqlite:///{default_db}", LlmResource(**common), messages, args)
            replay_matches(server, LlmResource(**common, use_cache=False), f"sqlite:///{default_db}", recorder.items)
            rerun = measure("rerun", server, f"sqlite:///{default_db}", LlmResource(**common), messages, args)
        finally:
            server.close()
        print()
        if legacy is not None:
            print(
                f"default vs legacy: {legacy.calls / max(default.calls, 1):.1f}x fewer calls, "
                f"{legacy.seconds / default.seconds:.1f}x faster, "
                f"{legacy.input_tokens / max(default.input_tokens, 1):.1f}x fewer input tokens"
            )
        print(
            f"default: {default.calls} calls ({default.calls_per_thousand:.1f} per 1,000 messages), "
            f"{default.messages_per_second:.0f} messages/s, {default.seconds:.2f} s wall: "
            f"{default.seconds / default.floor_seconds:.2f}x the latency floor ({default.floor_seconds:.2f} s), "
            f"{default.seconds / default.critical_floor_seconds:.2f}x the critical-path floor "
            f"({default.critical_floor_seconds:.2f} s); rerun: {rerun.calls} calls"
        )
        return 0
    finally:
        dispose_engines()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
