"""No original personal data reaches a provider or a trace: every AI task's items are redacted
in the engine, at the one place where they become a request (`PrivacyGuard.protect`).

The assets know whose each text is; the engine does not. So an asset `register`s each text it
hands the engine with the `PiiScope` of its message (redaction on or off for the owning
organisation, and the names of the message's people); a text nobody registered gets the
default scope: redaction as configured (HEADWAY_PII_REDACTION, on by default) with no names,
so e-mail addresses, phone numbers, cards, IBANs and keys are still replaced.

Every provider sees the redacted items, the offline one included (it reads the same payload),
and the request the engine traces is built from them. The answers come back with placeholders;
tier-2 puts the original values back into its evidence quotes (`tier2_redaction`) before it
checks them against the message and stores them, for the owning organisation only.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

from headway_assets.core.pii import REDACTION_VERSION, Redaction
from headway_assets.core.settings import get_settings
from headway_assets.llm.tasks import (
    CALL,
    INSIGHT,
    MATCH,
    TIER1,
    TIER2,
    CallInput,
    InsightInput,
    MatchCandidate,
    MatchInput,
    Tier1Input,
    Tier2Input,
)


@dataclass(frozen=True)
class PiiScope:
    """What redacting one message's text needs: whether its organisation redacts, its people's names,
    and words that must stay (its customer's name: a company, not a person)."""

    enabled: bool = True
    names: tuple[str, ...] = ()
    keep: tuple[str, ...] = ()

    def redaction(self) -> Redaction | None:
        """A fresh redaction for one item, or None when this scope sends text as it is."""
        if not self.enabled:
            return None
        return Redaction(names=self.names, keep=tuple(word for phrase in self.keep for word in phrase.split()))

    def fingerprint(self) -> str:
        """A short hash of everything that decides the placeholders (part of cache keys of answers
        whose placeholders are put back, so an answer is restored only with its own mapping)."""
        payload = [REDACTION_VERSION, self.enabled, sorted(self.names), sorted(self.keep)]
        return hashlib.sha256(json.dumps(payload, ensure_ascii=False).encode()).hexdigest()[:16]


def message_scope(enabled: bool, people: Iterable[str], customer: str | None = None) -> PiiScope:
    """The scope of a message: its organisation's setting, its people, its customer kept."""
    return PiiScope(enabled=enabled, names=tuple(people), keep=(customer,) if customer else ())


def default_enabled() -> bool:
    """Whether text no organisation claimed is redacted (HEADWAY_PII_REDACTION, on by default)."""
    return get_settings().pipeline.pii_redaction


REMEMBERED_CANDIDATES = 16_384  # redacted catalogue candidates a guard keeps


class PrivacyGuard:
    """The scopes of the texts one engine run sends, and the redaction of every task's items."""

    def __init__(self, enabled_by_default: bool | None = None) -> None:
        enabled = default_enabled() if enabled_by_default is None else enabled_by_default
        self.default = PiiScope(enabled=enabled)
        self._scopes: dict[str, PiiScope] = {}
        #: Distinct values replaced, per kind, over the run (counts only: never the values).
        self.counts: Counter[str] = Counter()
        # Catalogue candidates as redacted (a function of the candidate alone), for this run only:
        # a rebuild offers the same candidates to thousands of asks.
        self._candidates: dict[tuple[MatchCandidate, bool], MatchCandidate] = {}

    def register(self, text: str, scope: PiiScope) -> None:
        """Say whose `text` is. A text two messages share is redacted if either asks, with both's names."""
        known = self._scopes.get(text)
        if known is not None and known != scope:
            scope = PiiScope(
                enabled=known.enabled or scope.enabled,
                names=tuple(dict.fromkeys(known.names + scope.names)),
                keep=tuple(k for k in known.keep if k in scope.keep),
            )
        self._scopes[text] = scope

    def scope(self, text: str) -> PiiScope:
        """The registered scope of `text`, or the default one."""
        return self._scopes.get(text, self.default)

    def protect(self, task: str, pairs: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
        """The (id, item) pairs of one call with every item redacted for `task`."""
        redact = _REDACTORS.get(task)
        if redact is None:
            return pairs
        protected = []
        for item_id, item in pairs:
            redacted, redaction = redact(self, item)
            if redaction is not None:
                self.counts.update(redaction.counts)
            protected.append((item_id, redacted))
        return protected

    def candidate(self, candidate: MatchCandidate, enabled: bool) -> MatchCandidate:
        """`candidate` redacted (patterns only, each field on its own), remembered for the run."""
        key = (candidate, enabled)
        redacted = self._candidates.get(key)
        if redacted is None:
            if len(self._candidates) >= REMEMBERED_CANDIDATES:
                self._candidates.clear()
            redacted = self._candidates[key] = _redact_candidate(candidate, enabled)
        return redacted

    def tier2_redaction(self, item: Tier2Input) -> Redaction | None:
        """The redaction `protect` applies to this tier-2 item: what restores its answer's quotes."""
        return _redact_tier2(self, item)[1]

    def call_redaction(self, item: CallInput) -> Redaction | None:
        """The redaction `protect` applies to this call: what restores its answer's quotes."""
        return _redact_call(self, item)[1]


def _redact_tier1(guard: PrivacyGuard, item: Tier1Input) -> tuple[Tier1Input, Redaction | None]:
    redaction = guard.scope(item.text).redaction()
    if redaction is None:
        return item, None
    return replace(item, text=redaction.redact(item.text) or ""), redaction


def _customer(redaction: Redaction, customer: str | None) -> str | None:
    """The customer is a company and stays, unless a source fell back to a person's name for it."""
    if customer and customer.casefold() in {name.casefold() for name in redaction.names}:
        return redaction.redact(customer)
    return customer


def _redact_tier2(guard: PrivacyGuard, item: Tier2Input) -> tuple[Tier2Input, Redaction | None]:
    redaction = guard.scope(item.text).redaction()
    if redaction is None:
        return item, None
    # Body first, then subject and customer: the order fixes the placeholders' numbers.
    text = redaction.redact(item.text) or ""
    title = redaction.redact(item.title)
    return replace(item, text=text, title=title, customer=_customer(redaction, item.customer)), redaction


def _redact_insight(guard: PrivacyGuard, item: InsightInput) -> tuple[InsightInput, Redaction | None]:
    redaction = guard.scope(item.text).redaction()
    if redaction is None:
        return item, None
    text = redaction.redact(item.text) or ""
    titles = tuple(redaction.redact(title) or "" for title in item.mention_titles)
    return replace(item, text=text, mention_titles=titles, customer=_customer(redaction, item.customer)), redaction


def _plain(text: str, enabled: bool) -> str:
    """Model-written text (titles, descriptions) redacted on its own, patterns only."""
    return _patterns_only(text) if enabled and text else text


# A function of the text alone (a fresh redaction, no names): a rebuild shows the same member titles
# and descriptions in thousands of candidates, each candidate worded a little differently.
@lru_cache(maxsize=65_536)
def _patterns_only(text: str) -> str:
    return Redaction().redact(text) or ""


def _redact_candidate(candidate: MatchCandidate, enabled: bool) -> MatchCandidate:
    # Each field on its own: a candidate then reads the same in every ask, and is written once a call.
    return replace(
        candidate,
        title=_plain(candidate.title, enabled),
        description=_plain(candidate.description, enabled),
        examples=tuple(_plain(example, enabled) for example in candidate.examples),
    )


def _redact_match(guard: PrivacyGuard, item: MatchInput) -> tuple[MatchInput, Redaction | None]:
    scope = guard.scope(item.quote)
    redaction = scope.redaction()
    if redaction is None:
        return item, None
    return (
        replace(
            item,
            quote=redaction.redact(item.quote) or "",
            title=redaction.redact(item.title) or "",
            description=redaction.redact(item.description) or "",
            candidates=tuple(guard.candidate(c, scope.enabled) for c in item.candidates),
        ),
        redaction,
    )


def _redact_call(guard: PrivacyGuard, item: CallInput) -> tuple[CallInput, Redaction | None]:
    redaction = guard.scope(item.text).redaction()
    if redaction is None:
        return item, None
    # Body first, then subject, customer and the vendor's speakers: the order fixes the placeholders,
    # and a speaker's name then reads the same in the transcript and in the list of vendor speakers.
    text = redaction.redact(item.text) or ""
    title = redaction.redact(item.title)
    speakers = tuple(redaction.redact(name) or "" for name in item.internal_speakers)
    return (
        replace(item, text=text, title=title, customer=_customer(redaction, item.customer), internal_speakers=speakers),
        redaction,
    )


_REDACTORS: dict[str, Any] = {
    TIER1: _redact_tier1,
    TIER2: _redact_tier2,
    INSIGHT: _redact_insight,
    MATCH: _redact_match,
    CALL: _redact_call,
}
