"""The trained local model (`headway_assets/offline/trained/`) working for the hosted providers.

Cheap passes that run before a hosted model is asked, both with the local model's calibrated
P(feedback) (1 - P(`other`)):

- **excerpts** (tier-2): a long multi-line message (a call transcript) is sent as the lines
  that may hold feedback, in their order, with `[...]` where lines were left out, instead of
  whole: a 40-minute call is mostly small talk, agenda, demo and the vendor's questions, and its
  asks are in the customers' turns. A line stays when it is not a turn of the organisation's own
  people in a call that has external participants (Gong parties' affiliation, Fathom invitees'
  `is_external`), and the local model gives it at least HEADWAY_LLM_EXCERPT_THRESHOLD P(feedback)
  (0 turns excerpts off). Every kept line is a verbatim line of the message, so evidence quotes
  are still found in it (docs/benchmarks.md measures what it saves and what it loses);
- **digests** (tier-1): such a call is one tier-1 item of about HEADWAY_TIER1_DIGEST_CHARS
  (3,000) characters, its customers' lines the local model finds likeliest feedback, instead of
  five 1,200-character windows spread over it (0 turns digests off);
- **first pass** (tier-1): a message the local model is confident is not feedback
  (P(not feedback) >= HEADWAY_LOCAL_FIRST_PASS_THRESHOLD, or the organisation's own
  `local_first_pass_threshold` setting) is labelled locally and never sent (docs/quality.md
  measures the calls it saves against the feedback it loses; off by default).

All three are for hosted providers only: the offline provider pays no tokens and reads whole
messages and windows as it always did. The model is the one shipped in the package, loaded once
per process through its public API.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import Connection, select

from headway_assets.core.llm_catalogue import OFFLINE_PROVIDER
from headway_assets.core.org_settings import FIRST_PASS_SETTING, applied_first_pass_threshold
from headway_assets.core.settings import get_settings
from headway_assets.core.warehouse.schema import Organization
from headway_assets.llm.registry import LOCAL_MODEL
from headway_assets.offline import LocalModel, cached_local_model

# Messages shorter than this are sent whole: excerpting saves little and a short message's
# lines depend on each other.
EXCERPT_MIN_CHARS: Final = 3_000
# Fewest lines an excerpt keeps (the most probable ones) when fewer pass the threshold.
EXCERPT_MIN_LINES: Final = 6
# Marks left-out lines; never part of an evidence quote (tier-2's prompt says so).
EXCERPT_GAP: Final = "[...]"
# Recorded as the label's provider when the first pass labelled a message (its model is LOCAL_MODEL).
FIRST_PASS_PROVIDER: Final = "local-first-pass"


def saves_tokens(provider_name: str) -> bool:
    """Whether excerpts and digests apply: for hosted providers only (the offline provider pays no
    tokens, and reads whole messages and windows as it always did)."""
    return provider_name != OFFLINE_PROVIDER


def local_model() -> LocalModel:
    """The shipped local model (loaded on first use, then kept for the process)."""
    return cached_local_model(None)


# Scores of lines already seen in this process (tier-1's digests and tier-2's excerpts score the same
# call lines in one run), per model version; bounded, and cleared whole when full.
_SEEN: dict[tuple[str, str], float] = {}
_SEEN_MAX: Final = 200_000


def feedback_probabilities(texts: Sequence[str], model: LocalModel | None = None) -> list[float]:
    """The local model's calibrated P(feedback) = 1 - P(other) of each text."""
    if not texts:
        return []
    model = model or local_model()
    if "other" not in model.classes:
        return [1.0] * len(texts)
    version = model.version
    todo = list(dict.fromkeys(t for t in texts if (version, t) not in _SEEN))
    if todo:
        if len(_SEEN) + len(todo) > _SEEN_MAX:
            _SEEN.clear()
        other = model.classes.index("other")
        for text, row in zip(todo, model.probabilities(todo), strict=True):
            _SEEN[version, text] = 1.0 - float(row[other])
    return [_SEEN[version, t] for t in texts]


