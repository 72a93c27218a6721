"""Measure the offline tier-2 extractor and catalogue matcher on the demo corpus.

    .venv/bin/python scripts/eval_offline_tier2.py                 # data/demo (generated if missing)
    .venv/bin/python scripts/eval_offline_tier2.py --names-only    # taxonomy names only, no keyword files
    .venv/bin/python scripts/eval_offline_tier2.py --show 30       # also print 30 sample mentions
    .venv/bin/python scripts/eval_offline_tier2.py --no-matcher    # baseline: catalogue by title similarity only

The pipeline is replayed in memory: every message of the demo exports is chunked and labelled
by the offline tier-1 classifier; messages with relevance >= 6 go through the offline extractor
(the whole message, as `feature_mentions` does); the mentions are built into the
catalogue with `catalog.build_catalog` and the offline matcher. The ground truth is the demo's
`expected.jsonl` (the canonical asks of every message).

Clustering is scored on mentions that carry a ground-truth ask: a mention of a message with one
ask takes that ask; in a message with several asks (calls) it takes the ask whose title shares
the most content words with the mention's quote and title (ties and no overlap: unlabelled).
Mentions of messages without an ask count as spurious and are left out of the clustering scores.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from headway_assets.catalog import BatchMatcher, CatalogEntry, MentionRecord, build_catalog, matcher_from_function
from headway_assets.core.message import NormalisedMessage, TimeWindow
from headway_assets.core.pii import message_people
from headway_assets.core.taxonomy import TAXONOMY_DIR, load_taxonomy_file
from headway_assets.demo import generate_demo, load_manifest
from headway_assets.llm.chunking import chunk_text
from headway_assets.llm.redaction import PiiScope, PrivacyGuard, message_scope
from headway_assets.llm.schemas import RELEVANCE_THRESHOLD, MentionDraft
from headway_assets.llm.tasks import TIER1, TIER2, Tier1Input, Tier2Input
from headway_assets.offline import OfflineClassifier, OfflineExtractor, match, term_weights
from headway_assets.sources.dispatch import ExportOptions, read_export

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DEMO = REPO_ROOT / "data" / "demo"


@dataclass(frozen=True)
class DemoMessage:
    """A message of the demo corpus with its ground truth and tier-1 outcome."""

    org: str
    message: NormalisedMessage
    asks: tuple[str, ...]
    pieces: tuple[str, ...]  # what tier-2 reads (empty when not relevant)
    relevant_chunk_chars: int = 0  # what tier-1 scored relevant in it (tier-2's input until tier2-v2)


@dataclass
class ExtractedMention:
    """One mention as the pipeline would store it, with its evaluation label."""

    org: str
    message: DemoMessage
    ordinal: int
    draft: MentionDraft
    label: str | None


def _manifest_dir(requested: Path | None) -> Path:
    if requested is not None:
        if not (requested / "manifest.json").is_file():
            raise SystemExit(f"{requested / 'manifest.json'} not found; generate it with python -m headway_assets.demo")
        return requested
    if (DEFAULT_DEMO / "manifest.json").is_file():
        return DEFAULT_DEMO
    out = Path(tempfile.mkdtemp(prefix="headway-demo-"))
    print(f"no demo corpus in {DEFAULT_DEMO}; generating one in {out}", file=sys.stderr)
    generate_demo(out)
    return out


def _scope(message: NormalisedMessage, redact: bool) -> PiiScope:
    """The redaction the pipeline applies to `message` (its people's names, its customer kept)."""
    people = message_people(message.author_name, message.author_email, message.metadata)
    return message_scope(redact, people, message.customer)


def load_demo(
    base: Path, classifier: OfflineClassifier, redact: bool = False
) -> tuple[list[DemoMessage], dict[str, Any]]:
    """Every message of the demo exports with its asks and tier-2 pieces; plus per-org info. With
    `redact`, tier-1 reads each chunk as the engine sends it: personal data replaced."""
    manifest = load_manifest(base / "manifest.json")
    window = TimeWindow(manifest.window_start, manifest.window_end)
    messages: list[DemoMessage] = []
    info: dict[str, Any] = {}
    for org in manifest.orgs:
        expected: dict[tuple[str, str], dict[str, Any]] = {}
        with (base / org.expected_path).open(encoding="utf-8") as handle:
            for line in handle:
                row = json.loads(line)
                expected[(row["source"], row["external_id"])] = row
        info[org.slug] = {"asks": json.loads((base / org.asks_path).read_text(encoding="utf-8"))}
        options = ExportOptions(org.internal_domains, org.workspace_url, org.support_mailbox)
        for connection in org.connections:
            result = read_export(connection.source, base / connection.path, window, options)
            for message in result.messages:
                row = expected.get((message.source, message.external_id))
                if row is None:
                    raise SystemExit(f"{org.slug}: {message.source} {message.external_id} is not in expected.jsonl")
                chunks = chunk_text(message.text)
                guard = PrivacyGuard(enabled_by_default=redact)
                for chunk in chunks:
                    guard.register(chunk.text, _scope(message, redact))
                sent = guard.protect(TIER1, [(str(i), Tier1Input("", c.text)) for i, c in enumerate(chunks)])
                labels = classifier.classify_many(item.text for _, item in sent)
                relevant = [
                    c for c, label in zip(chunks, labels, strict=True) if label.relevance >= RELEVANCE_THRESHOLD
                ]
                pieces = (message.text,) if relevant else ()  # as the pipeline: the whole relevant message
                chunk_chars = sum(len(c.text) for c in relevant)
                messages.append(DemoMessage(org.slug, message, tuple(row["asks"]), pieces, chunk_chars))
    return messages, info


def _label(draft: MentionDraft, asks: tuple[str, ...], ask_titles: dict[str, str]) -> str | None:
    if not asks:
        return None
    if len(asks) == 1:
        return asks[0]
    words = term_weights(f"{draft.title}. {draft.evidence_quote}")
    overlaps = sorted(((sum(words.get(s, 0) for s in term_weights(ask_titles[a])), a) for a in asks), reverse=True)
    if overlaps[0][0] <= 0 or (len(overlaps) > 1 and overlaps[0][0] == overlaps[1][0]):
        return None
    return overlaps[0][1]


def extract_all(
    messages: list[DemoMessage], info: dict[str, Any], extractor: OfflineExtractor, redact: bool = False
) -> tuple[list[ExtractedMention], dict[str, int]]:
    """Run tier-2 over the relevant messages; check quotes; label mentions. With `redact`, the
    extractor reads the redacted message and its quotes are restored, as in the pipeline."""
    mentions: list[ExtractedMention] = []
    counters: Counter[str] = Counter()
    taxonomies = {slug: load_taxonomy_file(TAXONOMY_DIR / f"{slug}.yaml").listing() for slug in info}
    for demo in messages:
        if not demo.pieces:
            continue
        ask_titles = {a["key"]: a["title"] for a in info[demo.org]["asks"]}
        seen: set[str] = set()
        ordinal = 0
        for piece in demo.pieces:
            item = Tier2Input(
                text=piece,
                source=demo.message.source,
                customer=demo.message.customer,
                title=demo.message.title,
                taxonomy=taxonomies[demo.org],
            )
            guard = PrivacyGuard(enabled_by_default=redact)
            guard.register(piece, _scope(demo.message, redact))
            [(_, sent)] = guard.protect(TIER2, [("0", item)])
            redaction = guard.tier2_redaction(item)
            for answer in extractor.extract(sent).mentions:
                draft = answer
                if redaction is not None:
                    draft = answer.model_copy(update={"evidence_quote": redaction.restore(answer.evidence_quote)})
                counters["drafts"] += 1
                if draft.evidence_quote not in piece or draft.evidence_quote not in demo.message.text:
                    counters["quote_not_substring"] += 1
                    continue
                key = " ".join("".join(c.lower() if c.isalnum() else " " for c in draft.title).split())
                if key in seen:
                    continue
                seen.add(key)
                label = _label(draft, demo.asks, ask_titles)
                mentions.append(ExtractedMention(demo.org, demo, ordinal, draft, label))
                ordinal += 1
    return mentions, dict(counters)


# The offline matcher's whole answer, `also_same` included, as the pipeline's engine passes it on.
_offline_matcher = matcher_from_function(match)
# Baseline: no AI matching, only the catalogue's own 0.9 title similarity merges.
_no_matcher = matcher_from_function(lambda _item: (None, 0.0))


def build(
    mentions: list[ExtractedMention], matcher: BatchMatcher = _offline_matcher
) -> tuple[list[CatalogEntry], dict[int, ExtractedMention]]:
    """The catalogue of the extracted mentions (org ids by slug order)."""
    org_ids = {slug: i + 1 for i, slug in enumerate(sorted({m.org for m in mentions}))}
    records: list[MentionRecord] = []
    by_id: dict[int, ExtractedMention] = {}
    for index, mention in enumerate(mentions, start=1):
        message = mention.message.message
        records.append(
            MentionRecord(
                id=index,
                org_id=org_ids[mention.org],
                title=mention.draft.title,
                description=mention.draft.description,
                kind=mention.draft.kind,
                theme=mention.draft.theme,
                sub_theme=mention.draft.sub_theme,
                customer=message.customer,
                source=message.source,
                sent_at=message.sent_at,
                external_id=message.external_id,
                ordinal=mention.ordinal,
                quote=mention.draft.evidence_quote,
            )
        )
        by_id[index] = mention
    return asyncio.run(build_catalog(records, matcher)), by_id


def clustering_scores(assignments: list[tuple[str, str]]) -> dict[str, float]:
    """Pairwise precision/recall/F1, purity and inverse purity of (cluster, label) pairs."""
    n = len(assignments)
    if n == 0:
        return {}
    by_cluster: dict[str, Counter[str]] = defaultdict(Counter)
    by_label: dict[str, Counter[str]] = defaultdict(Counter)
    for cluster, label in assignments:
        by_cluster[cluster][label] += 1
        by_label[label][cluster] += 1

    def pairs(count: int) -> int:
        return count * (count - 1) // 2

    same_both = sum(pairs(c) for counts in by_cluster.values() for c in counts.values())
    same_cluster = sum(pairs(sum(counts.values())) for counts in by_cluster.values())
    same_label = sum(pairs(sum(counts.values())) for counts in by_label.values())
    precision = same_both / same_cluster if same_cluster else 1.0
    recall = same_both / same_label if same_label else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    purity = sum(max(counts.values()) for counts in by_cluster.values()) / n
    inverse = sum(max(counts.values()) for counts in by_label.values()) / n
    return {
        "pairwise_precision": precision,
        "pairwise_recall": recall,
        "pairwise_f1": f1,
        "purity": purity,
        "inverse_purity": inverse,
        "clusters": float(len(by_cluster)),
        "labels": float(len(by_label)),
    }


def report(
    messages: list[DemoMessage],
    mentions: list[ExtractedMention],
    counters: dict[str, int],
    entries: list[CatalogEntry],
    by_id: dict[int, ExtractedMention],
    seconds: float,
) -> dict[str, Any]:
    """All figures as a dict (printed by `main`)."""
    relevant = [m for m in messages if m.pieces]
    feedback = [m for m in messages if m.asks]
    relevant_feedback = [m for m in relevant if m.asks]
    with_mention = {id(m.message) for m in mentions}  # the DemoMessage of each mention
    covered = sum(1 for m in relevant_feedback if id(m) in with_mention)
    spurious = [m for m in mentions if not m.message.asks]
    labelled = [m for m in mentions if m.label is not None]
    cluster_of: dict[int, str] = {}
    for entry in entries:
        for record in entry.mentions:
            cluster_of[record.id] = entry.key
    index_of = {id(m): i for i, m in by_id.items()}
    assignments = [(cluster_of[index_of[id(m)]], f"{m.org}:{m.label}") for m in labelled]
    single = [(cluster_of[index_of[id(m)]], f"{m.org}:{m.label}") for m in labelled if len(m.message.asks) == 1]
    # Taxonomy consistency: share of each ask's mentions in its most common sub-theme.
    places: dict[str, Counter[str]] = defaultdict(Counter)
    for m in labelled:
        places[f"{m.org}:{m.label}"][str(m.draft.sub_theme)] += 1
    consistent = sum(max(c.values()) for c in places.values()) / max(1, len(labelled))
    unplaced = sum(1 for m in mentions if m.draft.sub_theme is None) / max(1, len(mentions))
    entries_with_labelled = {cluster_of[index_of[id(m)]] for m in labelled}
    return {
        "messages": len(messages),
        "relevant_messages": len(relevant),
        "feedback_messages": len(feedback),
        "relevant_feedback_messages": len(relevant_feedback),
        "tier2_input_chars": sum(len(piece) for m in relevant for piece in m.pieces),
        "relevant_chunk_chars": sum(m.relevant_chunk_chars for m in relevant),
        "mentions": len(mentions),
        "drafts": counters.get("drafts", 0),
        "quotes_substring_pct": 100.0
        * (1 - counters.get("quote_not_substring", 0) / max(1, counters.get("drafts", 0))),
        "relevant_feedback_with_mention_pct": 100.0 * covered / max(1, len(relevant_feedback)),
        "all_feedback_with_mention_pct": 100.0 * covered / max(1, len(feedback)),
        "relevant_feedback_with_mention_pct_by_source": {
            source: 100.0
            * sum(1 for m in relevant_feedback if m.message.source == source and id(m) in with_mention)
            / max(1, sum(1 for m in relevant_feedback if m.message.source == source))
            for source in ("slack", "gmail", "gong", "fathom")
        },
        "spurious_mentions_pct": 100.0 * len(spurious) / max(1, len(mentions)),
        "labelled_mentions": len(labelled),
        "kinds": dict(Counter(m.draft.kind for m in mentions)),
        "subtheme_consistency_pct": 100.0 * consistent,
        "unplaced_pct": 100.0 * unplaced,
        "catalogue_requests": len(entries),
        "requests_with_labelled_mentions": len(entries_with_labelled),
        "true_asks_seen": len({label for _, label in assignments}),
        "clustering_all": clustering_scores(assignments),
        "clustering_single_ask_messages": clustering_scores(single),
        "seconds": seconds,
    }


def _print(figures: dict[str, Any]) -> None:
    for key, value in figures.items():
        if isinstance(value, dict):
            inner = ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in value.items())
            print(f"{key:<38} {inner}")
        elif isinstance(value, float):
            print(f"{key:<38} {value:.1f}")
        else:
            print(f"{key:<38} {value}")


