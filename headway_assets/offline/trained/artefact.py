"""The trained local tier-1 model as a versioned artefact: a joblib file plus its JSON manifest.

`LocalModel` wraps a fitted scikit-learn pipeline (TF-IDF word and character n-grams into a
calibrated linear classifier, built by `training.build_estimator`) and turns its calibrated
class probabilities into tier-1 labels:

- is feedback: P(not `other`) >= the manifest's threshold (chosen by cross-validation on the
  training data when the model was fitted);
- category: the most probable feedback category when it is feedback, else `other`;
- confidence: the calibrated probability of the category given (what the expected calibration
  error in `docs/quality.md` measures);
- relevance: the feedback probability placed inside the category's band (the same bands the
  lexicon used), so only confident asks reach tier-2's threshold of 6.

An artefact is `NAME.joblib` with `NAME.json` beside it. The manifest records the sha256 of the
joblib file and loading checks it first: a joblib file is a pickle, so only load artefacts you
trained or trust; the check catches a file swapped or truncated after training.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from typing import Any, Final

from headway_assets.core.kinds import RELEVANCE_THRESHOLD
from headway_assets.llm.schemas import TIER1_CATEGORIES, Tier1Category, Tier1Label

__all__ = [
    "DEFAULT_ARTEFACT",
    "MANIFEST_FORMAT",
    "ArtefactError",
    "LocalModel",
    "cached_local_model",
    "default_artefact_path",
    "file_sha256",
    "load_local_model",
    "manifest_path",
    "read_manifest",
]

log = logging.getLogger(__name__)

MANIFEST_FORMAT: Final = 1
DEFAULT_ARTEFACT: Final = "tier1.joblib"
# Texts are cut here before featurising: the first few thousand characters decide the label, and
# a 50,000-character mail would otherwise cost as much as a thousand Slack messages.
MAX_CHARS: Final = 4_000
OTHER: Final = "other"

# Relevance bands per category: (floor at the feedback threshold, ceiling at certainty).
_RELEVANCE_BAND: Final[dict[str, tuple[int, int]]] = {
    "feature_request": (5, 10),
    "bug_report": (5, 9),
    "pain_point": (5, 8),
    "question": (3, 6),
    "praise": (3, 5),
}


class ArtefactError(ValueError):
    """An artefact cannot be loaded as given; the message says why."""


def manifest_path(artefact: Path) -> Path:
    """The manifest that goes with `artefact` (`model.joblib` -> `model.json`)."""
    return artefact.with_suffix(".json")


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def default_artefact_path() -> Path:
    """The model shipped in the package (trained on licence-clean data only; see its manifest)."""
    return Path(str(files("headway_assets.offline.trained").joinpath("default", DEFAULT_ARTEFACT)))


@dataclass(frozen=True, slots=True)
class _Decision:
    category: Tier1Category
    feedback_probability: float
    confidence: float


class LocalModel:
    """A fitted tier-1 pipeline and its manifest; `classify_many` answers like the offline classifier."""

    def __init__(self, estimator: Any, manifest: dict[str, Any]) -> None:
        """`estimator` has `predict_proba` and `classes_`; `manifest` at least `threshold`."""
        self.estimator = estimator
        self.manifest = manifest
        self.classes: tuple[str, ...] = tuple(str(c) for c in estimator.classes_)
        unknown = [c for c in self.classes if c not in TIER1_CATEGORIES]
        if unknown:
            raise ArtefactError(f"the model predicts classes that are not tier-1 categories: {unknown}")
        self.threshold = float(manifest.get("threshold", 0.5))
        self._other = self.classes.index(OTHER) if OTHER in self.classes else None
        self._feedback = [i for i, c in enumerate(self.classes) if c != OTHER]

    @property
    def version(self) -> str:
        """The manifest's version string (a hash of the training data and parameters)."""
        return str(self.manifest.get("version", "unversioned"))

    def probabilities(self, texts: Sequence[str]) -> Any:
        """Calibrated class probabilities, one row per text, columns in `self.classes` order."""
        return self.estimator.predict_proba([_clip(t) for t in texts])

    def _decide(self, row: Sequence[float]) -> _Decision:
        p_other = float(row[self._other]) if self._other is not None else 0.0
        p_feedback = 1.0 - p_other
        if not self._feedback or (self._other is not None and p_feedback < self.threshold):
            return _Decision("other", p_feedback, p_other)
        best = max(self._feedback, key=lambda i: (row[i], -i))
        category: Tier1Category = self.classes[best]  # type: ignore[assignment]  # checked in __init__
        return _Decision(category, p_feedback, float(row[best]))

    def classify_many(self, texts: Iterable[str]) -> list[Tier1Label]:
        """Tier-1 labels for `texts`, in order (deterministic: the same text gets the same label)."""
        batch = list(texts)
        for text in batch:
            if not isinstance(text, str):
                raise TypeError(f"expected text as str, got {type(text).__name__}")
        if not batch:
            return []
        return [self._label(self._decide(row)) for row in self.probabilities(batch)]

    def classify(self, text: str) -> Tier1Label:
        """The tier-1 label of one text."""
        return self.classify_many([text])[0]

    def _label(self, decision: _Decision) -> Tier1Label:
        confidence = round(min(max(decision.confidence, 0.0), 1.0), 4)
        if decision.category == OTHER:
            # Below the feedback threshold: scaled so it never reaches tier-2.
            relevance = min(
                RELEVANCE_THRESHOLD - 1, round(4 * decision.feedback_probability / max(self.threshold, 1e-6))
            )
            return Tier1Label(is_feedback=False, category="other", relevance=relevance, confidence=confidence)
        floor, ceiling = _RELEVANCE_BAND[decision.category]
        span = max(1.0 - self.threshold, 1e-6)
        strength = min(max((decision.feedback_probability - self.threshold) / span, 0.0), 1.0)
        relevance = round(floor + (ceiling - floor) * strength)
        return Tier1Label(is_feedback=True, category=decision.category, relevance=relevance, confidence=confidence)


