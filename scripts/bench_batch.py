"""Benchmark: what the AI assets cost on the demo corpus, live against the vendor batch path.

Materialises every AI asset over the 30 demo days (two organisations), twice, each time from the
same raw warehouse and against a fresh fake Anthropic server (real `anthropic` SDK) answering
with Headway's offline logic:

1. live   — `batch_mode=off`: every call through the Messages API at list price;
2. batch  — `batch_mode=backfill`: each partitioned asset's run over the 30 days submits its
            calls as a Message Batch and ends; the `llm_batch_results` sensor's landing
            (`land_batches`) writes the answers into the cache; the asset is re-run and reads
            them. Matching (the catalogue) stays live, as it does in the pipeline.

The cost is priced from the fake server's own token counts per request (input, cache read and
cache write, output; model from the request) at the list prices of the price table, batch
requests at the table's batch discount. Prints calls, tokens and cost per task and path, the
cost per message (all AI assets, and what call intelligence adds), and checks that both paths
wrote the same labels, mentions, catalogue and call levels (and each call's assessor).

    .venv/bin/python scripts/bench_batch.py
    .venv/bin/python scripts/bench_batch.py --org-call-model acme=claude-haiku-4-5   # one organisation on a model

docs/benchmarks.md records the figures with this command.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import shutil
import sys
import tempfile
from collections import defaultdict
from dataclasses import dataclass
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
from headway_assets.core.warehouse.database import dispose_engines, read_connection, write_transaction  # noqa: E402
from headway_assets.core.warehouse.org_settings import change_org_settings, script_actor  # noqa: E402
from headway_assets.core.warehouse.schema import (  # noqa: E402
    CallInsight,
    FeatureMention,
    FeatureRequest,
    LlmBatch,
    Message,
    MessageLabel,
    Organization,
)
from headway_assets.llm.batches import open_batch_count  # noqa: E402
from headway_assets.llm.pricing import estimate_cost  # noqa: E402
from headway_assets.llm.providers.base import TokenUsage  # noqa: E402
from headway_assets.orchestration.sensors import land_batches  # noqa: E402
from headway_assets.resources.llm import CALL_MODEL_SETTING, LlmResource  # noqa: E402
from headway_assets.resources.warehouse import WarehouseResource  # noqa: E402
from headway_assets.testing.demo_warehouse import FIRST_DAY, LAST_DAY, RANGE_TAGS, prepare_raw  # noqa: E402
from headway_assets.testing.fakes.headway_responder import headway_responder  # noqa: E402
from headway_assets.testing.fakes.llm_servers import DEFAULT_ANTHROPIC_KEY, FakeAnthropicServer  # noqa: E402

# In dependency order; the last two are not partitioned (the catalogue's matching stays live).
ASSETS: list[tuple[Any, dict[str, str]]] = [
    (message_labels, RANGE_TAGS),
    (feature_mentions, RANGE_TAGS),
    (message_insights, RANGE_TAGS),
    (feature_catalog, {}),
    (insights, {}),
    (call_insights, RANGE_TAGS),
]
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
TASK_OF_TOOL = {
    "record_tier1": "tier1",
    "record_tier2": "tier2",
    "record_insight": "insight",
    "record_match": "match",
    "record_call": "call",
}


@dataclass
class Cost:
    """Calls, tokens and dollars of one task on one path."""

    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    usd: float = 0.0


def materialise(asset: Any, tags: dict[str, str], url: str, llm: LlmResource) -> dict[str, Any]:
    """One run of `asset`; its materialisation metadata."""
    result = dg.materialize(
        [asset],
        tags=tags,
        resources={"warehouse": WarehouseResource(database_url=url), "llm": llm},
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=True,
        run_config=QUIET,
    )
    assert result.success
    events = result.asset_materializations_for_node(asset.op.name)
    return {key: value.value for key, value in events[0].metadata.items()} if events else {}


def run_live(url: str, llm: LlmResource) -> None:
    """Every AI asset over the 30 days, live."""
    for asset, tags in ASSETS:
        materialise(asset, tags, url, llm)


def run_batch(url: str, llm: LlmResource) -> int:
    """Every AI asset over the 30 days through batches: submit, land (as the sensor does), re-run,
    until the asset's run submits nothing more. Returns the sensor landings it took."""
    landings = 0
    for asset, tags in ASSETS:
        for _round in range(4):
            metadata = materialise(asset, tags, url, llm)
            if not metadata.get("llm_batches_submitted"):
                break
            while True:
                with read_connection(url) as conn:
                    if not open_batch_count(conn):
                        break
                asyncio.run(land_batches(url, llm))
                landings += 1
    return landings


def costs(server: FakeAnthropicServer) -> dict[tuple[str, str], Cost]:
    """(task, path) -> what the fake server counted, priced at list price (batch requests discounted)."""
    table: dict[tuple[str, str], Cost] = defaultdict(Cost)
    for request in server.requests:
        if request.usage is None or not isinstance(request.body, dict) or "model" not in request.body:
            continue
        tools = request.body.get("tools") or [{}]
        task = TASK_OF_TOOL.get(tools[0].get("name", "?"), "?")
        batch = request.path.startswith("batch:")
        usage = request.usage
        tokens = TokenUsage(
            input_tokens=usage.input_tokens - usage.cache_read_input_tokens - usage.cache_creation_input_tokens,
            output_tokens=usage.output_tokens,
            cache_read_tokens=usage.cache_read_input_tokens,
            cache_write_tokens=usage.cache_creation_input_tokens,
        )
        cost = table[(task, "batch" if batch else "live")]
        cost.calls += 1
        cost.input_tokens += usage.input_tokens
        cost.output_tokens += usage.output_tokens
        cost.usd += estimate_cost(str(request.body["model"]), tokens, batch=batch)
    return dict(table)


