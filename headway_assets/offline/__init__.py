"""Offline LLM provider pieces: a deterministic tier-1 classifier that needs no key or network.

`OfflineClassifier` is the entry point. `text` (masking, sentence segments that are verbatim
spans of the original, folding) and `cues` (lexicon matching with hit spans) are the building
blocks meant to be reused by the offline tier-2 extractor and insight summariser.
"""

from headway_assets.offline.classifier import Evidence, OfflineClassifier, SentenceEvidence
from headway_assets.offline.cues import CueHit, detect_cues
from headway_assets.offline.tasks import answer
from headway_assets.offline.text import PreparedText, Segment, fold, prepare, split_sentences

__all__ = [
    "CueHit",
    "Evidence",
    "OfflineClassifier",
    "PreparedText",
    "Segment",
    "SentenceEvidence",
    "answer",
    "detect_cues",
    "fold",
    "prepare",
    "split_sentences",
]
