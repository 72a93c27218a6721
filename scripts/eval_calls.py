"""Measure call intelligence (issue 16, item 5) on the labelled demo calls: accuracy and macro F1 of
deal risk, churn risk and expansion potential, for the offline heuristics and for the LLM path.

    .venv/bin/python scripts/eval_calls.py                    # offline, the default, then anthropic via the fake server
    .venv/bin/python scripts/eval_calls.py --provider openai  # the LLM path through the fake OpenAI server
    .venv/bin/python scripts/eval_calls.py --real             # a real provider (needs its API key set)
    .venv/bin/python scripts/eval_calls.py --json out.json    # also write the figures as JSON

The labelled set (`tests/data/call_intelligence_labels.csv`) is the first 12 calls of each demo
organisation and vendor (48 calls of the 30-day corpus), each given its three levels by a person who
read the customer side of the transcript (docs/quality.md says how). The demo generator writes no
such labels: the calls are scored as the pipeline scores them, through the `call_insights` asset
on a warehouse of the 30 demo days (every call is assessed; the labelled ones are scored).

Three runs: the offline provider (the heuristics through the engine, on the redacted call); a hosted
provider as configured by default (`HEADWAY_CALL_MODEL=headway-call-cues-1`: the same heuristics on the
whole call in-process, no LLM call); and the hosted provider with a model asked for the calls
(`--call-model`, default the provider's insight model). Without `--real`, that last one is the fake
server answering with the offline heuristics on what a hosted provider is sent (the redacted excerpt
of each call): it measures the plumbing and the excerpt, not a model. With `--real` and a key, it is
the real model's.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

import dagster as dg  # noqa: E402
from sqlalchemy import delete, select  # noqa: E402

from headway_assets.assets.call_insights import DIMENSIONS, call_insights  # noqa: E402
from headway_assets.core.warehouse.database import dispose_engines, read_connection, write_transaction  # noqa: E402
from headway_assets.core.warehouse.schema import CallInsight, Message, Organization  # noqa: E402
from headway_assets.llm.registry import get_provider_spec  # noqa: E402
from headway_assets.llm.tasks import INSIGHT  # noqa: E402
from headway_assets.resources.llm import LlmResource  # noqa: E402
from headway_assets.resources.warehouse import WarehouseResource  # noqa: E402
from headway_assets.testing.demo_warehouse import RANGE_TAGS, prepare_raw  # noqa: E402

LABELS = REPO_ROOT / "tests" / "data" / "call_intelligence_labels.csv"
LEVELS = ("low", "medium", "high")
KEY_VARIABLES = {"anthropic": "ANTHROPIC_API_KEY", "openai": "OPENAI_API_KEY"}


def read_labels(path: Path = LABELS) -> dict[tuple[str, str, str], dict[str, str]]:
    """(org, source, external id) -> the three expected levels."""
    with path.open(newline="", encoding="utf-8") as handle:
        return {(row["org"], row["source"], row["external_id"]): row for row in csv.DictReader(handle)}


def scores(gold: list[str], predicted: list[str]) -> dict[str, Any]:
    """Accuracy, macro F1 over the levels present in either list, per-level F1 and the confusion counts."""
    present = [level for level in LEVELS if level in gold or level in predicted]
    per_level: dict[str, float] = {}
    for level in present:
        tp = sum(1 for g, p in zip(gold, predicted, strict=True) if g == p == level)
        fp = sum(1 for g, p in zip(gold, predicted, strict=True) if p == level != g)
        fn = sum(1 for g, p in zip(gold, predicted, strict=True) if g == level != p)
        per_level[level] = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0
    confusion = {g: {p: 0 for p in LEVELS} for g in LEVELS}
    for g, p in zip(gold, predicted, strict=True):
        confusion[g][p] += 1
    return {
        "n": len(gold),
        "accuracy": sum(1 for g, p in zip(gold, predicted, strict=True) if g == p) / len(gold) if gold else 0.0,
        "macro_f1": sum(per_level.values()) / len(per_level) if per_level else 0.0,
        "f1_by_level": per_level,
        "confusion": confusion,
    }


def assess(url: str, workdir: Path, **llm: Any) -> dict[str, Any]:
    """Materialise `call_insights` over the demo days with `llm` settings; its metadata."""
    with write_transaction(url) as conn:
        conn.execute(delete(CallInsight))
    result = dg.materialize(
        [call_insights],
        tags=RANGE_TAGS,
        resources={"warehouse": WarehouseResource(database_url=url), "llm": LlmResource(**llm)},
        instance=dg.DagsterInstance.ephemeral(),
    )
    event = result.get_asset_materialization_events()[-1]
    return {key: value.value for key, value in event.materialization.metadata.items()}


def evaluate(url: str, labels: dict[tuple[str, str, str], dict[str, str]]) -> dict[str, Any]:
    """Scores of the stored call insights against the labels."""
    with read_connection(url) as conn:
        rows = conn.execute(
            select(
                Organization.slug, Message.source, Message.external_id, *(getattr(CallInsight, d) for d in DIMENSIONS)
            )
            .join(Message, Message.id == CallInsight.message_id)
            .join(Organization, Organization.id == Message.org_id)
        ).all()
    predicted = {(r[0], r[1], r[2]): dict(zip(DIMENSIONS, r[3:], strict=True)) for r in rows}
    missing = [key for key in labels if key not in predicted]
    if missing:
        raise SystemExit(
            f"{len(missing)} labelled calls have no insight (first: {missing[0]}); is the corpus the same?"
        )
    keys = sorted(labels)
    return {
        dimension: scores([labels[k][dimension] for k in keys], [predicted[k][dimension] for k in keys])
        for dimension in DIMENSIONS
    }


@contextmanager
def fake_server(provider: str) -> Iterator[str]:
    """The fake vendor server answering Headway's prompts (offline logic), its key in the environment."""
    from headway_assets.testing.fakes.headway_responder import headway_responder
    from headway_assets.testing.fakes.llm_servers import (
        DEFAULT_ANTHROPIC_KEY,
        DEFAULT_OPENAI_KEY,
        FakeAnthropicServer,
        FakeOpenAIServer,
    )

    server_class, key = (
        (FakeAnthropicServer, DEFAULT_ANTHROPIC_KEY)
        if provider == "anthropic"
        else (FakeOpenAIServer, DEFAULT_OPENAI_KEY)
    )
    previous = os.environ.get(KEY_VARIABLES[provider])
    os.environ[KEY_VARIABLES[provider]] = key
    try:
        with server_class(responder=headway_responder) as server:
            yield server.base_url
    finally:
        if previous is None:
            os.environ.pop(KEY_VARIABLES[provider], None)
        else:
            os.environ[KEY_VARIABLES[provider]] = previous


