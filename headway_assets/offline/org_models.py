"""Organisations' own tier-1 models: where they live, what they are called, how they are loaded.

`headway model train --org SLUG` writes `<models_dir>/SLUG/tier1.joblib` and its manifest
(`HEADWAY_MODELS_DIR`, default `<data_dir>/models`). When tier-1 runs on the shipped local
model (`HEADWAY_TIER1_MODEL=headway-local-2`), the pipeline labels an organisation's messages
with its own model when it has one, and with the shipped model otherwise.

An organisation's model is named `org:SLUG@VERSION`, VERSION being its manifest's version (a hash
of its training rows and parameters). The name is what labels record as their model and part of
the answer cache key: a retrained model is another name, so its answers are never taken from
the cache of the one before, and a refresh run re-labels with it.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Final

from headway_assets.core.settings import get_settings
from headway_assets.llm.providers.base import LlmError
from headway_assets.offline.trained import ArtefactError, LocalModel, load_local_model, read_manifest
from headway_assets.offline.trained.artefact import DEFAULT_ARTEFACT

ORG_MODEL_PREFIX: Final = "org:"
# Organisation slugs as folder names: nothing that could climb out of the models folder.
_SLUG: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
_NAME: Final = re.compile(rf"{ORG_MODEL_PREFIX}(?P<slug>{_SLUG.pattern})@(?P<version>[A-Za-z0-9._-]+)")


def org_artefact_path(slug: str, models_dir: Path | None = None) -> Path:
    """Where organisation `slug`'s own tier-1 model lives (it may not exist)."""
    if not _SLUG.fullmatch(slug) or set(slug) == {"."}:
        raise ValueError(f"{slug!r} is not an organisation slug")
    folder = models_dir if models_dir is not None else get_settings().pipeline.org_models_dir
    return folder / slug / DEFAULT_ARTEFACT


def org_model_name(slug: str, models_dir: Path | None = None) -> str | None:
    """The model name of organisation `slug`'s own tier-1 model, or None when it has none."""
    artefact = org_artefact_path(slug, models_dir)
    if not artefact.is_file():
        return None
    try:
        version = str(read_manifest(artefact).get("version") or "")
    except (ArtefactError, ValueError) as error:
        raise LlmError(f"organisation {slug}'s tier-1 model cannot be read: {error}") from None
    if not version:
        raise LlmError(f"organisation {slug}'s tier-1 model {artefact} has no version in its manifest; retrain it")
    return f"{ORG_MODEL_PREFIX}{slug}@{version}"


def is_org_model(model: str) -> bool:
    """Whether `model` names an organisation's own tier-1 model."""
    return model.startswith(ORG_MODEL_PREFIX)


@lru_cache(maxsize=16)
def load_org_model(model: str) -> LocalModel:
    """The organisation model named `model` (`org:SLUG@VERSION`), loaded once per process and name.

    The artefact in the models folder must still be that version: one retrained since the run
    chose the name would label under the old name, so it is refused (the next run picks it up)."""
    match = _NAME.fullmatch(model)
    if match is None:
        raise LlmError(f"{model!r} is not an organisation model name (org:SLUG@VERSION)")
    artefact = org_artefact_path(match["slug"])
    try:
        loaded = load_local_model(artefact)
    except ArtefactError as error:
        raise LlmError(f"organisation {match['slug']}'s tier-1 model: {error}") from None
    if loaded.version != match["version"]:
        raise LlmError(
            f"organisation {match['slug']}'s tier-1 model is now {loaded.version}, not {match['version']}: "
            "it was retrained during the run; the next run labels with it"
        )
    return loaded