def show_samples(mentions: list[ExtractedMention], entries: list[CatalogEntry], count: int) -> None:
    """Print sample mentions and the largest catalogue requests."""
    step = max(1, len(mentions) // max(1, count))
    for mention in mentions[::step][:count]:
        d = mention.draft
        print(f"- [{mention.label}] {d.kind}/{d.urgency}/{d.sentiment} {d.sub_theme}: {d.title!r}")
        print(f"    quote: {d.evidence_quote[:140]!r}")
    print("\nlargest requests:")
    for entry in sorted(entries, key=lambda e: -len(e.links))[:count]:
        print(f"  {len(entry.links):>3}  {entry.sub_theme}: {entry.title}")


def main(argv: list[str] | None = None) -> int:
    """Run the evaluation and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--demo", type=Path, default=None, help="demo corpus folder (with manifest.json)")
    parser.add_argument("--names-only", action="store_true", help="taxonomy names only: ignore keyword files")
    parser.add_argument("--show", type=int, default=0, help="print this many sample mentions and requests")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument(
        "--redact", action="store_true", help="tier-1 and tier-2 read the text with personal data replaced"
    )
    parser.add_argument(
        "--no-matcher", action="store_true", help="baseline: build the catalogue with title similarity only"
    )
    args = parser.parse_args(argv)
    classifier = OfflineClassifier()
    messages, info = load_demo(_manifest_dir(args.demo), classifier, args.redact)
    extractor = OfflineExtractor(classifier, use_keyword_files=not args.names_only)
    started = time.perf_counter()
    mentions, counters = extract_all(messages, info, extractor, args.redact)
    entries, by_id = build(mentions, _no_matcher if args.no_matcher else _offline_matcher)
    figures = report(messages, mentions, counters, entries, by_id, time.perf_counter() - started)
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        _print(figures)
    if args.show:
        show_samples(mentions, entries, args.show)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
