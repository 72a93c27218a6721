"""`headway classify` and `headway eval`: tier-1 from the command line, on any provider (CLI layer)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TextIO

from headway_assets.core.llm_catalogue import OFFLINE_PROVIDER
from headway_assets.core.message import content_hash
from headway_assets.core.settings import get_settings
from headway_assets.llm.engine import DEFAULT_BATCH_ITEMS, EngineConfig, LlmEngine, LlmFailure
from headway_assets.llm.providers.base import ProviderOptions
from headway_assets.llm.registry import (
    LOCAL_MODEL,
    LOCAL_MODEL_PREFIX,
    OFFLINE_MODEL,
    build_provider,
    get_provider_spec,
    provider_names,
)
from headway_assets.llm.schemas import Tier1Label
from headway_assets.llm.tasks import INSIGHT, MATCH, TIER1, TIER2

BLOCK = 500  # texts sent to the engine at a time (progress is reported per block)
MODEL_HELP = (
    "offline tier-1 model: a trained artefact (.joblib from `headway model train`), 'default' (the trained "
    "model shipped in the package) or 'lexicon'; implies --provider offline"
)


def provider_help() -> str:
    names = ", ".join(f"{name} ({get_provider_spec(name).display_name})" for name in provider_names())
    return f"one of the registered LLM providers: {names} (default: HEADWAY_LLM_PROVIDER)"


def _stderr(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


@asynccontextmanager
async def open_engine(provider: str | None, tier1_model: str | None = None) -> AsyncIterator[LlmEngine]:
    """An uncached engine on the configured (or named) provider, its client closed afterwards;
    `tier1_model` overrides the configured tier-1 model."""
    settings = get_settings().pipeline
    spec = get_provider_spec(provider or settings.llm_provider)
    models = spec.models(
        {
            TIER1: tier1_model or settings.tier1_model,
            TIER2: settings.tier2_model,
            INSIGHT: settings.insight_model,
            MATCH: settings.match_model,
        }
    )
    client = build_provider(
        spec.name,
        ProviderOptions(
            base_url=settings.llm_base_url,
            timeout_seconds=settings.llm_timeout_seconds,
            max_retries=settings.llm_max_retries,
        ),
    )
    batch_items = dict(DEFAULT_BATCH_ITEMS)
    if spec.name == OFFLINE_PROVIDER:
        # Computed in this process from the payload, with no prompt to keep short: a call per block
        # of the command instead of per 100 texts (the trained model pays ~4 ms of scikit-learn
        # checks per call, a quarter of its time at 100). Each text's label is its own either way.
        batch_items[TIER1] = BLOCK
    try:
        yield LlmEngine(
            client,
            EngineConfig(models=models, max_in_flight=settings.llm_max_in_flight, batch_items=batch_items),
        )
    finally:
        await client.aclose()


def label_texts(
    texts: Sequence[str],
    *,
    provider: str | None,
    progress: Callable[[int, int], None] | None = None,
    tier1_model: str | None = None,
) -> list[Tier1Label | LlmFailure]:
    """Tier-1 outcomes for `texts`, in order, from the configured (or named) provider, uncached."""
    outcomes: list[Tier1Label | LlmFailure] = []

    async def run() -> None:
        async with open_engine(provider, tier1_model) as engine:
            for start in range(0, len(texts), BLOCK):
                block = texts[start : start + BLOCK]
                keys = [content_hash(text) for text in block]
                answers = await engine.label(dict(zip(keys, block, strict=True)))
                outcomes.extend(answers.get(key) or LlmFailure("not_attempted", "deadline") for key in keys)
                if progress:
                    progress(len(outcomes), len(texts))

    asyncio.run(run())
    return outcomes


def offline_tier1_model(value: str) -> str:
    """`--model`: `default` (the trained model shipped in the package), `lexicon`, or an artefact path."""
    if value in ("default", LOCAL_MODEL):
        return LOCAL_MODEL
    if value in ("lexicon", OFFLINE_MODEL):
        return OFFLINE_MODEL
    path = Path(value.removeprefix(LOCAL_MODEL_PREFIX)).expanduser()
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"{value!r}: no such model artefact (train one with `headway model train`)")
    return LOCAL_MODEL_PREFIX + str(path.resolve())


def _provider_and_model(args: argparse.Namespace) -> tuple[str | None, str | None]:
    """`--model` runs tier-1 on the offline provider's trained model (or lexicon); it needs no key."""
    if args.model is None:
        return args.provider, None
    if args.provider not in (None, "offline"):
        raise SystemExit(
            f"--model runs the offline provider's local model; it cannot be combined with --provider {args.provider}"
        )
    return "offline", args.model


