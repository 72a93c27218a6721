"""Benchmark: LLM calls, tokens and wall time of the AI tiers, the old way against Headway's default.

Runs tier-1 (`message_labels`) and tier-2 (`feature_mentions`) over the whole demo corpus
(30 days, two organisations) against the fake
Anthropic server (real `anthropic` SDK) answering after a fixed latency, with at most 16
calls in flight, in three configurations:

1. legacy   — the system Headway replaces: one call per message (per chunk) for tier-1, one per
              relevant message (per relevant chunk) for tier-2, nothing cached;
2. default  — Headway as shipped: short items batched, answers cached;
3. rerun    — the default again on unchanged data (every answer should come from the cache).

    .venv/bin/python scripts/bench_llm.py [--latency 0.4] [--in-flight 16]

Prints a table; docs/benchmarks.md records the figures with this command.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import dagster as dg  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from headway_assets.assets.feature_mentions import feature_mentions  # noqa: E402
from headway_assets.assets.message_labels import message_labels  # noqa: E402
from headway_assets.assets.raw_messages import RAW_MESSAGE_ASSETS  # noqa: E402
from headway_assets.core.warehouse.database import dispose_engines, migrate, read_connection, write_transaction  # noqa: E402
from headway_assets.core.warehouse.schema import Message  # noqa: E402
from headway_assets.demo import generate_demo, seed_demo  # noqa: E402
from headway_assets.resources.llm import LlmResource  # noqa: E402
from headway_assets.resources.sources import SourcesResource  # noqa: E402
from headway_assets.resources.warehouse import WarehouseResource  # noqa: E402
from headway_assets.testing.fakes.headway_responder import headway_responder  # noqa: E402
from headway_assets.testing.fakes.llm_servers import DEFAULT_ANTHROPIC_KEY, FakeAnthropicServer  # noqa: E402

FIRST_DAY, LAST_DAY = "2026-10-01", "2026-10-30"
AI_ASSETS = [message_labels, feature_mentions]


@dataclass
class Figures:
    """What one configuration cost."""

    name: str
    calls: int
    input_tokens: int
    output_tokens: int
    seconds: float
    messages: int
    max_in_flight: int

    @property
    def messages_per_second(self) -> float:
        return self.messages / self.seconds if self.seconds else 0.0


def prepare_raw(workdir: Path) -> Path:
    """A SQLite warehouse holding the 30 demo days of raw messages (no AI output yet)."""
    database = workdir / "raw.db"
    url = f"sqlite:///{database}"
    migrate(url)
    manifest = generate_demo(workdir / "demo", start=date(2026, 10, 1), days=30)
    with write_transaction(url) as conn:
        seed_demo(conn, manifest, data_dir=workdir)
    dg.materialize(
        RAW_MESSAGE_ASSETS,
        tags={"dagster/asset_partition_range_start": FIRST_DAY, "dagster/asset_partition_range_end": LAST_DAY},
        resources={"warehouse": WarehouseResource(database_url=url), "sources": SourcesResource(data_dir=str(workdir))},
        instance=dg.DagsterInstance.ephemeral(),
    )
    dispose_engines()
    return database


def warm_fake_answers(url: str) -> int:
    """Compute the fake server's answers for every text it can be asked about, before timing.

    The fake answers with Headway's offline logic; a real provider does that work on its own
    machines, so it must not be charged to the pipeline's wall time. Every tier-1 input (each
    message, or each chunk of a long one) and every possible tier-2 input is answered once
    here and looked up during the runs.
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
            answer("tier2", Tier2Input(chunk.text, row.source, row.customer, row.title, taxonomies[row.org_id]))

    class WarmClassifier:
        def classify_many(self, texts: object) -> list[object]:
            return [labels.get(text) or classifier.classify(text) for text in texts]  # type: ignore[attr-defined]

    responder._classifier = lambda: WarmClassifier()  # type: ignore[assignment,return-value]
    offline.answer = answer  # type: ignore[assignment]  # the responder reads it from the package
    return len(labels)