def _clip(text: str) -> str:
    return text[:MAX_CHARS]


def read_manifest(artefact: Path) -> dict[str, Any]:
    """The manifest of `artefact`, checked to be one this code can read."""
    path = manifest_path(artefact)
    if not path.is_file():
        raise ArtefactError(f"{artefact}: its manifest {path.name} is missing (train it with `headway model train`)")
    manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    if manifest.get("format") != MANIFEST_FORMAT:
        raise ArtefactError(f"{path}: manifest format {manifest.get('format')!r}, this code reads {MANIFEST_FORMAT}")
    return manifest


def load_local_model(path: str | Path | None = None) -> LocalModel:
    """Load an artefact (default: the one shipped in the package), checking its sha256 first."""
    import joblib
    import sklearn

    artefact = Path(path) if path is not None else default_artefact_path()
    if not artefact.is_file():
        raise ArtefactError(f"model artefact {artefact} does not exist")
    manifest = read_manifest(artefact)
    expected = manifest.get("artefact_sha256")
    if expected != file_sha256(artefact):
        raise ArtefactError(f"{artefact}: its sha256 does not match the manifest; retrain it or restore the file")
    trained_with = manifest.get("sklearn_version")
    if trained_with != sklearn.__version__:
        # Pickled estimators are only guaranteed to load in the version that wrote them.
        log.warning(
            "model %s was trained with scikit-learn %s, running %s", artefact, trained_with, sklearn.__version__
        )
    return LocalModel(joblib.load(artefact), manifest)


@lru_cache(maxsize=8)
def cached_local_model(path: str | None = None) -> LocalModel:
    """`load_local_model`, once per process and path (the pipeline's provider loads it on first use)."""
    return load_local_model(path)
