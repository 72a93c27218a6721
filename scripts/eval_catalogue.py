"""Score the catalogue (the offline matcher by default) on a labelled set of mentions in known asks.

    .venv/bin/python scripts/eval_catalogue.py                                 # tests/data/catalogue/asks.jsonl, all
    .venv/bin/python scripts/eval_catalogue.py --split test                    # the held-out half only
    .venv/bin/python scripts/eval_catalogue.py --errors                        # also list split and merged asks
    .venv/bin/python scripts/eval_catalogue.py --demo                          # also the demo ground truth

Input: JSON lines in the `headway catalogue` format. `{"type": "taxonomy", "company", "themes"}`
lines, then `{"type": "mention", "id", "company", "title", "description", "quote", "theme",
"sub_theme", "customer", "kind", "ask"}` lines, `ask` being the gold ask; an optional `split`
("tune" / "test") selects a part with `--split`. Mentions are fed in file order.

Printed: pairwise precision / recall / F1 over pairs of mentions of one company, requests made
against asks, the adjusted Rand index (scikit-learn), the same for the naive baseline (one request
per company and sub-theme), and the share of request titles that name an ask
(`offline.titles.names_an_ask`).

The mentions are linked exactly as `headway catalogue --input ... --provider offline` links them
(`commands.catalogue.link_file_mentions`: the pipeline's linker and the offline provider through
the LLM engine), in file order.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sklearn.metrics import adjusted_rand_score
from sklearn.metrics.cluster import pair_confusion_matrix

from headway_assets.catalog import MentionRecord
from headway_assets.commands.catalogue import link_file_mentions
from headway_assets.offline import names_an_ask

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SET = REPO_ROOT / "tests" / "data" / "catalogue" / "asks.jsonl"


@dataclass(frozen=True)
class LabelledMention:
    """One input line, with its gold ask."""

    record: MentionRecord
    quote: str
    ask: str
    split: str | None


def load(path: Path, split: str | None) -> list[LabelledMention]:
    """The mentions of `path` (of one split when given), in file order."""
    companies: dict[str, int] = {}
    mentions: list[LabelledMention] = []
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for line_no, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
        if not line.strip():
            continue
        row: dict[str, Any] = json.loads(line)
        if row.get("type") != "mention":
            continue
        if split and row.get("split") != split:
            continue
        org_id = companies.setdefault(row["company"], len(companies) + 1)
        record = MentionRecord(
            id=line_no,
            org_id=org_id,
            title=row["title"],
            description=row.get("description") or "",
            kind=row.get("kind") or "feature_request",
            theme=row.get("theme"),
            sub_theme=row.get("sub_theme"),
            customer=row.get("customer"),
            source="labelled",
            sent_at=start + timedelta(minutes=line_no),
            external_id=str(row["id"]),
            ordinal=0,
        )
        mentions.append(
            LabelledMention(record, row.get("quote") or "", f"{row['company']}/{row['ask']}", row.get("split"))
        )
    return mentions


def run_catalogue(mentions: list[LabelledMention], provider: str = "offline") -> dict[int, tuple[str, str]]:
    """The catalogue of `mentions` as `headway catalogue` builds it: {mention id: (request key, title)}."""
    requests, failed = link_file_mentions([replace(m.record, quote=m.quote) for m in mentions], provider)
    if failed:
        raise SystemExit(f"{failed} match answers failed")
    return {mention.id: (request.key, request.title) for request in requests for mention in request.mentions}


def pairwise(gold: list[str], predicted: list[str]) -> tuple[float, float, float]:
    """Pairwise precision, recall and F1 of `predicted` against `gold` (labels per mention)."""
    (_, fp), (fn, tp) = pair_confusion_matrix(gold, predicted) // 2
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def score(mentions: list[LabelledMention], placed: dict[int, tuple[str, str]]) -> dict[str, float]:
    """The figures of one clustering."""
    gold = [m.ask for m in mentions]
    predicted = [placed[m.record.id][0] for m in mentions]
    precision, recall, f1 = pairwise(gold, predicted)
    titles = {key: title for key, title in placed.values()}
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "ari": adjusted_rand_score(gold, predicted),
        "requests": len(set(predicted)),
        "asks": len(set(gold)),
        "names_an_ask": sum(names_an_ask(t) for t in titles.values()) / max(1, len(titles)),
    }


def naive(mentions: list[LabelledMention]) -> dict[int, tuple[str, str]]:
    """One request per company and sub-theme (theme when no sub-theme)."""
    return {
        m.record.id: (f"{m.record.org_id}/{m.record.theme}/{m.record.sub_theme}", m.record.sub_theme or "")
        for m in mentions
    }


def errors(mentions: list[LabelledMention], placed: dict[int, tuple[str, str]]) -> None:
    """Asks split over several requests, and requests holding several asks."""
    by_ask: dict[str, list[LabelledMention]] = defaultdict(list)
    by_request: dict[str, Counter[str]] = defaultdict(Counter)
    for m in mentions:
        by_ask[m.ask].append(m)
        by_request[placed[m.record.id][0]][m.ask] += 1
    print("\nsplit asks:")
    for ask, members in sorted(by_ask.items()):
        keys = {placed[m.record.id][0] for m in members}
        if len(keys) > 1:
            print(f"  {ask}: {len(members)} mentions in {len(keys)} requests")
            for m in members:
                print(f"    [{placed[m.record.id][0][-8:]}] {m.record.sub_theme} | {m.record.title}")
    print("\nmerged asks:")
    for key, asks in by_request.items():
        if len(asks) > 1:
            print(f"  {key[-8:]}: {dict(asks)}")


def demo_mentions() -> list[LabelledMention]:
    """The demo's mentions as tier-1 and tier-2 extract them offline (eval_offline_tier2's replay),
    each with its ground-truth ask (`<org>/None` for a mention of no ask)."""
    sys.path.insert(0, str(REPO_ROOT / "scripts"))
    import eval_offline_tier2 as demo  # a sibling script, loaded only for --demo

    classifier = demo.OfflineClassifier()
    messages, info = demo.load_demo(demo._manifest_dir(None), classifier)
    extracted, _ = demo.extract_all(messages, info, demo.OfflineExtractor(classifier))
    org_ids = {slug: i + 1 for i, slug in enumerate(sorted({m.org for m in extracted}))}
    mentions: list[LabelledMention] = []
    for index, mention in enumerate(extracted, start=1):
        message = mention.message.message
        record = MentionRecord(
            index,
            org_ids[mention.org],
            mention.draft.title,
            mention.draft.description,
            mention.draft.kind,
            mention.draft.theme,
            mention.draft.sub_theme,
            message.customer,
            message.source,
            message.sent_at,
            message.external_id,
            mention.ordinal,
        )
        mentions.append(LabelledMention(record, mention.draft.evidence_quote, f"{mention.org}/{mention.label}", None))
    return mentions


def demo_figures(show_errors: bool = False) -> None:
    """The demo's ground truth through the same linker: the pipeline replay of eval_offline_tier2."""
    mentions = demo_mentions()
    placed = run_catalogue(mentions)
    labelled = [m for m in mentions if not m.ask.endswith("/None")]
    titles = {key: title for key, title in placed.values()}
    print(f"\ndemo ground truth: {len(mentions)} mentions, {len(labelled)} with an ask")
    print(_row("catalogue", score(labelled, placed)))
    print(_row("one per sub-theme", {**score(labelled, naive(labelled)), "names_an_ask": -1.0}))
    share = sum(names_an_ask(t) for t in titles.values()) / max(1, len(titles))
    print(f"request titles that name an ask (all {len(titles)} requests): {share:.1%}")
    if show_errors:
        errors(labelled, placed)


