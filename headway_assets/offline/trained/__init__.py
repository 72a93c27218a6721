"""The trained local tier-1 model: scikit-learn TF-IDF features into a calibrated linear classifier.

`load_local_model(path)` reads a versioned artefact (joblib + JSON manifest); `fit_local_model`
and `save_local_model` make one from labelled CSV files (`headway model train`). scikit-learn is
imported only when a model is fitted or loaded, so the offline provider pays for it only when
tier-1 uses the trained model.
"""

from headway_assets.offline.trained.artefact import (
    ArtefactError,
    LocalModel,
    cached_local_model,
    default_artefact_path,
    load_local_model,
    manifest_path,
    read_manifest,
)
from headway_assets.offline.trained.training import (
    DatasetSpec,
    TrainingRows,
    build_estimator,
    cross_validated_predictions,
    cross_validated_probabilities,
    cross_validation_metrics,
    expected_calibration_error,
    fit_local_model,
    load_dataset_specs,
    load_training_rows,
    model_version,
    save_local_model,
    score_by_group,
)

__all__ = [
    "ArtefactError",
    "DatasetSpec",
    "LocalModel",
    "TrainingRows",
    "build_estimator",
    "cached_local_model",
    "cross_validated_predictions",
    "cross_validated_probabilities",
    "cross_validation_metrics",
    "default_artefact_path",
    "expected_calibration_error",
    "fit_local_model",
    "load_dataset_specs",
    "load_local_model",
    "load_training_rows",
    "manifest_path",
    "model_version",
    "read_manifest",
    "save_local_model",
    "score_by_group",
]