def excerpt_threshold() -> float:
    """P(feedback) a line needs to stay in an excerpt; 0 turns excerpts off."""
    return get_settings().pipeline.llm_excerpt_threshold


def internal_speakers(metadata: Mapping[str, Any] | None) -> frozenset[str]:
    """Names of the organisation's own people in a call that also has external participants (their
    turns are left out of excerpts); empty for an internal meeting or a message that is not a call."""
    meta = metadata or {}
    internal: set[str] = set()
    external = False
    for party in meta.get("parties") or []:  # Gong
        if isinstance(party, Mapping) and isinstance(party.get("name"), str):
            affiliation = str(party.get("affiliation") or "").lower()
            if affiliation == "internal":
                internal.add(party["name"])
            elif affiliation == "external":
                external = True
    for invitee in meta.get("calendar_invitees") or []:  # Fathom
        if isinstance(invitee, Mapping) and isinstance(invitee.get("name"), str):
            if invitee.get("is_external") is False:
                internal.add(invitee["name"])
            elif invitee.get("is_external") is True:
                external = True
    return frozenset(internal) if external else frozenset()


def _speaker(line: str) -> str:
    return line.split(":", 1)[0].strip() if ":" in line else ""


@dataclass(frozen=True, slots=True)
class _ScoredLines:
    lines: list[str]
    probability: list[float]
    own: Collection[str]  # the organisation's own speakers (their turns are left out)

    def customer_line(self, index: int) -> bool:
        return bool(self.lines[index].strip()) and _speaker(self.lines[index]) not in self.own


def _scored(texts: Sequence[str], internal: Sequence[Collection[str]] | None) -> dict[int, _ScoredLines]:
    """The lines of each long multi-line text with their P(feedback) (0 for a blank line), scored in
    one model call: a line's score depends on its own text only, never on the texts around it.
    The organisation's own speakers' turns are scored too: a digest falls back on them, by
    probability, when a call's customers said too little to fill it."""
    candidates: dict[int, _ScoredLines] = {}
    for index, text in enumerate(texts):
        if len(text) >= EXCERPT_MIN_CHARS:
            lines = text.split("\n")
            if len(lines) > EXCERPT_MIN_LINES:
                own = internal[index] if internal is not None else ()
                candidates[index] = _ScoredLines(lines, [0.0] * len(lines), own)
    asked = [(scored, i) for scored in candidates.values() for i, line in enumerate(scored.lines) if line.strip()]
    for (scored, i), p in zip(asked, feedback_probabilities([s.lines[i] for s, i in asked]), strict=True):
        scored.probability[i] = p
    return candidates


def _join(lines: list[str], keep: set[int]) -> str:
    pieces: list[str] = []
    for i, line in enumerate(lines):
        if i in keep:
            pieces.append(line)
        elif not pieces or pieces[-1] != EXCERPT_GAP:
            pieces.append(EXCERPT_GAP)
    return "\n".join(pieces)


def feedback_excerpts(
    texts: Sequence[str],
    internal: Sequence[Collection[str]] | None = None,
    threshold: float | None = None,
) -> list[str]:
    """Each text, or its excerpt when it is long and multi-line (see the module docstring).
    `internal[i]` names the organisation's own speakers of text i (`internal_speakers`).

    A text whose excerpt would not be shorter than it is returned unchanged."""
    limit = excerpt_threshold() if threshold is None else threshold
    out = list(texts)
    if limit <= 0:
        return out
    for index, scored in _scored(texts, internal).items():
        lines, probability = scored.lines, scored.probability
        keep = {i for i, p in enumerate(probability) if p >= limit and scored.customer_line(i)}
        if len(keep) < EXCERPT_MIN_LINES:
            ranked = sorted(range(len(lines)), key=lambda i: (-probability[i], i))
            keep |= {i for i in ranked[:EXCERPT_MIN_LINES] if lines[i].strip()}
        excerpt = _join(lines, keep)
        if len(excerpt) < len(texts[index]):
            out[index] = excerpt
    return out


