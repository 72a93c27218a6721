"""Where the offline catalogue loses pairs, and whether a learned pair judge does better (issue 14).

    .venv/bin/python scripts/fit_pair_judge.py --diagnose          # tune half: lost pairs by cause
    .venv/bin/python scripts/fit_pair_judge.py --cv                # tune half: grouped CV of the judge
    .venv/bin/python scripts/fit_pair_judge.py --cv --with-demo    # judges also trained on the demo
    .venv/bin/python scripts/fit_pair_judge.py --widen             # tune half: another theme offered more
    .venv/bin/python scripts/fit_pair_judge.py --cost              # CPU per pair: shipped score, judge
    .venv/bin/python scripts/fit_pair_judge.py --test              # fit on tune, score the test half once

Everything is fitted and chosen on the `tune` half of tests/data/catalogue/asks.jsonl only; `--test`
fits the judge chosen by `--cv` (`CHOSEN`) on the whole tune half and scores the held-out half with
it, the shipped matcher beside it. `--cost` times over the pairs the linker scores on all 162
mentions (timing only; the judge it times is fitted on tune). Results: docs/quality.md, "A learned
pair judge, tried and not shipped".

**Diagnosis.** The tune half is linked as `headway catalogue` links it (the pipeline's linker, the
offline matcher, file order); each placement records the requests its mention was offered. A
same-ask pair the catalogue splits is lost because, when the later mention was placed, the
request holding the earlier one was *not offered* (candidate search), or was *offered and judged
different* (the matcher chose another candidate or none). Pairs are counted by where the two
mentions sit: same sub-theme, same theme, another theme.

**The judge** (`SPECS`). A logistic regression (scikit-learn; also gradient boosting) over the matcher's pair features
(`matcher.features`: the whole-ask overlap, the title overlap, a name conflict, same sub-theme,
same theme; with the evidence the hand rule takes from them) and, optionally, character 3-gram
cosines of the titles and of the whole texts, a Jaccard overlap of the stems and the capabilities
they point to (`vocab.concept_terms`), and a defect/wish mismatch. Training pairs: each tune
mention (in file order) against each earlier ask of its company, shown as a request (first
member's title, the others as examples, descriptions joined, as `catalog.linker` shows one) and
against each earlier mention alone; label = same ask. A pair's probability is mapped onto the
catalogue's scale so that the threshold `t` lands on 0.75, and replaces the hand rule's score
inside the shipped linker (so merges at 0.9 and candidate search are the pipeline's). The score
of a pair depends on the pair alone: the catalogue stays order-independent.

**Cross-validation**, grouped by ask: the tune asks are split in two halves (four seeds); the judge
is fitted on pairs of one half's asks and the other half's mentions are linked as a catalogue of
their own; pair counts are pooled over folds and seeds. The hand rule is scored on the same folds
(its weights were set on the whole tune half, so its figure is optimistic). Folds of two halves,
not five: a fifth of the asks leaves too few near-miss siblings in a catalogue, and every judge
looks precise there.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import sys
import time
import timeit
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import lru_cache
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import precision_recall_curve
from sklearn.metrics.cluster import pair_confusion_matrix

from headway_assets.catalog import MentionRecord, linker
from headway_assets.catalog.linker import _SET_RATIOS, Linker, _Question, matcher_from_function
from headway_assets.catalog.model import normalise_title
from headway_assets.llm.tasks import AI_MATCH, MatchCandidate, MatchInput
from headway_assets.offline import (
    concept_terms,
    content_terms,
    english_text,
    hand_score,
    is_defect,
    match,
    match_evidence,
    match_features,
    match_scoring,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))
import eval_catalogue as ev  # a sibling script: the set's loader

PAIR_FEATURES = ("core", "wide", "same_sub", "same_theme", "conflict", "evidence")
EXTRA_FEATURES = ("title_grams", "text_grams", "concepts", "defect_mismatch")
THRESHOLDS = (0.2, 0.25, 0.3, 0.35, 0.4, 0.5)
SEEDS = (0, 1, 2, 3)
SHOWN = 3  # member titles shown with a candidate (`catalog.linker.MAX_EXAMPLES`)
Mention = ev.LabelledMention


# -- diagnosis ------------------------------------------------------------------------------------


def diagnose(mentions: list[Mention]) -> Counter[tuple[str, str]]:
    """Link `mentions` as the pipeline does and count pairs: kept, wrongly joined, lost and why."""
    offered: dict[int, list[set[int]]] = {}
    went: dict[int, set[int] | None] = {}

    class Recording(Linker):
        def _place(self, mention: MentionRecord, question: _Question) -> None:
            requests = [self._resolve(r) for r in question.by_key.values()]
            if question.near is not None:
                requests.append(self._resolve(question.near[0]))
            offered[mention.id] = [{m.id for m in r.mentions} for r in requests]
            super()._place(mention, question)
            # Where it went: the request it joined (its members before it), or none (it founded one).
            answer = self.answers.get(question.key) if question.key else None
            target = question.near[0] if question.near is not None else None
            if answer is not None and answer.candidate_id in question.by_key and answer.score >= AI_MATCH:
                target = question.by_key[answer.candidate_id]
            went[mention.id] = None if target is None else {m.id for m in self._resolve(target).mentions} - {mention.id}

    records = [replace(m.record, quote=m.quote) for m in mentions]

    async def run() -> list[set[int]]:
        created = (await Recording([], matcher_from_function(match)).link(records)).created
        return [{m.id for m in r.mentions} for r in created]

    placed = {mention: i for i, members in enumerate(asyncio.run(run())) for mention in members}
    by_id = {m.record.id: m for m in mentions}
    order = {r.id: r.order_key for r in records}
    counts: Counter[tuple[str, str]] = Counter()
    for a, b in combinations(sorted(by_id, key=order.__getitem__), 2):
        first, later = by_id[a].record, by_id[b].record
        if first.org_id != later.org_id:
            continue
        if first.theme != later.theme:
            where = "another theme"
        else:
            where = "same sub-theme" if first.sub_theme == later.sub_theme else "same theme"
        same_ask, joined = by_id[a].ask == by_id[b].ask, placed[a] == placed[b]
        if same_ask and joined:
            counts["kept", where] += 1
        elif joined:
            counts["wrongly joined", where] += 1
        elif same_ask:
            if not any(a in members for members in offered.get(b, [])):
                counts["lost: not offered", where] += 1
                continue
            counts["lost: offered, judged different", where] += 1
            joined_ids = went[b]
            if joined_ids is None:
                counts["  ... the later one founded", where] += 1
            elif any(by_id[i].ask == by_id[b].ask for i in joined_ids):
                counts["  ... joined another of its ask", where] += 1
            else:
                counts["  ... joined another ask", where] += 1
    return counts


# -- pair features ------------------------------------------------------------------------------


@lru_cache(maxsize=65_536)
def _grams(text: str) -> frozenset[str]:
    """Character 3-grams of `text`'s English words, each padded with spaces."""
    grams: set[str] = set()
    for word in english_text(text).lower().split():
        padded = f" {word} "
        grams.update(padded[i : i + 3] for i in range(len(padded) - 2))
    return frozenset(grams)


