"""The offline tier-2's competitor mentions: listed names and aliases found in the text, with a context.

A heuristic, and an honest one (docs/quality.md measures it on the demo corpus):

1. A competitor is named where one of its listed names or aliases stands as a whole word. Short
   or all-capital terms ("PD", "HBS") must match case and all; longer ones match in any case.
   Nothing else is found: an unlisted competitor, a misspelling or a translated name is missed.
2. The evidence is the sentence that names it (a slice of the text, so it is verbatim).
3. The context comes from cue words around the name in that sentence, first match wins:
   `switching_from` ("moved from X", "we left X", "replacing X"), `switching_to` ("switch to X",
   "evaluating X", "leave you for X"), `pricing` (price, cheaper, cost, per seat, a $ amount),
   `comparison` ("than X", "like X", "X already does", "X has"), else `other`. Negations
   ("we are not moving to X") and irony are not understood.
4. One mention per competitor and context in a message, at most eight, in text order.

English cues only; a name in any language is still found (with context `other` or `comparison`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Final

from headway_assets.llm.schemas import CompetitorContext, CompetitorMentionDraft

MAX_COMPETITOR_MENTIONS: Final = 8
QUOTE_MIN: Final = 8
QUOTE_MAX: Final = 600
_CUE_REACH: Final = 60  # characters before the name a cue word may stand in

_FLAGS: Final = re.IGNORECASE
_SENTENCE_END: Final = re.compile(r"(?<=[.!?])\s+|\n+")
# Cues just before the name (the text before it ends with them).
_FROM_BEFORE: Final = re.compile(
    r"\b(?:(?:switch|mov|migrat|com|came|transition|jump|port)\w*(?: \w+){0,3}? (?:away )?from|away from|off of|off"
    r"|replac(?:e|ed|ing)|ditch(?:ed|ing)?|dump(?:ed|ing)?|(?:we )?left|leaving|outgrew|outgrown|used to (?:use|be on)"
    r"|(?:our|the) old|ex-|former|cancel(?:l?ed|l?ing)?(?: our)?)\s*(?:the |our |using )?$",
    _FLAGS,
)
_TO_BEFORE: Final = re.compile(
    r"\b(?:(?:switch|mov|migrat|go|jump|churn|port|leav)\w*(?: \w+){0,4}? (?:to|for|over to)"
    r"|(?:leav|dump|drop|ditch)\w* (?:you|us|your \w+|\w+)(?: \w+)? for|evaluat(?:e|es|ed|ing)"
    r"|consider(?:s|ed|ing)?|trial(?:l?ing)?"
    r"|pilot(?:s|ed|ing)?|looking (?:at|into)|talking to|a (?:demo|trial|pilot|quote|proposal) (?:of|from|with)"
    r"|sign(?:ed|ing)? with|go(?:ing)? with|shortlist(?:ed)?|moved to|chose|picked)\s*(?:the |using )?$",
    _FLAGS,
)
_PRICING: Final = re.compile(
    r"\b(?:price[sd]?|pricing|cheaper|pricier|expensive|costs?|costing|per (?:seat|user|month|year)|discount\w*"
    r"|quote[sd]?|budget|fees?|licen[cs]e cost|half (?:the|what)|invoice|\d+ ?%)|[$€£]\s?\d",
    _FLAGS,
)
_COMPARISON: Final = re.compile(
    r"\b(?:than|compared|comparison|compare|versus|vs\.?|like|unlike|better|worse|faster|slower|already"
    r"|(?:has|have|does|do|offers?|supports?|ships?|gives?|lets?) (?:this|that|it|them|us|a|an|the|native|built)"
    r"|same as|similar to|whereas|while)\b",
    _FLAGS,
)


def _term_pattern(term: str) -> re.Pattern[str]:
    """A whole-word pattern for one name or alias: exact case for short or all-capital terms."""
    body = r"\s+".join(re.escape(part) for part in term.split())
    exact = len(term) <= 3 or (term.isupper() and len(term) <= 6)
    return re.compile(rf"(?<![\w@.-]){body}(?![\w-]|\.\w)", 0 if exact else _FLAGS)


@lru_cache(maxsize=64)
def _patterns(competitors: tuple[tuple[str, tuple[str, ...]], ...]) -> tuple[tuple[str, re.Pattern[str]], ...]:
    """(listed name, pattern) for every usable name and alias, longest term first."""
    terms: list[tuple[str, str]] = []
    for name, aliases in competitors:
        for term in (name, *aliases):
            term = term.strip()
            if len(term) >= 2:
                terms.append((name, term))
    terms.sort(key=lambda pair: -len(pair[1]))
    return tuple((name, _term_pattern(term)) for name, term in terms)


def _sentence_span(text: str, start: int, end: int) -> tuple[int, int]:
    """The sentence (or line) holding text[start:end], stripped of surrounding whitespace."""
    begin = 0
    for boundary in _SENTENCE_END.finditer(text, 0, start):
        begin = boundary.end()
    after = _SENTENCE_END.search(text, end)
    finish = after.start() if after else len(text)
    while begin < start and text[begin].isspace():
        begin += 1
    while finish > end and text[finish - 1].isspace():
        finish -= 1
    if finish - begin > QUOTE_MAX:  # a run-on line: a window around the name instead
        begin = max(begin, start - QUOTE_MAX // 2 + (end - start))
        finish = min(finish, begin + QUOTE_MAX)
    if finish - begin < QUOTE_MIN:  # too short to be evidence: widen to the next characters
        finish = min(len(text), begin + QUOTE_MIN)
    return begin, finish


def context_of(sentence_before: str, sentence: str) -> CompetitorContext:
    """The context of a competitor named in `sentence`, whose text before the name is `sentence_before`."""
    before = sentence_before[-_CUE_REACH:]
    if _FROM_BEFORE.search(before):
        return "switching_from"
    if _TO_BEFORE.search(before):
        return "switching_to"
    if _PRICING.search(sentence):
        return "pricing"
    if _COMPARISON.search(sentence):
        return "comparison"
    return "other"


def find_competitor_mentions(
    text: str, competitors: Iterable[tuple[str, tuple[str, ...]]]
) -> list[CompetitorMentionDraft]:
    """The listed competitors `text` names: one mention per competitor and context, in text order."""
    listed = tuple((name, tuple(aliases)) for name, aliases in competitors)
    if not listed or not text:
        return []
    found: dict[tuple[str, str], tuple[int, CompetitorMentionDraft]] = {}
    taken: list[tuple[int, int]] = []  # spans already matched by a longer term
    for name, pattern in _patterns(listed):
        for match in pattern.finditer(text):
            start, end = match.span()
            if any(start < t_end and t_start < end for t_start, t_end in taken):
                continue
            taken.append((start, end))
            begin, finish = _sentence_span(text, start, end)
            context = context_of(text[begin:start], text[begin:finish])
            key = (name, context)
            if key in found and found[key][0] <= start:
                continue
            quote = text[begin:finish]
            if len(quote.strip()) < QUOTE_MIN:
                continue
            found[key] = (start, CompetitorMentionDraft(competitor=name, context=context, evidence_quote=quote))
    ordered = sorted(found.values(), key=lambda pair: pair[0])
    return [draft for _, draft in ordered[:MAX_COMPETITOR_MENTIONS]]