def digest_chars() -> int:
    """Characters of a call's tier-1 digest (HEADWAY_TIER1_DIGEST_CHARS); 0 turns digests off."""
    return get_settings().pipeline.tier1_digest_chars


def feedback_digests(
    texts: Sequence[str], internal: Sequence[Collection[str]] | None = None, chars: int | None = None
) -> list[str | None]:
    """For tier-1: each long multi-line text as one item of at most about `chars` characters, its
    customers' lines the local model finds most likely feedback, in their order, `[...]` between
    them; None for a text that is chunked as before (short, not multi-line, or digests off).

    Tier-1 decides whether a call goes to tier-2 by the strongest feedback in it. On the demo
    corpus (offline answers through the fake server) 3,000 characters of a call's best lines cost
    half the five 1,200-character windows spread over it and keep 245 of its 250 mentions; 1,500
    kept 224 (docs/benchmarks.md, batch-vs-live)."""
    out: list[str | None] = [None] * len(texts)
    chars = digest_chars() if chars is None else chars
    if chars <= 0:
        return out
    for index, scored in _scored(texts, internal).items():
        lines, probability = scored.lines, scored.probability
        ranked = sorted(
            (i for i in range(len(lines)) if lines[i].strip()),
            key=lambda i: (not scored.customer_line(i), -probability[i], i),
        )
        keep: set[int] = set()
        used = 0
        for i in ranked:
            if keep and used + len(lines[i]) > chars:
                continue
            keep.add(i)
            used += len(lines[i]) + len(EXCERPT_GAP) + 2
            if used >= chars:
                break
        out[index] = _join(lines, keep)[: chars + len(EXCERPT_GAP) * 8]
    return out


@dataclass(frozen=True, slots=True)
class FirstPassLabel:
    """A message the local model labelled on its own: not feedback, with its P(not feedback)."""

    p_not_feedback: float


def first_pass_thresholds(conn: Connection, org_ids: Collection[int], provider: str) -> dict[int, float]:
    """Each organisation's first-pass threshold with `provider`, by the kernel's rule
    (`core.org_settings.applied_first_pass_threshold`, which the read API shows): its own setting,
    else HEADWAY_LOCAL_FIRST_PASS_THRESHOLD (0 = off: every message goes to the hosted model); off
    with the offline provider."""
    default = get_settings().pipeline.local_first_pass_threshold
    rows = conn.execute(select(Organization.id, Organization.settings).where(Organization.id.in_(list(org_ids))))
    return {
        int(org_id): float(
            applied_first_pass_threshold(provider, (settings or {}).get(FIRST_PASS_SETTING), default).value
        )
        for org_id, settings in rows
    }


def first_pass(texts: Sequence[str], thresholds: Sequence[float]) -> list[FirstPassLabel | None]:
    """For each text, a local label when P(not feedback) >= its threshold (a threshold of 0 or
    less is off), else None (the hosted model decides). Texts are clipped as the model clips them."""
    out: list[FirstPassLabel | None] = [None] * len(texts)
    asked = [i for i, threshold in enumerate(thresholds) if 0 < threshold <= 1]
    if not asked:
        return out
    probabilities = feedback_probabilities([texts[i] for i in asked])
    for i, p_feedback in zip(asked, probabilities, strict=True):
        p_not = 1.0 - p_feedback
        if p_not >= thresholds[i]:
            out[i] = FirstPassLabel(p_not_feedback=p_not)
    return out


__all__ = [
    "EXCERPT_GAP",
    "FIRST_PASS_PROVIDER",
    "FIRST_PASS_SETTING",
    "LOCAL_MODEL",
    "FirstPassLabel",
    "digest_chars",
    "feedback_digests",
    "feedback_excerpts",
    "feedback_probabilities",
    "first_pass",
    "first_pass_thresholds",
    "internal_speakers",
    "local_model",
    "saves_tokens",
]