def run_ai(url: str, llm: LlmResource) -> float:
    """Materialise tier-1 and tier-2 over the 30 days in one run; returns wall seconds."""
    started = time.perf_counter()
    result = dg.materialize(
        AI_ASSETS,
        tags={"dagster/asset_partition_range_start": FIRST_DAY, "dagster/asset_partition_range_end": LAST_DAY},
        resources={"warehouse": WarehouseResource(database_url=url), "llm": llm},
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=True,
    )
    assert result.success
    seconds = time.perf_counter() - started
    for event in result.all_events:
        if event.event_type == dg.DagsterEventType.STEP_SUCCESS and event.step_key:
            duration = event.event_specific_data.duration_ms / 1000  # type: ignore[union-attr]
            print(f"    {event.step_key}: {duration:.1f} s", flush=True)
    return seconds


def measure(name: str, server: FakeAnthropicServer, url: str, llm: LlmResource, messages: int) -> Figures:
    server.reset_records()
    seconds = run_ai(url, llm)
    stats = server.stats()
    by_task: dict[str, int] = {}
    for request in server.requests:
        tools = request.body.get("tools") or [{}]
        by_task[tools[0].get("name", "?")] = by_task.get(tools[0].get("name", "?"), 0) + 1
    print(f"    calls by task: {dict(sorted(by_task.items()))}", flush=True)
    figures = Figures(
        name=name,
        calls=stats.total_calls,
        input_tokens=stats.input_tokens + stats.cache_read_input_tokens + stats.cache_creation_input_tokens,
        output_tokens=stats.output_tokens,
        seconds=seconds,
        messages=messages,
        max_in_flight=stats.max_in_flight,
    )
    print(
        f"  {name:8s} {figures.calls:7,d} calls  {figures.input_tokens:10,d} in  {figures.output_tokens:9,d} out  "
        f"{figures.seconds:7.1f} s  {figures.messages_per_second:7.1f} msg/s  (peak {figures.max_in_flight} in flight)",
        flush=True,
    )
    return figures


def main() -> int:
    """Run the three configurations and print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency", type=float, default=0.4, help="seconds the fake server waits per call")
    parser.add_argument("--in-flight", type=int, default=16, help="LLM calls in flight at most")
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
            f"at most {args.in_flight} calls in flight, {os.cpu_count()} cores\n",
            flush=True,
        )
        print(
            f"pre-computing the fake provider's answers for {warm_fake_answers(f'sqlite:///{raw}'):,} texts …\n",
            flush=True,
        )
        common = {"provider": "anthropic", "max_in_flight": args.in_flight, "max_retries": 2}
        with FakeAnthropicServer(responder=headway_responder, latency_s=args.latency) as server:
            common["base_url"] = server.base_url
            legacy_db = workdir / "legacy.db"
            shutil.copy(raw, legacy_db)
            legacy = measure(
                "legacy",
                server,
                f"sqlite:///{legacy_db}",
                LlmResource(**common, use_cache=False, tier1_batch_items=1, tier2_batch_items=1, insight_batch_items=1),
                messages,
            )
            default_db = workdir / "default.db"
            shutil.copy(raw, default_db)
            default = measure("default", server, f"sqlite:///{default_db}", LlmResource(**common), messages)
            rerun = measure("rerun", server, f"sqlite:///{default_db}", LlmResource(**common), messages)
        print()
        print(
            f"default vs legacy: {legacy.calls / max(default.calls, 1):.1f}x fewer calls, "
            f"{legacy.seconds / default.seconds:.1f}x faster, "
            f"{legacy.input_tokens / max(default.input_tokens, 1):.1f}x fewer input tokens; "
            f"rerun: {rerun.calls} calls"
        )
        return 0
    finally:
        dispose_engines()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