def outputs(url: str) -> tuple[Any, ...]:
    """What the AI assets wrote, to compare the two paths."""
    with read_connection(url) as conn:
        labels = sorted(
            conn.execute(select(MessageLabel.message_id, MessageLabel.category, MessageLabel.relevance)).all()
        )
        mentions = sorted(conn.execute(select(FeatureMention.message_id, FeatureMention.title)).all())
        requests = conn.execute(select(func.count()).select_from(FeatureRequest)).scalar_one()
        calls = sorted(
            conn.execute(
                select(
                    CallInsight.message_id,
                    CallInsight.deal_risk,
                    CallInsight.churn_risk,
                    CallInsight.expansion_potential,
                    CallInsight.provider,
                )
            ).all()
        )
        batches = conn.execute(select(func.count()).select_from(LlmBatch)).scalar_one()
    return labels, mentions, requests, calls, batches


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--org-call-model",
        action="append",
        default=[],
        metavar="SLUG=MODEL",
        help="an organisation's own call_model setting (repeatable; the others keep HEADWAY_CALL_MODEL)",
    )
    args = parser.parse_args()
    os.environ.setdefault("ANTHROPIC_API_KEY", DEFAULT_ANTHROPIC_KEY)
    # In-process runs leave SQLite connections for the garbage collector, which may finalise them on
    # another thread; the pool logs that as an error. It does not touch the figures.
    logging.getLogger("sqlalchemy.pool").setLevel(logging.CRITICAL)
    workdir = Path(tempfile.mkdtemp(prefix="headway-bench-batch-"))
    try:
        raw = prepare_raw(workdir)
        with write_transaction(f"sqlite:///{raw}") as conn:
            for choice in args.org_call_model:
                slug, _, model = choice.partition("=")
                org_id = conn.execute(select(Organization.id).where(Organization.slug == slug)).scalar_one()
                model = LlmResource(provider="anthropic").checked_call_model(model)
                change_org_settings(conn, org_id, {CALL_MODEL_SETTING: model}, script_actor("bench_batch"))
                print(f"{slug}: calls assessed by {model}", flush=True)
        dispose_engines()  # SQLite's write-ahead log into the file: each path copies the file
        with read_connection(f"sqlite:///{raw}") as conn:
            messages = conn.execute(select(func.count()).select_from(Message)).scalar_one()
        print(
            f"demo corpus: {messages} messages, {FIRST_DAY}..{LAST_DAY}, fake Anthropic server (real SDK)", flush=True
        )
        results: dict[str, tuple[dict[tuple[str, str], Cost], tuple[Any, ...]]] = {}
        for name, mode in (("live", "off"), ("batch", "backfill")):
            database = workdir / f"{name}.db"
            shutil.copy(raw, database)
            url = f"sqlite:///{database}"
            with FakeAnthropicServer(responder=headway_responder) as server:
                server.batch_polls = 0
                llm = LlmResource(provider="anthropic", base_url=server.base_url, batch_mode=mode)
                if mode == "off":
                    run_live(url, llm)
                else:
                    landings = run_batch(url, llm)
                    print(f"batch path: {landings} sensor landing(s)", flush=True)
                results[name] = (costs(server), outputs(url))
            dispose_engines()

        print(f"\n{'config':7} {'task':8} {'path':6} {'calls':>6} {'input tok':>10} {'output tok':>10} {'USD':>10}")
        totals: dict[str, float] = {}
        for name, (table, _out) in results.items():
            for (task, path), cost in sorted(table.items()):
                print(
                    f"{name:7} {task:8} {path:6} {cost.calls:6} {cost.input_tokens:10,} {cost.output_tokens:10,} "
                    f"{cost.usd:10.4f}"
                )
            totals[name] = sum(cost.usd for cost in table.values())
        live_out, batch_out = results["live"][1], results["batch"][1]
        tier_cost = {
            name: sum(c.usd for (task, _path), c in table.items() if task != "match")
            for name, (table, _out) in results.items()
        }
        call_cost = {
            name: sum(c.usd for (task, _path), c in table.items() if task == "call")
            for name, (table, _out) in results.items()
        }
        print()
        for name, total in totals.items():
            print(
                f"{name:6} total ${total:.4f}  (${total / messages:.6f} per message); without call intelligence "
                f"${total - call_cost[name]:.4f} (${(total - call_cost[name]) / messages:.6f} per message); "
                f"call intelligence adds ${call_cost[name]:.4f} (${call_cost[name] / messages:.6f} per message)"
            )
        print(f"batch / live, all AI assets:                 {totals['batch'] / totals['live']:.3f}")
        print(f"batch / live, all but matching (batchable):  {tier_cost['batch'] / tier_cost['live']:.3f}")
        print(f"vendor batches submitted: {batch_out[4]}")
        same = live_out[:4] == batch_out[:4]
        print(
            f"same labels ({len(live_out[0])}), mentions ({len(live_out[1])}), catalogue requests "
            f"({live_out[2]}) and call insights ({len(live_out[3])}) on both paths: {same}"
        )
        return 0 if same else 1
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