def cmd_classify(args: argparse.Namespace) -> int:
    """Read `{"id", "text"}` JSON lines, write `{"id", "is_feedback", "category", "score", "confidence"}`."""
    provider, tier1_model = _provider_and_model(args)
    items: list[tuple[Any, str]] = []
    bad = 0
    with args.input.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                if not isinstance(record, dict) or "id" not in record or not isinstance(record.get("text"), str):
                    raise ValueError('expected an object with "id" and a string "text"')
            except ValueError as error:
                bad += 1
                _stderr(f"{args.input}:{number}: skipped: {error}")
                continue
            items.append((record["id"], record["text"]))
    started = time.monotonic()

    def progress(done: int, total: int) -> None:
        _stderr(f"classified {done}/{total} ({done / max(time.monotonic() - started, 1e-6):.0f}/s)")

    outcomes = label_texts([text for _, text in items], provider=provider, progress=progress, tier1_model=tier1_model)
    failed = 0
    output: TextIO
    with args.output.open("w", encoding="utf-8") as output:
        for (item_id, _), outcome in zip(items, outcomes, strict=True):
            if isinstance(outcome, Tier1Label):
                row = {
                    "id": item_id,
                    "is_feedback": outcome.is_feedback,
                    "category": outcome.category,
                    "score": outcome.relevance,
                    "confidence": outcome.confidence,
                }
            else:
                failed += 1
                row = {"id": item_id, "error": f"{outcome.status}: {outcome.error}"}
            output.write(json.dumps(row, ensure_ascii=False) + "\n")
    _stderr(f"wrote {len(items)} labels to {args.output} ({failed} failed, {bad} input lines skipped)")
    return 0 if not (failed or bad) else 1


def cmd_eval(args: argparse.Namespace) -> int:
    """Measure a provider on a labelled CSV and print per-class P/R/F1 and macro F1."""
    from headway_assets.llm.evaluation import evaluate, format_report, load_labelled_csv

    provider, tier1_model = _provider_and_model(args)
    dataset = load_labelled_csv(args.csv, args.text_column, args.label_column, args.mapping)
    _stderr(f"{args.csv}: {len(dataset.texts)} labelled texts")

    def classifier(texts: list[str]) -> list[Tier1Label]:
        outcomes = label_texts(texts, provider=provider, tier1_model=tier1_model)
        # A failed call counts as "other": the report then shows what the failures cost.
        fallback = Tier1Label(is_feedback=False, category="other", relevance=0, confidence=0.0)
        return [o if isinstance(o, Tier1Label) else fallback for o in outcomes]

    result = evaluate(classifier, dataset, restrict_to_gold_labels=args.restrict_to_gold_labels, batch_size=BLOCK * 4)
    used = provider or get_settings().pipeline.llm_provider
    print(format_report(result, title=f"{args.csv} ({used}{f', {tier1_model}' if tier1_model else ''})"))
    return 0


def register_commands(commands: Any) -> None:
    """Add `classify` and `eval` to the `headway` command line."""
    classify = commands.add_parser("classify", help="tier-1 labels for a JSON-lines file of {id, text}")
    classify.add_argument("--input", type=Path, required=True, help="JSON lines with id and text")
    classify.add_argument("--output", type=Path, required=True, help="where to write the labels (JSON lines)")
    classify.add_argument("--provider", choices=provider_names(), default=None, help=provider_help())
    classify.add_argument("--model", type=offline_tier1_model, default=None, help=MODEL_HELP)
    classify.set_defaults(handler=cmd_classify)

    evaluate_parser = commands.add_parser("eval", help="measure a provider on a labelled CSV")
    evaluate_parser.add_argument("--csv", type=Path, required=True)
    evaluate_parser.add_argument("--text-column", required=True, help="column(s) with the text, e.g. title,body")
    evaluate_parser.add_argument("--label-column", required=True)
    evaluate_parser.add_argument(
        "--mapping",
        default=None,
        help="raw label -> category: a CSV (label,category) or inline 'bug=bug_report,feature=feature_request'",
    )
    evaluate_parser.add_argument("--provider", choices=provider_names(), default=None, help=provider_help())
    evaluate_parser.add_argument("--model", type=offline_tier1_model, default=None, help=MODEL_HELP)
    evaluate_parser.add_argument(
        "--restrict-to-gold-labels",
        action="store_true",
        help="macro F1 over the classes the data set labels (e.g. bug/feature/question)",
    )
    evaluate_parser.set_defaults(handler=cmd_eval)