def _row(name: str, figures: dict[str, float]) -> str:
    return (
        f"{name:<22} {figures['precision']:>9.3f} {figures['recall']:>7.3f} {figures['f1']:>6.3f} "
        f"{figures['ari']:>6.3f} {int(figures['requests']):>5} / {int(figures['asks']):<4} "
        + (f"{figures['names_an_ask']:>6.1%}" if figures["names_an_ask"] >= 0 else f"{'-':>6}")
    )


def main(argv: list[str] | None = None) -> int:
    """Print the figures; `--demo` also runs scripts/eval_offline_tier2.py."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--input", type=Path, default=DEFAULT_SET)
    parser.add_argument("--split", choices=["tune", "test"], default=None)
    parser.add_argument("--errors", action="store_true", help="list split and merged asks")
    parser.add_argument("--demo", action="store_true", help="also score the demo ground truth")
    args = parser.parse_args(argv)
    mentions = load(args.input, args.split)
    if not mentions:
        raise SystemExit(f"no mentions in {args.input} (split {args.split})")
    placed = run_catalogue(mentions)
    print(f"{args.input.name} split={args.split or 'all'}: {len(mentions)} mentions")
    print(f"{'':<22} {'precision':>9} {'recall':>7} {'F1':>6} {'ARI':>6} {'requests/asks':>12} {'names an ask':>6}")
    print(_row("catalogue", score(mentions, placed)))
    print(_row("one per sub-theme", {**score(mentions, naive(mentions)), "names_an_ask": -1.0}))
    if args.errors:
        errors(mentions, placed)
    if args.demo:
        demo_figures(args.errors)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
