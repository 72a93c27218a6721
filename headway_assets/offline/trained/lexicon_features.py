"""The lexicon's evidence as dense features of the trained model (`lexicon_scale` > 0).

The hand-written classifier (`offline/classifier.py`) knows things a TF-IDF model trained on
forum sentences and Slack messages cannot learn from them: issue-template headings, declared
issue types, stack traces, question marks, small talk. Here its evidence becomes a fixed-length
vector that sits next to the n-grams in the same calibrated linear model, so the weights of that
evidence are learnt instead of hand-tuned:

- per cue category (the five feedback categories and noise): the combined cue score and the
  structural part of it (templates, declared types, traces), each as log(1 + score);
- the naive-Bayes vote over the five feedback categories (trained on `examples.py`);
- the lexicon's own decision (one-hot over the six tier-1 categories) and its confidence;
- structure: words, sentences, questions, title, code, inline code, trace and machine lines,
  headings, links, and whether the lexicon would treat the text as a report.

Nothing is learnt in `fit`; the classifier is built once per process and never pickled (an
artefact refers to this module by name).
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any, Final

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from headway_assets.offline.classifier import FEEDBACK_CATEGORIES, LONG_TEXT_WORDS, OfflineClassifier
from headway_assets.offline.lexicon import CUE_CATEGORIES

__all__ = ["LEXICON_FEATURES", "LexiconEvidence", "lexicon_features", "remember_lexicon_features"]

_DECISIONS: Final = (*FEEDBACK_CATEGORIES, "other")
_STRUCTURE: Final = (
    "log_words",
    "log_sentences",
    "question_share",
    "any_question",
    "titled",
    "code_blocks",
    "inline_code",
    "trace_lines",
    "machine_lines",
    "headings",
    "urls",
    "reportish",
)
LEXICON_FEATURES: Final[tuple[str, ...]] = (
    *(f"total:{c}" for c in CUE_CATEGORIES),
    *(f"structural:{c}" for c in CUE_CATEGORIES),
    *(f"vote:{c}" for c in FEEDBACK_CATEGORIES),
    *(f"decision:{c}" for c in _DECISIONS),
    "decision_confidence",
    *_STRUCTURE,
)


# Experiments refit the recipe dozens of times on the same texts (cross-validation inside
# cross-validation): they may keep every text's features (`remember_lexicon_features`). Off by
# default, so `headway classify` holds no copy of the messages it has seen.
_MEMO: dict[str, list[float]] | None = None


def remember_lexicon_features(enabled: bool = True) -> None:
    """Keep (or stop keeping and forget) every text's features for the rest of the process."""
    global _MEMO
    _MEMO = {} if enabled else None


@lru_cache(maxsize=1)
def _classifier() -> OfflineClassifier:
    return OfflineClassifier()


def _log(value: float) -> float:
    return math.log1p(max(value, 0.0))


def lexicon_features(text: str) -> list[float]:
    """The evidence of `text` in `LEXICON_FEATURES` order."""
    if _MEMO is not None:
        if text not in _MEMO:
            _MEMO[text] = _features(text)
        return _MEMO[text]
    return _features(text)


def _features(text: str) -> list[float]:
    classifier = _classifier()
    evidence = classifier.explain(text)
    label = classifier.decide(evidence)
    signals = evidence.prepared.signals
    sentences = evidence.sentences
    words = sum(len(s.folded.split()) for s in sentences)
    questions = sum(s.is_question for s in sentences)
    titled = bool(sentences) and sentences[0].segment.kind == "title"
    technical = bool(signals.code_blocks or signals.inline_code or signals.trace_lines or signals.machine_lines)
    row = [_log(evidence.totals.get(c, 0.0)) for c in CUE_CATEGORIES]
    row += [_log(evidence.structural.get(c, 0.0)) for c in CUE_CATEGORIES]
    row += [evidence.model_vote.get(c, 0.0) / 2.0 for c in FEEDBACK_CATEGORIES]
    row += [float(label.category == c) for c in _DECISIONS]
    row.append(label.confidence if label.is_feedback else -label.confidence)
    row += [
        _log(words) / 3.0,
        _log(len(sentences)),
        questions / len(sentences) if sentences else 0.0,
        float(questions > 0),
        float(titled),
        float(signals.code_blocks > 0),
        float(signals.inline_code > 0),
        float(signals.trace_lines > 0),
        float(signals.machine_lines > 0),
        float(bool(signals.headings)),
        float(signals.urls > 0),
        float(technical or (words >= LONG_TEXT_WORDS and titled)),
    ]
    return row


class LexiconEvidence(TransformerMixin, BaseEstimator):
    """The lexicon's evidence of each text (`LEXICON_FEATURES`), times `scale` (dense float32).

    `scale` sets the block's weight next to the TF-IDF blocks, whose rows have unit L2 norm.
    """

    def __init__(self, scale: float = 1.0) -> None:
        """`scale` multiplies every feature."""
        self.scale = scale

    def fit(self, texts: Any, y: Any = None) -> LexiconEvidence:
        """Nothing to learn: the lexicon is fixed."""
        return self

    def transform(self, texts: Any) -> Any:
        """One row of `len(LEXICON_FEATURES)` floats per text."""
        rows = [lexicon_features(str(text)) for text in texts]
        return (np.asarray(rows, dtype=np.float32).reshape(len(rows), len(LEXICON_FEATURES)) * self.scale).astype(
            np.float32
        )


def split_lexicon_block(features: Any, lexicon_columns: int) -> tuple[Any, Any]:
    """A feature matrix whose last `lexicon_columns` columns are the lexicon's block (as the recipe
    stacks it): the other columns (sparse) and that block (dense), for estimators that treat the two
    apart (`stacking.py`, `blend.py`)."""
    from scipy.sparse import csr_matrix

    matrix = csr_matrix(features)
    cut = matrix.shape[1] - lexicon_columns
    return matrix[:, :cut], matrix[:, cut:].toarray()
