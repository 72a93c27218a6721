"""Rounds and questions of the catalogue linker, asking ahead as the catalogue stands or along guessed placements.

    .venv/bin/python scripts/bench_linker_rounds.py                       # demo and the labelled asks
    .venv/bin/python scripts/bench_linker_rounds.py --synthetic 10000     # also synthetic mentions at scale
    .venv/bin/python scripts/bench_linker_rounds.py --wrong 0 0.1 0.2     # shares of wrong guesses to try

Links each set of mentions in process (the offline matcher answers, at once) with one `Linker`:
first without a predictor (each round asks what the next mentions face in the catalogue as it
stands), then with the offline matcher as the predictor (`Linker(predict=...)`), its guesses
turned round on a share of the questions (chosen by a hash of the question: a hosted model that
disagrees with the offline matcher that often). Prints, per run: the rounds (batched asks one
after another; the organisations' rounds run side by side, so the most of one org is the wave
count a latency-bound run sees), the questions asked (the ones asked in vain included), CPU
seconds, and whether the catalogue is the one of the run without a predictor (it must be).
docs/benchmarks.md ("Asking ahead along guessed placements") records the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import sys
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

from headway_assets.catalog import Linker, MentionRecord, linker  # noqa: E402
from headway_assets.llm.schemas import CatalogMatch  # noqa: E402
from headway_assets.llm.tasks import AI_MATCH, MatchInput  # noqa: E402
from headway_assets.offline import match  # noqa: E402


def demo_mentions() -> list[MentionRecord]:
    """The demo's mentions as scripts/eval_catalogue.py --demo links them (offline tier-1 and tier-2)."""
    import eval_offline_tier2 as demo

    classifier = demo.OfflineClassifier()
    messages, info = demo.load_demo(demo._manifest_dir(None), classifier)
    extracted, _ = demo.extract_all(messages, info, demo.OfflineExtractor(classifier))
    org_ids = {slug: number for number, slug in enumerate(sorted({m.org for m in extracted}), start=1)}
    return [
        MentionRecord(
            index,
            org_ids[m.org],
            m.draft.title,
            m.draft.description,
            m.draft.kind,
            m.draft.theme,
            m.draft.sub_theme,
            m.message.message.customer,
            m.message.message.source,
            m.message.message.sent_at,
            m.message.message.external_id,
            m.ordinal,
            quote=m.draft.evidence_quote,
        )
        for index, m in enumerate(extracted, start=1)
    ]


def asks_mentions() -> list[MentionRecord]:
    """tests/data/catalogue/asks.jsonl, read as scripts/eval_catalogue.py reads it."""
    import eval_catalogue

    rows = eval_catalogue.load(eval_catalogue.DEFAULT_SET, None)
    return [replace(row.record, quote=row.quote) for row in rows]


def synthetic_mentions(count: int) -> list[MentionRecord]:
    """`count` mentions of scripts/bench_catalogue.py's synthetic asks, half per organisation, over a year."""
    from bench_catalogue import Synthesiser

    synth, mentions = Synthesiser(), []
    for org, org_id in (("acme", 1), ("northwind", 2)):
        _, rows = synth.rows(org, org_id, count // 2, datetime(2026, 1, 1, tzinfo=UTC), 365, "rounds")
        for index, row in enumerate(rows):
            mentions.append(
                MentionRecord(
                    len(mentions) + 1,
                    org_id,
                    row["title"],
                    row["description"],
                    row["kind"],
                    row["theme"],
                    row["sub_theme"],
                    row["customer"],
                    row["source"],
                    row["sent_at"],
                    f"rounds-{org}-{index}",
                    0,
                    quote=row["evidence_quote"],
                )
            )
    return mentions


def wrong(share: float) -> linker.Predictor:
    """The offline matcher, its answer turned round on `share` of the questions (a link founds, a
    founding links to the first candidate)."""

    def predict(item: MatchInput) -> CatalogMatch:
        answer = match(item)
        if int(hashlib.sha256(linker.match_key(item).encode()).hexdigest()[:8], 16) >= share * 2**32:
            return answer
        if (answer.candidate_id is not None and answer.score >= AI_MATCH) or not item.candidates:
            return CatalogMatch(candidate_id=None, score=0.1)
        return CatalogMatch(candidate_id=item.candidates[0].id, score=0.9)

    return predict


def run(mentions: list[MentionRecord], predict: linker.Predictor | None) -> tuple[dict[int, int], int, float, str]:
    """Rounds per org, questions asked, CPU seconds and a hash of the catalogue (who is with whom).

    Each org is linked by a `Linker` of its own (one org's placements never change another's
    questions; in the pipeline their rounds run side by side), so its rounds are counted apart."""
    rounds: dict[int, int] = {}
    questions = 0
    membership: list[tuple[int, str]] = []
    started = time.process_time()
    for org_id in sorted({m.org_id for m in mentions}):
        count = Counter[str]()

        async def matcher(items: Mapping[str, MatchInput], count: Counter[str] = count) -> Mapping[str, CatalogMatch]:
            count["rounds"] += 1
            count["questions"] += len(items)
            return {key: match(item) for key, item in items.items()}

        result = asyncio.run(Linker([], matcher, predict).link([m for m in mentions if m.org_id == org_id]))
        rounds[org_id], questions = count["rounds"], questions + count["questions"]
        membership += [(m.id, r.key) for r in result.created for m in r.mentions]
    seconds = time.process_time() - started
    return rounds, questions, seconds, hashlib.sha256(repr(sorted(membership)).encode()).hexdigest()[:12]


def main() -> int:
    """Print the figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--synthetic", type=int, default=0, help="also this many synthetic mentions")
    parser.add_argument("--wrong", type=float, nargs="+", default=[0.0, 0.1, 0.2, 0.3], help="shares of wrong guesses")
    parser.add_argument("--no-demo", action="store_true", help="leave the demo out (it runs tier-1 and tier-2 first)")
    args = parser.parse_args()
    sets = {} if args.no_demo else {"demo": demo_mentions()}
    sets["asks"] = asks_mentions()
    if args.synthetic:
        sets[f"synthetic {args.synthetic:,}"] = synthetic_mentions(args.synthetic)
    for name, mentions in sets.items():
        print(f"{name}: {len(mentions):,} mentions", flush=True)
        reference = None
        for label, predict in [("as it stands", None), *((f"guessed, {s:.0%} wrong", wrong(s)) for s in args.wrong)]:
            rounds, questions, seconds, catalogue = run(mentions, predict)
            reference = reference or catalogue
            per_org = ", ".join(str(rounds[org]) for org in sorted(rounds))
            print(
                f"  {label:22s} rounds {sum(rounds.values()):5,} (per org {per_org}), questions {questions:6,}, "
                f"CPU {seconds:6.1f} s, same catalogue: {catalogue == reference}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