def _gram_cosine(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / math.sqrt(len(a) * len(b)) if a and b else 0.0


@lru_cache(maxsize=65_536)
def _concepts(text: str) -> frozenset[str]:
    """`text`'s stems and the capabilities they point to (`vocab.concept_terms`)."""
    table = concept_terms()
    stems = {term.stem for term in content_terms(english_text(text))}
    return frozenset(stems.union(*(table.get(s, ()) for s in stems)))


def pair_features(item: MatchInput, candidate: MatchCandidate) -> dict[str, float]:
    """The matcher's features of a pair, its evidence, and the extra features tried with them."""
    parts = match_features(item, candidate)  # the shipped features, whatever `scoring` stands in
    mention_text = f"{item.title} {item.description}"
    request_text = " ".join((candidate.title, *candidate.examples, candidate.description))
    title = _grams(item.title)
    mine, theirs = _concepts(mention_text), _concepts(request_text)
    union = len(mine | theirs)
    defect = is_defect(item.title, item.description)
    more = {name: value for source in MORE_FEATURES for name, value in source(item, candidate).items()}
    return {
        **more,
        **parts,
        "evidence": match_evidence(parts),
        "hand": HAND_SCORE(parts),
        "title_grams": max(_gram_cosine(title, _grams(t)) for t in (candidate.title, *candidate.examples)),
        "text_grams": _gram_cosine(_grams(mention_text), _grams(request_text)),
        "concepts": len(mine & theirs) / union if union else 0.0,
        "defect_mismatch": float(defect != is_defect(candidate.title, candidate.description)),
    }


HAND_SCORE: Callable[[dict[str, float]], float] = hand_score
# Further pair features a sibling experiment adds (`scripts/semantic_match.py`: sentence-encoder cosines).
MORE_FEATURES: list[Callable[[MatchInput, MatchCandidate], dict[str, float]]] = []


def _item(mention: Mention) -> MatchInput:
    r = mention.record
    return MatchInput(r.title, r.description, r.sub_theme, (), r.theme, mention.quote, r.kind)


def _shown(members: Sequence[Mention], asker: Mention) -> MatchCandidate:
    """Earlier members of one ask shown as the linker shows a request: the first member's title,
    the others most like the asker's title as examples, the descriptions joined."""
    first = members[0].record
    own = normalise_title(first.title)
    others = [m.record for m in members[1:] if normalise_title(m.record.title) != own]
    if len(others) > 1:
        scores = _SET_RATIOS.scores(normalise_title(asker.record.title), [normalise_title(o.title) for o in others])
        others = [others[i] for i in sorted(range(len(others)), key=lambda i: -scores[i])]
    shown = others[:SHOWN]
    description = " ".join([first.description[:300], *(o.description[:300] for o in shown if o.description)])
    return MatchCandidate("c", first.title, description, first.theme, first.sub_theme, tuple(o.title for o in shown))


@dataclass(frozen=True)
class Spec:
    """A judge to try: its features, its model, and whether it judges only candidates of the
    mention's theme (trained on those pairs alone; another theme's candidates keep the hand rule,
    as the linker offers them only on very similar wording)."""

    name: str
    names: tuple[str, ...]
    within_theme: bool = False
    model: str = "logistic"  # or "boosting" (scikit-learn's HistGradientBoostingClassifier)
    # "asks": each mention against each earlier ask and mention; "asked": the questions the
    # shipped linker asks on the training mentions (its requests as they stood, labelled by
    # whether most of a candidate's members are of the mention's ask).
    pairs: str = "asks"


def asked_rows(mentions: list[Mention], spec: Spec) -> tuple[np.ndarray, np.ndarray]:
    """The (mention, candidate) pairs the shipped linker asks the matcher about on `mentions`."""
    ask_of = {m.record.id: m.ask for m in mentions}
    rows: list[list[float]] = []
    labels: list[float] = []
    seen: set[str] = set()

    class Recording(Linker):
        def _place(self, mention: MentionRecord, question: _Question) -> None:
            if question.item is not None and question.key not in seen:
                seen.add(question.key or "")
                for candidate in question.item.candidates:
                    members = [ask_of[m.id] for m in self._resolve(question.by_key[candidate.id]).mentions]
                    features = pair_features(question.item, candidate)
                    if spec.within_theme and not features["same_theme"]:
                        continue
                    rows.append([features[n] for n in spec.names])
                    labels.append(float(2 * members.count(ask_of[mention.id]) > len(members)))
            super()._place(mention, question)

    for org_id in sorted({m.record.org_id for m in mentions}):
        records = [replace(m.record, quote=m.quote) for m in mentions if m.record.org_id == org_id]
        asyncio.run(Recording([], matcher_from_function(match)).link(records))
    return np.array(rows), np.array(labels)


def pair_rows(mentions: list[Mention], spec: Spec) -> tuple[np.ndarray, np.ndarray]:
    """Each mention (file order) against each earlier ask of its company and each earlier mention."""
    rows: list[list[float]] = []
    labels: list[float] = []
    ordered = sorted(mentions, key=lambda m: m.record.order_key)
    for i, later in enumerate(ordered):
        groups: dict[str, list[Mention]] = defaultdict(list)
        for earlier in ordered[:i]:
            if earlier.record.org_id == later.record.org_id:
                groups[earlier.ask].append(earlier)
        item = _item(later)
        for ask, members in groups.items():
            for candidate in [_shown(members, later), *(_shown([m], later) for m in members)]:
                features = pair_features(item, candidate)
                if spec.within_theme and not features["same_theme"]:
                    continue
                rows.append([features[n] for n in spec.names])
                labels.append(float(ask == later.ask))
    return np.array(rows), np.array(labels)


# -- the judge in the pipeline's linker -----------------------------------------------------------


def judge_score(model: Any, spec: Spec, threshold: float) -> Callable[[dict], float]:
    """The model's probability on the catalogue's scale: `threshold` -> 0.75 (`AI_MATCH`), 1 -> 1."""
    names = spec.names
    linear = isinstance(model, LogisticRegression)
    weights, intercept = (model.coef_[0].tolist(), float(model.intercept_[0])) if linear else ([], 0.0)

    def score(parts: dict[str, float]) -> float:
        if spec.within_theme and not parts["same_theme"]:
            return HAND_SCORE(parts)
        values = parts if "evidence" in parts else {**parts, "evidence": match_evidence(parts)}
        if linear:
            z = intercept + sum(w * values[n] for w, n in zip(weights, names, strict=True))
            p = 1.0 / (1.0 + math.exp(-z))
        else:
            p = float(model.predict_proba([[values[n] for n in names]])[0, 1])
        if p < threshold:
            return AI_MATCH * p / threshold
        return min(1.0, AI_MATCH + (1 - AI_MATCH) * (p - threshold) / (1 - threshold))

    return score


@contextmanager
def scoring(score: Callable[[dict], float] | None, names: Sequence[str] = ()) -> Iterator[None]:
    """Link with `score` in place of the hand rule (None: the hand rule) for the duration."""
    extra = score is not None and not set(names) <= set(PAIR_FEATURES)  # the matcher's features lack these
    with match_scoring(score, pair_features if extra else None):
        yield


def confusion(mentions: list[Mention]) -> np.ndarray:
    """Pair counts [[tn, fp], [fn, tp]] of the catalogue of `mentions`, per company, summed."""
    total = np.zeros((2, 2), dtype=np.int64)
    for org_id in sorted({m.record.org_id for m in mentions}):
        own = [m for m in mentions if m.record.org_id == org_id]
        placed = _link(own)
        total += pair_confusion_matrix([m.ask for m in own], [placed[m.record.id] for m in own]) // 2
    return total


def _link(mentions: list[Mention]) -> dict[int, int]:
    records = [replace(m.record, quote=m.quote) for m in mentions]

    async def run() -> list[set[int]]:
        created = (await Linker([], matcher_from_function(match)).link(records)).created
        return [{m.id for m in r.mentions} for r in created]

    return {mention: i for i, members in enumerate(asyncio.run(run())) for mention in members}


def figures(counts: np.ndarray) -> str:
    """Pairwise precision, recall and F1 of pooled pair counts."""
    (_, fp), (fn, tp) = counts
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return f"P {precision:.3f}  R {recall:.3f}  F1 {f1:.3f}  (pairs: {tp} right, {fp} wrong, {fn} missed)"


# Mentions whose pairs every judge is also trained on (`--with-demo`: the demo's ground truth).
ALSO_TRAIN_ON: list[Mention] = []


def fit(mentions: list[Mention], spec: Spec) -> Any:
    """The judge fitted on the pairs of `mentions` (and of `ALSO_TRAIN_ON`)."""
    x, y = asked_rows(mentions, spec) if spec.pairs == "asked" else pair_rows(mentions, spec)
    if ALSO_TRAIN_ON:
        more_x, more_y = pair_rows(ALSO_TRAIN_ON, spec)
        x, y = np.vstack([x, more_x]), np.concatenate([y, more_y])
    if spec.model == "boosting":
        return HistGradientBoostingClassifier(max_depth=3, max_iter=150, learning_rate=0.05, random_state=0).fit(x, y)
    return LogisticRegression(max_iter=5000).fit(x, y)


def grouped_folds(mentions: list[Mention]) -> Iterator[tuple[list[Mention], list[Mention]]]:
    """(train, held-out) mentions of the grouped two-fold CV: the asks split in halves, once per seed of `SEEDS`."""
    asks = sorted({m.ask for m in mentions})
    for seed in SEEDS:
        permuted = np.random.RandomState(seed).permutation(asks)
        fold = {ask: i % 2 for i, ask in enumerate(permuted)}
        for k in (0, 1):
            yield [m for m in mentions if fold[m.ask] != k], [m for m in mentions if fold[m.ask] == k]


def cross_validate(mentions: list[Mention], specs: Sequence[Spec]) -> None:
    """Grouped two-fold CV (asks split in halves, `SEEDS`), end to end through the linker."""
    hand = np.zeros((2, 2), dtype=np.int64)
    judged = {(spec.name, t): np.zeros((2, 2), dtype=np.int64) for spec in specs for t in THRESHOLDS}
    for train, held in grouped_folds(mentions):
        with scoring(None):
            hand += confusion(held)
        for spec in specs:
            model = fit(train, spec)
            for t in THRESHOLDS:
                with scoring(judge_score(model, spec, t), spec.names):
                    judged[spec.name, t] += confusion(held)
    print(f"hand rule (set on the whole tune half)   {figures(hand)}")
    for (name, t), counts in judged.items():
        print(f"judge {name:<28} t={t:.2f}  {figures(counts)}")


def pair_cost(mentions: list[Mention], tune: list[Mention], spec: Spec, threshold: float) -> None:
    """CPU microseconds per (mention, candidate) pair, warm term caches, best of 7 passes over the pairs
    the linker scores on `mentions`: the shipped score, and the judge's fitted on `tune` (neither
    cached per pair)."""
    asked: list[MatchInput] = []

    def recording(item: MatchInput) -> object:
        asked.append(item)
        return match(item)

    records = [replace(m.record, quote=m.quote) for m in mentions]
    asyncio.run(Linker([], matcher_from_function(recording)).link(records))  # type: ignore[arg-type]
    pairs = [(item, candidate) for item in asked for candidate in item.candidates]
    judge = judge_score(fit(tune, spec), spec, threshold)
    extra = not set(spec.names) <= set(PAIR_FEATURES)

    def shipped() -> None:
        for item, candidate in pairs:
            hand_score(match_features(item, candidate))

    def judged() -> None:
        for item, candidate in pairs:
            judge(pair_features(item, candidate) if extra else match_features(item, candidate))

    for name, run in (("shipped hand rule", shipped), (f"judge {spec.name}", judged)):
        run()  # warm the term caches
        best = min(timeit.repeat(run, number=1, repeat=7, timer=time.process_time))  # CPU: the machine is shared
        print(f"{name:<28} {best / len(pairs) * 1e6:6.1f} µs per pair ({len(pairs)} pairs)")


def pair_ceiling(mentions: list[Mention], precision: float = 0.85) -> None:
    """The share of same-ask pair rows (`pair_rows`) the hand rule's score finds at `precision`, by place."""
    x, y = pair_rows(mentions, Spec("hand score", ("hand", "same_theme")))
    for where, rows in (("same theme", x[:, 1] == 1), ("another theme", x[:, 1] == 0)):
        found, recall, _ = precision_recall_curve(y[rows], x[rows, 0])
        print(
            f"{where:<14} pairs: {int(y[rows].sum())} same ask, {int((1 - y[rows]).sum())} not; "
            f"recall at precision >= {precision}: {recall[found >= precision].max():.3f}"
        )


def widen(mentions: list[Mention]) -> None:
    """The hand rule on `mentions` with another theme's requests offered more widely (the token-set
    ratio they need, how many) and judged against a lower bar."""
    for min_score, offered in ((80.0, 2), (60.0, 3), (0.0, 5)):
        for bar in (0.5, 0.4, 0.3):
            saved = (linker.ORG_MIN_SCORE, linker.ORG_CANDIDATES)
            linker.ORG_MIN_SCORE, linker.ORG_CANDIDATES = min_score, offered
            try:
                with match_scoring(other_theme_bar=bar):
                    counts = confusion(mentions)
            finally:
                linker.ORG_MIN_SCORE, linker.ORG_CANDIDATES = saved
            print(f"another theme: ratio >= {min_score:>4.0f}, up to {offered}, bar {bar:.2f}   {figures(counts)}")


WITHIN = ("core", "wide", "same_sub", "conflict", "evidence")  # same_theme is 1 on every such pair
SPECS = (
    Spec("pair features", PAIR_FEATURES),
    Spec("pair features + extras", PAIR_FEATURES + EXTRA_FEATURES),
    Spec("hand score remapped", ("hand",)),
    Spec("within theme", WITHIN, within_theme=True),
    Spec("within theme + extras", WITHIN + EXTRA_FEATURES, within_theme=True),
    Spec("boosting + extras", PAIR_FEATURES + EXTRA_FEATURES, model="boosting"),
    Spec("asked pairs", PAIR_FEATURES, pairs="asked"),
    Spec("asked pairs + extras", PAIR_FEATURES + EXTRA_FEATURES, pairs="asked"),
)
CHOSEN = (SPECS[0], 0.35)  # the best CV F1 of the judges on pair features (`--cv`)


def main(argv: list[str] | None = None) -> int:
    """Print the diagnosis, the cross-validation, the cost per pair or the one test-half score."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--diagnose", action="store_true")
    parser.add_argument("--cv", action="store_true")
    parser.add_argument("--test", action="store_true", help="fit the chosen judge on tune, score the test half")
    parser.add_argument("--merge-score", type=float, default=None, help="merge requests at this score (> 1: never)")
    parser.add_argument("--with-demo", action="store_true", help="also train on the demo's ground-truth pairs")
    parser.add_argument("--widen", action="store_true", help="tune half with another theme's requests offered")
    parser.add_argument("--cost", action="store_true", help="time the shipped score and the judge per pair")
    args = parser.parse_args(argv)
    tune = ev.load(ev.DEFAULT_SET, "tune")
    spec, threshold = CHOSEN
    if args.with_demo:
        ALSO_TRAIN_ON.extend(m for m in ev.demo_mentions() if not m.ask.endswith("/None"))
    with match_scoring(merge_score=args.merge_score):
        _run(args, tune, spec, threshold)
    return 0


def _run(args: argparse.Namespace, tune: list[Mention], spec: Spec, threshold: float) -> None:
    """The steps `args` ask for, on the tune half (and the test half for --test)."""
    if args.diagnose:
        counts = diagnose(tune)
        outcomes = ["kept", "lost: not offered", "lost: offered, judged different"]
        outcomes += [*sorted({o for o, _ in counts if o.startswith(" ")}), "wrongly joined"]
        for outcome in outcomes:
            row = "  ".join(f"{w}: {counts[outcome, w]:>3}" for w in ("same sub-theme", "same theme", "another theme"))
            print(f"{outcome:<34} {row}")
        pair_ceiling(tune)
    if args.cv:
        cross_validate(tune, SPECS)
    if args.widen:
        widen(tune)
    if args.cost:
        everything = ev.load(ev.DEFAULT_SET, None)
        pair_cost(everything, tune, spec, threshold)
        pair_cost(everything, tune, SPECS[1], threshold)
    if args.test:
        test = ev.load(ev.DEFAULT_SET, "test")
        model = fit(tune, spec)
        print("coefficients:", dict(zip(spec.names, np.round(model.coef_[0], 3).tolist(), strict=True)))
        print(f"intercept {model.intercept_[0]:.3f}, threshold {threshold}")
        with scoring(None):
            print(f"test half, hand rule           {figures(confusion(test))}")
        with scoring(judge_score(model, spec, threshold), spec.names):
            print(f"test half, judge {spec.name} {figures(confusion(test))}")


if __name__ == "__main__":
    raise SystemExit(main())
