"""A small multinomial naive-Bayes model trained on our own hand-written examples.

The lexicons catch the phrasings we thought of; this model adds a soft vote from word and
word-pair statistics of `examples.TRAINING_EXAMPLES` (sentences written for this project, never
taken from evaluation data). It trains in a few milliseconds on first use, deterministically.

Scores are length-normalised (mean log-likelihood per known token) so a long issue does not
produce absurdly confident probabilities; unknown tokens are ignored rather than smoothed in.
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Final

from headway_assets.llm.schemas import TIER1_CATEGORIES, Tier1Category
from headway_assets.offline.text import fold

_TOKEN: Final = re.compile(r"[a-z0-9]+|[^\sa-z0-9.,;:!?\"'()\[\]{}<>/\\|*_=+#@$%^&~`-]")
_NUMBER: Final = re.compile(r"^\d+$")
# Mean log-likelihood differences are small; this sharpens them into usable probabilities.
_TEMPERATURE: Final = 4.0


def tokens(text: str) -> list[str]:
    """Unigrams and adjacent pairs of the folded text; numbers collapse to one token."""
    words = ["<num>" if _NUMBER.match(t) else t for t in _TOKEN.findall(fold(text))]
    pairs = [f"{a}_{b}" for a, b in itertools.pairwise(words)]
    return words + pairs


class NaiveBayesModel:
    """Multinomial naive Bayes over unigrams and bigrams with additive smoothing."""

    def __init__(self, alpha: float = 0.5) -> None:
        """`alpha` is the additive smoothing count for every vocabulary entry."""
        self.alpha = alpha
        self.classes: tuple[Tier1Category, ...] = ()
        self._log_prior: dict[Tier1Category, float] = {}
        self._log_likelihood: dict[Tier1Category, dict[str, float]] = {}
        self._vocabulary: frozenset[str] = frozenset()
        self._rows: dict[str, tuple[float, ...]] = {}

    def fit(self, examples: Iterable[tuple[str, Tier1Category]]) -> NaiveBayesModel:
        """Train on `(text, category)` pairs; every category must have at least one example."""
        counts: dict[Tier1Category, Counter[str]] = {c: Counter() for c in TIER1_CATEGORIES}
        documents: Counter[Tier1Category] = Counter()
        for text, category in examples:
            if category not in counts:
                raise ValueError(f"training example has unknown category {category!r}: {text[:60]!r}")
            counts[category].update(tokens(text))
            documents[category] += 1
        missing = [c for c in TIER1_CATEGORIES if documents[c] == 0]
        if missing:
            raise ValueError(f"no training examples for categories: {', '.join(missing)}")
        vocabulary = sorted(set().union(*counts.values()))
        total_docs = sum(documents.values())
        self.classes = TIER1_CATEGORIES
        self._vocabulary = frozenset(vocabulary)
        for category in self.classes:
            class_counts = counts[category]
            denominator = sum(class_counts.values()) + self.alpha * len(vocabulary)
            self._log_prior[category] = math.log(documents[category] / total_docs)
            self._log_likelihood[category] = {
                token: math.log((class_counts.get(token, 0) + self.alpha) / denominator) for token in vocabulary
            }
        # One row of per-class log-likelihoods per token: a single lookup per token at predict time.
        self._rows = {token: tuple(self._log_likelihood[c][token] for c in self.classes) for token in vocabulary}
        return self

    def predict_proba(self, text: str) -> dict[Tier1Category, float]:
        """Class probabilities for `text`; uniform when no token is known to the model."""
        if not self.classes:
            raise RuntimeError("NaiveBayesModel.predict_proba called before fit()")
        rows = [row for row in map(self._rows.get, tokens(text)) if row is not None]
        if not rows:
            return {c: 1.0 / len(self.classes) for c in self.classes}
        sums = [sum(column) for column in zip(*rows, strict=True)]
        scores = {c: _TEMPERATURE * total / len(rows) for c, total in zip(self.classes, sums, strict=True)}
        top = max(scores.values())
        exp = {c: math.exp(s - top) for c, s in scores.items()}
        total = sum(exp.values())
        return {c: exp[c] / total for c in self.classes}

    def predict(self, text: str) -> Tier1Category:
        """The most probable class (ties broken by category order)."""
        proba = self.predict_proba(text)
        return max(self.classes, key=lambda c: (proba[c], -self.classes.index(c)))


def train(examples: Sequence[tuple[str, Tier1Category]] | None = None) -> NaiveBayesModel:
    """Train a model on `examples`, or on the bundled hand-written examples."""
    if examples is None:
        from headway_assets.offline.examples import TRAINING_EXAMPLES

        examples = TRAINING_EXAMPLES
    return NaiveBayesModel().fit(examples)


@lru_cache(maxsize=1)
def default_model() -> NaiveBayesModel:
    """The model trained on the bundled examples, trained once per process."""
    return train()
