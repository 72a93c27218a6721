"""Character n-grams inside word boundaries, as scikit-learn's `char_wb` analyzer makes them, cached per word.

scikit-learn builds `char_wb` n-grams in a Python loop over every word of every text, which made
featurising the slowest step of the model (about 70% of `headway classify`'s time). Words repeat
across messages, so the n-grams of each distinct word are computed once per process and reused:
the same features, in the same order, at a fraction of the cost (docs/benchmarks.md).

The analyzer is a module-level function (bound with `functools.partial`) so a pickled model
refers to it by name; artefacts therefore need this module to load.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Final

_WHITE_SPACES: Final = re.compile(r"\s\s+")
# About 1.3 KB a word: 16,384 words (the common vocabulary of any corpus) cost about 20 MB at most.
_CACHED_WORDS: Final = 1 << 14


@lru_cache(maxsize=_CACHED_WORDS)
def _word_ngrams(word: str, min_n: int, max_n: int) -> tuple[str, ...]:
    padded = f" {word} "
    length = len(padded)
    grams: list[str] = []
    for n in range(min_n, max_n + 1):
        offset = 0
        grams.append(padded[offset : offset + n])
        while offset + n < length:
            offset += 1
            grams.append(padded[offset : offset + n])
        if offset == 0:  # a word shorter than n counts once, as in scikit-learn
            break
    return tuple(grams)


def char_wb_ngrams(text: str, min_n: int = 2, max_n: int = 4) -> list[str]:
    """The `char_wb` n-grams of the lower-cased `text` (what `TfidfVectorizer(analyzer="char_wb")` makes)."""
    grams: list[str] = []
    for word in _WHITE_SPACES.sub(" ", text.lower()).split():
        grams.extend(_word_ngrams(word, min_n, max_n))
    return grams
