"""Evidence quotes must be real substrings of the message: find them, or reject them.

Models copy quotes with small slips (curly vs straight quotes, collapsed whitespace, a
changed letter case, wrapping quotation marks). A quote is accepted when it is found
verbatim, or when it matches after folding exactly those differences; either way the stored
quote is the message's own text, so `text[start:start + len(quote)] == quote` always holds.
"""

from __future__ import annotations

_CHAR_FOLDS = {
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u00ab": '"', "\u00bb": '"',
    "\u2013": "-", "\u2014": "-", "\u2212": "-", "\u00a0": " ",
}  # fmt: skip
_WRAPPERS = "\"'\u201c\u201d\u2018\u2019\u00ab\u00bb "


def _fold(text: str) -> tuple[str, list[int]]:
    """Folded text plus, for every folded character, its index in the original."""
    folded: list[str] = []
    positions: list[int] = []
    previous_space = False
    for index, char in enumerate(text):
        char = _CHAR_FOLDS.get(char, char)
        if char.isspace():
            if previous_space:
                continue
            char, previous_space = " ", True
        else:
            previous_space = False
        lowered = char.lower()
        if len(lowered) != 1:  # rare multi-char lowercase forms: keep the original character
            lowered = char
        folded.append(lowered)
        positions.append(index)
    return "".join(folded), positions


def locate_quote(text: str, quote: str) -> tuple[int, str] | None:
    """(start offset, the quote as it stands in `text`), or None when it is not in the text."""
    if not quote or not text:
        return None
    start = text.find(quote)
    if start != -1:
        return start, quote
    candidate = quote.strip().strip(_WRAPPERS).removesuffix("...").removesuffix("\u2026").strip()
    if len(candidate) < 8:
        return None
    start = text.find(candidate)
    if start != -1:
        return start, candidate
    folded_text, positions = _fold(text)
    folded_quote, _ = _fold(candidate)
    folded_quote = folded_quote.strip()
    found = folded_text.find(folded_quote)
    if found == -1:
        return None
    begin = positions[found]
    end = positions[found + len(folded_quote) - 1] + 1
    return begin, text[begin:end]