def _table(name: str, figures: dict[str, Any]) -> str:
    lines = [f"{name}:", f"  {'dimension':<20} {'n':>3} {'accuracy':>9} {'macro F1':>9}   F1 low/medium/high"]
    for dimension, s in figures.items():
        by = "/".join(f"{s['f1_by_level'].get(level, float('nan')):.2f}" for level in LEVELS)
        lines.append(f"  {dimension:<20} {s['n']:>3} {s['accuracy']:>9.3f} {s['macro_f1']:>9.3f}   {by}")
    return "\n".join(lines)


def main() -> int:
    """Score the offline heuristics and the LLM path on the labelled demo calls."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--provider", choices=sorted(KEY_VARIABLES), default="anthropic")
    parser.add_argument("--real", action="store_true", help="ask the real provider (its API key must be set)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--call-model", help="the model asked for the calls (default: the provider's insight model)")
    args = parser.parse_args()
    call_model = args.call_model or get_provider_spec(args.provider).default_models[INSIGHT]
    if args.real and not os.environ.get(KEY_VARIABLES[args.provider]):
        parser.error(f"--real needs {KEY_VARIABLES[args.provider]} set")
    labels = read_labels()
    report: dict[str, Any] = {"labelled_calls": len(labels)}
    with tempfile.TemporaryDirectory() as directory:
        workdir = Path(directory)
        url = f"sqlite:///{prepare_raw(workdir)}"
        offline = assess(url, workdir, provider="offline")
        report["offline"] = evaluate(url, labels)
        report["offline_run"] = {"calls": offline["calls"], "llm_calls": offline["llm_calls"]}
        print(_table("offline heuristics (whole transcript)", report["offline"]))
        # A hosted provider by default: the heuristics in-process, no LLM call (no key needed either).
        default = assess(url, workdir, provider=args.provider, base_url="http://127.0.0.1:9")
        report["default"] = evaluate(url, labels)
        report["default_run"] = {"calls": default["calls"], "llm_calls": default["llm_calls"]}
        title = f"{args.provider} by default (local heuristics, whole transcript, no LLM call)"
        print(_table(title, report["default"]))
        kind = "real" if args.real else "fake server, offline answers on the excerpt"
        name = f"{args.provider}, HEADWAY_CALL_MODEL={call_model} ({kind})"
        if args.real:
            hosted = assess(url, workdir, provider=args.provider, call_model=call_model)
        else:
            with fake_server(args.provider) as base_url:
                hosted = assess(url, workdir, provider=args.provider, base_url=base_url, call_model=call_model)
        report["llm"] = evaluate(url, labels)
        report["llm_run"] = {
            key: hosted[key]
            for key in (
                "calls",
                "llm_calls",
                "llm_input_tokens",
                "llm_output_tokens",
                "llm_cost_usd",
                "rejected_quotes",
            )
        }
        print(_table(name, report["llm"]))
        print(f"  run: {report['llm_run']}")
        dispose_engines()
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
