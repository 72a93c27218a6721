"""A soft-voting ensemble of the calibrated SVM with a second, differently biased linear model (`ensemble`).

Measured, not kept (docs/quality.md): the calibrated SVM's probabilities averaged with those
of a sigmoid-calibrated complement naive Bayes (`"cnb"`) or logistic regression (`"logreg"`)
over the n-gram columns, `(1 - share) * p_svm + share * p_other`. Naive Bayes and logistic
regression weigh rare and frequent n-grams differently from a hinge-loss SVM, which is what an
average can gain from. The second model sees only the non-negative n-gram columns (the first
ones): the pipeline's last `skip_columns` columns (the lexicon's evidence, when present) go to
the SVM alone.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone

__all__ = ["SoftEnsemble", "second_model"]


def second_model(kind: str, *, seed: int, folds: int, class_weight: str | None) -> Any:
    """The second member, calibrated like the SVM (sigmoid on `folds` stratified folds)."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold
    from sklearn.naive_bayes import ComplementNB

    if kind == "cnb":
        base: Any = ComplementNB(alpha=0.3)
    elif kind == "logreg":
        base = LogisticRegression(C=10.0, class_weight=class_weight, max_iter=300)
    else:
        raise ValueError(f"unknown ensemble member {kind!r}: use 'cnb' or 'logreg'")
    split = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return CalibratedClassifierCV(base, method="sigmoid", cv=split, ensemble=False)


class SoftEnsemble(ClassifierMixin, BaseEstimator):
    """`first` on every column, `second` on all but the last `skip_columns`; probabilities averaged."""

    def __init__(self, first: Any, second: Any, share: float = 0.5, skip_columns: int = 0) -> None:
        """`share`: the second model's weight in the average."""
        self.first = first
        self.second = second
        self.share = share
        self.skip_columns = skip_columns

    def _second_columns(self, features: Any) -> Any:
        from scipy.sparse import csr_matrix

        matrix = csr_matrix(features)
        return matrix[:, : matrix.shape[1] - self.skip_columns] if self.skip_columns else matrix

    def fit(self, features: Any, labels: Any, sample_weight: Any = None) -> SoftEnsemble:
        """Fit both members on the same rows and weights."""
        self.first_ = clone(self.first).fit(features, labels, sample_weight=sample_weight)
        self.second_ = clone(self.second).fit(self._second_columns(features), labels, sample_weight=sample_weight)
        self.classes_ = self.first_.classes_
        if list(self.second_.classes_) != list(self.classes_):
            raise ValueError("the two members learnt different classes")
        return self

    def predict_proba(self, features: Any) -> Any:
        """The weighted average of the members' probabilities, in `classes_` order."""
        first = self.first_.predict_proba(features)
        second = self.second_.predict_proba(self._second_columns(features))
        return (1.0 - self.share) * first + self.share * second

    def predict(self, features: Any) -> Any:
        """The most probable class."""
        return self.classes_[np.argmax(self.predict_proba(features), axis=1)]


class NaiveBayesSvm(ClassifierMixin, BaseEstimator):
    """NB-SVM (Wang and Manning, 2012) one-vs-rest: per class, the n-gram columns scaled by their
    log-count ratio between that class and the rest, then a binary linear SVM (`nbsvm: True`).

    The ratio is computed on the first columns only (the TF-IDF values, weighted by the rows'
    sample weights, smoothed by `alpha`); the last `skip_columns` (the lexicon's evidence, when
    present) enter every class's SVM unscaled. `decision_function` gives one score per class, so
    `CalibratedClassifierCV` calibrates it as it does the plain SVM.
    """

    def __init__(
        self,
        C: float = 0.3,  # noqa: N803 (scikit-learn's name)
        class_weight: str | None = "balanced",
        alpha: float = 1.0,
        skip_columns: int = 0,
        seed: int = 0,
    ) -> None:
        """`C`, `class_weight`: each binary SVM's; `alpha`: the count smoothing."""
        self.C = C
        self.class_weight = class_weight
        self.alpha = alpha
        self.skip_columns = skip_columns
        self.seed = seed

    def _scaled(self, features: Any, ratio: Any) -> Any:
        from scipy.sparse import csr_matrix, diags

        matrix = csr_matrix(features)
        return matrix @ diags(ratio)

    def fit(self, features: Any, labels: Any, sample_weight: Any = None) -> NaiveBayesSvm:
        """One ratio vector and one binary SVM per class."""
        from scipy.sparse import csr_matrix
        from sklearn.svm import LinearSVC

        matrix = csr_matrix(features)
        labels = np.asarray(labels)
        weights = np.ones(len(labels)) if sample_weight is None else np.asarray(sample_weight, dtype=float)
        self.classes_ = np.unique(labels)
        cut = matrix.shape[1] - self.skip_columns
        self.ratios_, self.svms_ = [], []
        for c in self.classes_:
            inside = labels == c
            p = self.alpha + np.asarray(matrix[inside][:, :cut].T @ weights[inside]).ravel()
            q = self.alpha + np.asarray(matrix[~inside][:, :cut].T @ weights[~inside]).ravel()
            ratio = np.ones(matrix.shape[1])
            ratio[:cut] = np.log((p / p.sum()) / (q / q.sum()))
            svm = LinearSVC(C=self.C, class_weight=self.class_weight, random_state=self.seed)
            svm.fit(self._scaled(matrix, ratio), inside.astype(int), sample_weight=weights)
            self.ratios_.append(ratio)
            self.svms_.append(svm)
        return self

    def decision_function(self, features: Any) -> Any:
        """One score per class, in `classes_` order."""
        return np.column_stack(
            [svm.decision_function(self._scaled(features, r)) for r, svm in zip(self.ratios_, self.svms_, strict=True)]
        )

    def predict(self, features: Any) -> Any:
        """The class with the highest score."""
        return self.classes_[np.argmax(self.decision_function(features), axis=1)]
