"""Measure the offline competitor mentions (issue 16, item 4) on the demo corpus and a labelled set.

    .venv/bin/python scripts/eval_competitors.py            # demo corpus (in memory) + the labelled set
    .venv/bin/python scripts/eval_competitors.py --show     # also print every miss and false find
    .venv/bin/python scripts/eval_competitors.py --warehouse sqlite:///data/headway.db   # + what a run stored

1. Demo corpus: every Slack message (top-level and replies) of both organisations, with the
   organisation's seeded competitor list, against `ExpectedItem.competitors`. Scored twice:
   the heuristic on every message, and end to end as the pipeline records them (only messages
   the offline tier-1 finds relevant, relevance >= 6, reach tier-2; a Slack message is one chunk).
   With `--warehouse`, also what a pipeline run over the demo (`./dev demo`) stored in
   `competitor_mentions`, against the same truth.
2. `tests/data/competitors/sentences.jsonl`: 24 sentences written by hand, after the heuristic and
   without tuning it on them, with the (competitor, context) pairs a reader would record.

A find is a (message, competitor, context) triple; "named" scores (message, competitor) only.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from headway_assets.demo import build_demo_corpus
from headway_assets.demo.content import DEMO_COMPETITORS
from headway_assets.llm.schemas import RELEVANCE_THRESHOLD
from headway_assets.offline import OfflineClassifier, find_competitor_mentions

REPO_ROOT = Path(__file__).resolve().parents[1]
SENTENCES = REPO_ROOT / "tests" / "data" / "competitors" / "sentences.jsonl"
Triple = tuple[str, str, str]


def _scores(found: set[Triple], truth: set[Triple]) -> str:
    hits = len(found & truth)
    precision = hits / len(found) if found else 1.0
    recall = hits / len(truth) if truth else 1.0
    return f"precision {precision:.3f} ({hits}/{len(found)}), recall {recall:.3f} ({hits}/{len(truth)})"


def _named(triples: set[Triple]) -> set[Triple]:
    return {(key, name, "") for key, name, _ in triples}


def _report(title: str, found: set[Triple], truth: set[Triple], show: bool) -> None:
    print(f"{title}\n  mentions (competitor + context): {_scores(found, truth)}")
    print(f"  competitor named:                {_scores(_named(found), _named(truth))}")
    if show:
        for triple in sorted(truth - found):
            print(f"  missed {triple}")
        for triple in sorted(found - truth):
            print(f"  false  {triple}")


def demo(show: bool) -> None:
    """Score the heuristic and the pipeline's view of it on the demo corpus's Slack messages."""
    classifier = OfflineClassifier()
    found: set[Triple] = set()
    recorded: set[Triple] = set()
    truth: set[Triple] = set()
    messages = 0
    for org in build_demo_corpus():
        listed = tuple((spec.name, spec.aliases) for spec in DEMO_COMPETITORS[org.org.slug])
        texts = {
            f"{channel}:{body['ts']}": body["text"]
            for channel in org.slack.history
            for body in org.slack.all_messages(channel)
        }
        for item in org.expected:
            if item.source == "slack":
                truth |= {(item.external_id, name, context) for name, context in item.competitors}
        keys = sorted(texts)
        labels = classifier.classify_many(texts[key] for key in keys)
        for key, label in zip(keys, labels, strict=True):
            messages += 1
            finds = {(key, c.competitor, c.context) for c in find_competitor_mentions(texts[key], listed)}
            found |= finds
            if label.relevance >= RELEVANCE_THRESHOLD:
                recorded |= finds
    print(f"demo corpus: {messages} Slack messages, {len(truth)} competitor mentions in the ground truth")
    _report("heuristic on every message", found, truth, show)
    _report("as the pipeline records them (tier-1 relevant only)", recorded, truth, show)


def stored(url: str, show: bool) -> None:
    """Score the competitor mentions a pipeline run over the demo stored in the warehouse at `url`."""
    from sqlalchemy import select

    from headway_assets.core.warehouse.database import read_connection
    from headway_assets.core.warehouse.schema import Competitor, CompetitorMention, Message

    truth = {
        (f"{item.source}:{item.external_id}", name, context)
        for org in build_demo_corpus()
        for item in org.expected
        for name, context in item.competitors
    }
    with read_connection(url) as conn:
        rows = conn.execute(
            select(Message.source, Message.external_id, Competitor.name, CompetitorMention.context)
            .join(Message, Message.id == CompetitorMention.message_id)
            .join(Competitor, Competitor.id == CompetitorMention.competitor_id)
        ).all()
    found = {(f"{source}:{external_id}", name, context) for source, external_id, name, context in rows}
    _report(f"stored by the pipeline in {url}", found, truth, show)


def sentences(show: bool) -> None:
    """Score the heuristic on the hand-written, labelled sentences."""
    listed = (("DashHub", ("Dash Hub",)), ("Metricly", ("Metricly Cloud",)), ("Querybase", ("QBase",)))
    found: set[Triple] = set()
    truth: set[Triple] = set()
    lines = SENTENCES.read_text(encoding="utf-8").splitlines()
    for index, line in enumerate(lines):
        row = json.loads(line)
        key = f"{index + 1}"
        truth |= {(key, name, context) for name, context in row["expected"]}
        found |= {(key, c.competitor, c.context) for c in find_competitor_mentions(row["text"], listed)}
    print(f"labelled set: {len(lines)} sentences, {len(truth)} mentions")
    _report("heuristic", found, truth, show)


def main() -> None:
    """Print the figures docs/quality.md quotes."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--show", action="store_true", help="print every miss and false find")
    parser.add_argument("--warehouse", help="also score what a demo run stored in this warehouse (URL)")
    args = parser.parse_args()
    demo(args.show)
    if args.warehouse:
        stored(args.warehouse, args.show)
    sentences(args.show)


if __name__ == "__main__":
    main()
