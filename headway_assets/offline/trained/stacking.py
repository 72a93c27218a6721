"""A second-stage model over the n-gram SVM's out-of-fold scores and the lexicon's evidence (`stacking: True`).

The shipped recipe calibrates the linear SVM's scores with a sigmoid per class, fitted on
cross-validated scores (`CalibratedClassifierCV`). Stacking replaces that calibration step with
one multinomial logistic regression whose inputs are the same out-of-fold SVM scores *and* the
lexicon's evidence (`lexicon_features.py`): a learnt combination of what the n-grams learnt
and what the hand-written cues know, calibrated by its own log loss. It costs what the
calibration cost: one SVM per fold plus one on all rows.

The feature matrix it receives is the pipeline's union: the n-gram columns first, the
`lexicon_columns` lexicon columns last.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from headway_assets.offline.trained.lexicon_features import split_lexicon_block

__all__ = ["StackedLinearModel"]


class StackedLinearModel(ClassifierMixin, BaseEstimator):
    """Linear SVM on the n-gram columns, then logistic regression on [its out-of-fold scores, lexicon columns]."""

    def __init__(
        self,
        lexicon_columns: int,
        C: float = 0.3,  # noqa: N803 (scikit-learn's name)
        class_weight: str | None = "balanced",
        folds: int = 3,
        seed: int = 0,
        stage2_C: float = 1.0,  # noqa: N803
    ) -> None:
        """`C`, `class_weight`: the SVM's; `folds`: for its out-of-fold scores; `stage2_C`: the regression's."""
        self.lexicon_columns = lexicon_columns
        self.C = C
        self.class_weight = class_weight
        self.folds = folds
        self.seed = seed
        self.stage2_C = stage2_C

    def _split(self, features: Any) -> tuple[Any, Any]:
        return split_lexicon_block(features, self.lexicon_columns)

    def _svm(self) -> Any:
        from sklearn.svm import LinearSVC

        return LinearSVC(C=self.C, class_weight=self.class_weight, random_state=self.seed)

    def fit(self, features: Any, labels: Any, sample_weight: Any = None) -> StackedLinearModel:
        """Fit the SVM's folds for out-of-fold scores, the SVM on all rows, then the regression."""
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import StratifiedKFold

        ngrams, lexicon = self._split(features)
        labels = np.asarray(labels)
        weights = np.ones(len(labels)) if sample_weight is None else np.asarray(sample_weight, dtype=float)
        self.classes_ = np.unique(labels)
        scores = np.zeros((len(labels), len(self.classes_)))
        folds = StratifiedKFold(n_splits=self.folds, shuffle=True, random_state=self.seed)
        for train, test in folds.split(ngrams, labels):
            svm = self._svm().fit(ngrams[train], labels[train], sample_weight=weights[train])
            scores[test] = _scores(svm, ngrams[test], self.classes_)
        self.svm_ = self._svm().fit(ngrams, labels, sample_weight=weights)
        self.stage2_ = LogisticRegression(C=self.stage2_C, max_iter=2000)
        self.stage2_.fit(np.hstack([scores, lexicon]), labels, sample_weight=weights)
        return self

    def predict_proba(self, features: Any) -> Any:
        """Class probabilities in `classes_` order."""
        ngrams, lexicon = self._split(features)
        stacked = np.hstack([_scores(self.svm_, ngrams, self.classes_), lexicon])
        return self.stage2_.predict_proba(stacked)

    def predict(self, features: Any) -> Any:
        """The most probable class."""
        return self.classes_[np.argmax(self.predict_proba(features), axis=1)]


def _scores(svm: Any, features: Any, classes: Any) -> Any:
    """The SVM's decision values in `classes` order (a class missing from its training rows scores -2)."""
    out = np.full((features.shape[0], len(classes)), -2.0)
    values = svm.decision_function(features)
    if values.ndim == 1:  # two classes: one column, positive for the second
        values = np.column_stack([-values, values])
    for j, c in enumerate(svm.classes_):
        out[:, int(np.searchsorted(classes, c))] = values[:, j]
    return out
