"""Text-shape aware combination of the model's and the lexicon's probabilities (`blend_weight` > 0).

The model is trained on short sentences and messages (Tizard's forum sentences and our B2B
messages: 95% of them at most 30 words, the longest 93, almost none with a title, code or a
trace). On a text outside that shape (a GitHub issue: title plus body, many sentences, code and
traces) its n-grams are extrapolating, while the hand-written lexicon was written for that shape
too. So the final probabilities are a mix whose weight depends on the text's shape:

    p = (1 - w) * p_model + w * p_lexicon

- `w` is 0 for a text no longer than the `low_quantile` of the training texts' word counts (the
  95th percentile by default, learnt at fit time from the rows the model is fitted on), rises
  linearly to `weight` at the longest training text, and is `weight` beyond it; a text the
  lexicon reads as a report (code, inline code, a trace or machine lines, or a title with 40+
  words: its own `reportish` flag) gets `weight` whatever its length.
- `p_lexicon` is the lexicon's decision with its confidence `c`: `"flat"`, `c` on the category it
  chose, `1 - c` spread evenly over the other categories the model knows; `"ranked"` (written
  after measuring "flat", docs/quality.md): P(feedback) from its decision on a 0.5 boundary, that
  mass shared over the feedback categories by its own cue scores (`_ranked`).

Both read the lexicon's evidence block (`lexicon_features.py`), the pipeline's last
`lexicon_columns` columns, which the model's own classifier also sees when `feed_lexicon` is
true (`lexicon_scale` > 0) and does not otherwise; so the lexicon runs once per text either way.
The weight 0.5, the 95th percentile, the 1% cut and the words rule were fixed a priori; "ranked",
the "learnt" and "flags" shapes and any preference for weight 1.0 over 0.5 came after seeing the
NLBSE figures of the earlier rows (the cross-validated Tizard + B2B figures hardly tell them
apart), so docs/quality.md does not count their NLBSE figure as out-of-sample. Measured, not
shipped: the pipeline's default is unchanged.
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone

from headway_assets.offline.trained.lexicon_features import LEXICON_FEATURES, split_lexicon_block

__all__ = ["ShapeBlend", "shape_weights"]

_COLUMN = {name: i for i, name in enumerate(LEXICON_FEATURES)}


def _words(lexicon: Any) -> Any:
    """Word counts back from the `log_words` feature (log1p(words) / 3)."""
    return np.expm1(lexicon[:, _COLUMN["log_words"]] * 3.0)


# Structure flags of the lexicon's evidence; `blend_shape: "learnt"` or `"flags"` counts one as out
# of the training shape when fewer than `RARE` of the training rows have it.
FLAGS: Final = ("titled", "code_blocks", "inline_code", "trace_lines", "machine_lines", "headings", "urls", "reportish")
RARE: Final = 0.01


def _ramp(values: Any, low: float, high: float) -> Any:
    return np.clip((values - low) / max(high - low, 1.0), 0.0, 1.0)


def shape_weights(
    lexicon: Any,
    weight: float,
    low: float,
    high: float,
    *,
    sentences: tuple[float, float] | None = None,
    rare_flags: tuple[str, ...] = ("reportish",),
) -> Any:
    """The lexicon's weight per row of unscaled lexicon features (see the module's docstring)."""
    ramp = _ramp(_words(lexicon), low, high)
    if sentences is not None:
        ramp = np.maximum(ramp, _ramp(_sentences(lexicon), *sentences))
    flagged = np.zeros(len(lexicon), dtype=bool)
    for flag in rare_flags:
        flagged |= lexicon[:, _COLUMN[flag]] > 0.5
    return weight * np.where(flagged, 1.0, ramp)


def _sentences(lexicon: Any) -> Any:
    return np.expm1(lexicon[:, _COLUMN["log_sentences"]])


class ShapeBlend(ClassifierMixin, BaseEstimator):
    """`estimator` on the features, its probabilities mixed with the lexicon's by text shape."""

    def __init__(
        self,
        estimator: Any,
        lexicon_columns: int = len(LEXICON_FEATURES),
        lexicon_scale: float = 1.0,
        feed_lexicon: bool = True,
        weight: float = 0.5,
        low_quantile: float = 95.0,
        lexicon_probabilities: str = "flat",
        shape: str = "words",
    ) -> None:
        """`lexicon_scale`: the factor the lexicon block was multiplied by; `weight`: the lexicon's
        weight on texts outside the training shape; `low_quantile`: where the ramp starts;
        `lexicon_probabilities`: "flat" or "ranked" (see `_ranked`); `shape`: "words" (word
        count and the lexicon's `reportish` flag), "flags" (word count and every structure flag
        in `FLAGS` that fewer than `RARE` of the training rows have) or "learnt" (those and the
        sentence count)."""
        self.estimator = estimator
        self.lexicon_columns = lexicon_columns
        self.lexicon_scale = lexicon_scale
        self.feed_lexicon = feed_lexicon
        self.weight = weight
        self.low_quantile = low_quantile
        self.lexicon_probabilities = lexicon_probabilities
        self.shape = shape

    def _split(self, features: Any) -> tuple[Any, Any]:
        from scipy.sparse import csr_matrix

        others, lexicon = split_lexicon_block(features, self.lexicon_columns)
        return (csr_matrix(features) if self.feed_lexicon else others), lexicon / self.lexicon_scale

    def fit(self, features: Any, labels: Any, sample_weight: Any = None) -> ShapeBlend:
        """Fit the estimator; learn the training texts' length range."""
        inputs, lexicon = self._split(features)
        self.estimator_ = clone(self.estimator).fit(inputs, labels, sample_weight=sample_weight)
        self.classes_ = self.estimator_.classes_
        words = _words(lexicon)
        self.low_words_ = float(np.percentile(words, self.low_quantile))
        self.high_words_ = float(words.max())
        self.sentences_: tuple[float, float] | None = None
        self.rare_flags_: tuple[str, ...] = ("reportish",)
        if self.shape in ("learnt", "flags"):
            self.rare_flags_ = tuple(f for f in FLAGS if float(np.mean(lexicon[:, _COLUMN[f]] > 0.5)) < RARE)
            if self.shape == "learnt":
                sentences = _sentences(lexicon)
                self.sentences_ = (float(np.percentile(sentences, self.low_quantile)), float(sentences.max()))
        elif self.shape != "words":
            raise ValueError(f"unknown blend shape {self.shape!r}: use 'words', 'learnt' or 'flags'")
        return self

    def _lexicon_probabilities(self, lexicon: Any) -> Any:
        if self.lexicon_probabilities == "ranked":
            return self._ranked(lexicon)
        classes = [str(c) for c in self.classes_]
        decided = np.column_stack(
            [
                lexicon[:, _COLUMN[f"decision:{c}"]] if f"decision:{c}" in _COLUMN else np.zeros(len(lexicon))
                for c in classes
            ]
        )
        confidence = np.abs(lexicon[:, _COLUMN["decision_confidence"]])
        rest = (1.0 - confidence) / max(len(classes) - 1, 1)
        out = np.where(decided > 0.5, confidence[:, None], rest[:, None])
        return out / out.sum(axis=1, keepdims=True)

    def _ranked(self, lexicon: Any) -> Any:
        """P(feedback) from the lexicon's decision on a 0.5 boundary, shared by its own cue ranking.

        Decided feedback with confidence c: P(feedback) = 0.5 + c / 2 (0.65 to 0.975); decided
        `other` with confidence c (0.5 to 0.95): 1 - c. The feedback mass goes to the feedback
        categories in proportion to the lexicon's combined evidence (cue score plus its naive-Bayes
        vote, the ranking its own decision takes), evenly when it has none.
        """
        classes = [str(c) for c in self.classes_]
        decided_other = lexicon[:, _COLUMN["decision:other"]] > 0.5
        confidence = np.abs(lexicon[:, _COLUMN["decision_confidence"]])
        feedback = np.where(decided_other, 1.0 - confidence, 0.5 + confidence / 2.0)
        scores = np.column_stack(
            [
                np.expm1(lexicon[:, _COLUMN[f"total:{c}"]]) + 2.0 * lexicon[:, _COLUMN[f"vote:{c}"]]
                if f"vote:{c}" in _COLUMN
                else np.zeros(len(lexicon))
                for c in classes
            ]
        )
        scores = np.clip(scores, 0.0, None)
        known = np.array([f"vote:{c}" in _COLUMN for c in classes], dtype=float)
        empty = scores.sum(axis=1) <= 0
        scores[empty] = known
        shares = scores / np.maximum(scores.sum(axis=1, keepdims=True), 1e-12)
        out = feedback[:, None] * shares
        if "other" in classes:
            out[:, classes.index("other")] = 1.0 - feedback
        return out / out.sum(axis=1, keepdims=True)

    def predict_proba(self, features: Any) -> Any:
        """The mixed probabilities, in `classes_` order."""
        inputs, lexicon = self._split(features)
        model = self.estimator_.predict_proba(inputs)
        w = shape_weights(
            lexicon,
            self.weight,
            self.low_words_,
            self.high_words_,
            sentences=self.sentences_,
            rare_flags=self.rare_flags_,
        )[:, None]
        return (1.0 - w) * model + w * self._lexicon_probabilities(lexicon)

    def predict(self, features: Any) -> Any:
        """The most probable class."""
        return self.classes_[np.argmax(self.predict_proba(features), axis=1)]
