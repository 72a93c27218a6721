"""The offline model: deterministic tier-1, tier-2, insight and catalogue answers with no key or network.

This module is the offline model's one public entry: code outside `headway_assets/offline/`
imports from here, never from its submodules. `OfflineClassifier` labels tier-1; `answer(task,
payload)` answers the tier-2, insight and catalogue-match tasks the way a provider would. The
other names are the pieces the evaluation scripts and the tests reach for.
"""

from typing import Any, Final

from headway_assets.offline.calls import CALL_CUES, NEXT_STEP_CUE, assess_call, signal_lines
from headway_assets.offline.classifier import OfflineClassifier
from headway_assets.offline.competitors import find_competitor_mentions
from headway_assets.offline.examples import TRAINING_EXAMPLES
from headway_assets.offline.extractor import OfflineExtractor, is_transcript
from headway_assets.offline.matcher import CATALOG_THRESHOLD, hand_score, is_defect, match, match_predictor, similarity
from headway_assets.offline.matcher import evidence as match_evidence
from headway_assets.offline.matcher import features as match_features
from headway_assets.offline.matcher import scoring as match_scoring
from headway_assets.offline.org_models import (
    ORG_MODEL_PREFIX,
    is_org_model,
    load_org_model,
    org_artefact_path,
    org_model_name,
)
from headway_assets.offline.provider import OfflineProvider, answer_task
from headway_assets.offline.summariser import OfflineSummariser
from headway_assets.offline.tasks import answer
from headway_assets.offline.taxonomy_map import TaxonomyMapper, keywords_for, mapper_for
from headway_assets.offline.text import fold, mask_text, prepare
from headway_assets.offline.titles import ask_title, clean_sentence, make_title, names_an_ask
from headway_assets.offline.trained import (
    ArtefactError,
    DatasetSpec,
    LocalModel,
    TrainingRows,
    build_estimator,
    cached_local_model,
    cross_validated_predictions,
    cross_validated_probabilities,
    cross_validation_metrics,
    default_artefact_path,
    expected_calibration_error,
    fit_local_model,
    load_dataset_specs,
    load_local_model,
    load_training_rows,
    model_version,
    read_manifest,
    save_local_model,
    score_by_group,
)
from headway_assets.offline.vocab import concept_terms, content_terms, english_text, term_weights

__all__ = [
    "CALL_CUES",
    "CATALOG_THRESHOLD",
    "LEXICON_FEATURES",
    "NEXT_STEP_CUE",
    "ORG_MODEL_PREFIX",
    "TRAINING_EXAMPLES",
    "USE_CHARS",
    "ArtefactError",
    "DatasetSpec",
    "LexiconEvidence",
    "LocalModel",
    "OfflineClassifier",
    "OfflineExtractor",
    "OfflineProvider",
    "OfflineSummariser",
    "ShapeBlend",
    "TaxonomyMapper",
    "TrainingRows",
    "UseEmbedder",
    "WordLlamaEmbedder",
    "answer",
    "answer_task",
    "ask_title",
    "assess_call",
    "build_estimator",
    "cached_local_model",
    "clean_sentence",
    "concept_terms",
    "content_terms",
    "cross_validated_predictions",
    "cross_validated_probabilities",
    "cross_validation_metrics",
    "default_artefact_path",
    "english_text",
    "expected_calibration_error",
    "find_competitor_mentions",
    "fit_local_model",
    "fold",
    "hand_score",
    "is_defect",
    "is_org_model",
    "is_transcript",
    "keywords_for",
    "load_dataset_specs",
    "load_local_model",
    "load_org_model",
    "load_training_rows",
    "make_title",
    "mapper_for",
    "mask_text",
    "match",
    "match_evidence",
    "match_features",
    "match_predictor",
    "match_scoring",
    "model_version",
    "names_an_ask",
    "org_artefact_path",
    "org_model_name",
    "prepare",
    "read_manifest",
    "remember_lexicon_features",
    "remember_use_embeddings",
    "save_local_model",
    "score_by_group",
    "shape_weights",
    "signal_lines",
    "similarity",
    "term_weights",
    "use_embeddings",
    "wordllama_files",
    "wordllama_tables",
]

# The embedding experiment of docs/quality.md (not in the shipped recipe) imports scikit-learn and
# reads the wordllama wheel: its parts are imported on first use, not with the package.
_EMBEDDING_PARTS: Final = frozenset(
    {
        "USE_CHARS",
        "UseEmbedder",
        "WordLlamaEmbedder",
        "remember_use_embeddings",
        "use_embeddings",
        "wordllama_files",
        "wordllama_tables",
    }
)
# The lexicon-evidence features (offline/trained/lexicon_features.py) import scikit-learn too.
_LEXICON_FEATURE_PARTS: Final = frozenset({"LEXICON_FEATURES", "LexiconEvidence", "remember_lexicon_features"})
# ... and so does the shape blend of the model and the lexicon (offline/trained/blend.py).
_BLEND_PARTS: Final = frozenset({"ShapeBlend", "shape_weights"})


def __getattr__(name: str) -> Any:
    """The embedding, lexicon-feature and blend parts of the trained model, imported when first asked for."""
    if name in _EMBEDDING_PARTS:
        from headway_assets.offline.trained import embeddings

        return getattr(embeddings, name)
    if name in _LEXICON_FEATURE_PARTS:
        from headway_assets.offline.trained import lexicon_features

        return getattr(lexicon_features, name)
    if name in _BLEND_PARTS:
        from headway_assets.offline.trained import blend

        return getattr(blend, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
