"""The offline provider's call intelligence: honest cue-phrase heuristics, no model.

A call transcript is a "Speaker: words" line per turn. Each customer sentence (a line whose
speaker is not one of the organisation's own people) is matched against short lists of cue
phrases written from common sales and customer-success vocabulary:

- churn risk: cancelling, not renewing, switching vendors, lost trust, falling back to the old
  process (strong); frustration, pain, renewal pushback, competitors demoing, unused licences,
  outages (weak);
- deal risk: budget cut or freeze, on hold, another vendor chosen (strong); over budget,
  other vendors evaluated, price objections, procurement, asking for flexibility (weak);
- expansion potential: more seats or licences, upgrades, rolling it out more widely, the whole
  company or the rest of a team (strong); expanding, new teams or use cases (weak).

A strong cue counts 2, a weak one 1; a dimension is high at 3 or more, medium at 1 or 2, low at 0,
and its reasons quote the matched sentences verbatim. Next steps are sentences of any speaker with
a commitment phrase ("I'll send", "let's book", "we'll review internally"). This reads words, not
meaning: a negation ("we are not thinking of cancelling") counts as a cue, and a signal worded
without any listed phrase is missed. docs/quality.md measures it on a labelled set of demo calls.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from headway_assets.llm.schemas import CallAssessment, CallInsightDraft, CallNextStep, CallReason, RiskLevel
from headway_assets.llm.tasks import CallInput

Owner = Literal["vendor", "customer", "unknown"]
STRONG = 2
WEAK = 1
HIGH_AT = 3
MAX_REASONS = 2  # as the call schema allows (llm/schemas.py `CallAssessment`)
MAX_NEXT_STEPS = 6
MIN_QUOTE = 8
MAX_QUOTE = 400
# What an answer quotes and names at most (the prompt asks for short quotes; a prefix of a sentence,
# cut at a word, is still verbatim): answers are most of a call's cost once several share a request.
SHORT_QUOTE = 160
SHORT_ACTION = 80


@dataclass(frozen=True, slots=True)
class Cue:
    """A phrase pattern (on lower-cased text with straight apostrophes), its weight and the reason it gives."""

    pattern: re.Pattern[str]
    weight: int
    reason: str


def _cue(pattern: str, weight: int, reason: str) -> Cue:
    return Cue(re.compile(pattern), weight, reason)


CHURN_CUES: tuple[Cue, ...] = (
    _cue(r"\bcancel(?:l?ing|l?ed)?\b", STRONG, "The customer talks about cancelling."),
    _cue(r"\b(?:not|won't|will not|don't plan to|may not) renew", STRONG, "The customer may not renew."),
    _cue(r"\bchurn", STRONG, "The customer raises churn."),
    _cue(
        r"\bswitch(?:ing)? (?:over )?to\b|\bmov(?:e|ing) to (?:another|a different)\b",
        STRONG,
        "The customer talks about switching.",
    ),
    _cue(r"\b(?:lose|losing|lost) (?:trust|confidence)\b", STRONG, "The customer is losing trust in the product."),
    _cue(r"\b(?:fall|falling|fell) back to (?:our|the) old\b", STRONG, "The customer fell back to their old process."),
    _cue(
        r"\b(?:looking at|evaluating|considering) (?:other|alternative)",
        STRONG,
        "The customer is evaluating alternatives.",
    ),
    _cue(r"\bterminat(?:e|ing)\b", STRONG, "The customer mentions terminating."),
    _cue(r"\bfrustrat", WEAK, "The customer is frustrated."),
    _cue(r"\bpainful\b|\bpain\b", WEAK, "The customer describes something painful."),
    _cue(r"\bpush(?:es|ing)? back on the renewal\b", WEAK, "The renewal meets internal pushback."),
    _cue(r"\bcompetitors? (?:are|is) (?:demoing|pitching|offering)", WEAK, "Competitors are courting the customer."),
    _cue(r"\bdisappoint", WEAK, "The customer is disappointed."),
    _cue(r"\bnot worth\b|\btoo expensive\b", WEAK, "The customer questions the value."),
    _cue(r"\bhaven't been used\b|\bunused licen", WEAK, "Licences go unused."),
    _cue(
        r"\bkeeps? (?:failing|breaking|crashing)\b|\bunusable\b|\boutage\b|\bdowntime\b",
        WEAK,
        "Reliability problems hurt the customer.",
    ),
)
DEAL_CUES: tuple[Cue, ...] = (
    _cue(r"\b(?:no|zero) budget\b|\bbudget (?:freeze|cut|is frozen)\b", STRONG, "The customer has no budget."),
    _cue(r"\bon hold\b", STRONG, "The decision is on hold."),
    _cue(
        r"\bgo(?:ing)? with (?:another|a different|the other) (?:vendor|tool|provider)\b",
        STRONG,
        "Another vendor may win.",
    ),
    _cue(r"\bnot (?:moving|going) forward\b", STRONG, "The customer is not moving forward."),
    _cue(
        r"\b(?:higher|more) than we budgeted\b|\bover (?:our )?budget\b",
        WEAK,
        "The price is over the customer's budget.",
    ),
    _cue(
        r"\bother vendors?\b|\btalked to (?:two|three|a few|some) others\b|\banother vendor\b",
        WEAK,
        "Other vendors are being evaluated.",
    ),
    _cue(r"\bflexibility on\b|\bdiscount\b", WEAK, "The customer negotiates on price or terms."),
    _cue(r"\bprice increase\b|\block the price\b", WEAK, "The customer objects to the price."),
    _cue(r"\bprocurement\b", WEAK, "Procurement must approve."),
    _cue(r"\bstart smaller\b", WEAK, "The customer wants to start smaller."),
    _cue(r"\bcompetitors?\b", WEAK, "Competitors are in the picture."),
    _cue(r"\bpush(?:es|ing)? back\b", WEAK, "Someone on the customer's side pushes back."),
    _cue(r"\bthe one thing stopping\b", WEAK, "A missing capability blocks the decision."),
)
EXPANSION_CUES: tuple[Cue, ...] = (
    _cue(
        r"\b(?:add|adding|buy|more|extra|additional) (?:\w+ )?(?:seats|licen[cs]es|users)\b",
        STRONG,
        "The customer wants more seats.",
    ),
    _cue(r"\bupgrad(?:e|ing)\b", STRONG, "The customer talks about upgrading."),
    _cue(r"\broll (?:it )?out (?:much )?(?:more widely|to)\b", STRONG, "The customer would roll it out more widely."),
    _cue(
        r"\b(?:whole|entire) (?:company|organisation|organization|org)\b", STRONG, "A company-wide rollout is in view."
    ),
    _cue(r"\brest of the (?:\w+ )*team\b", STRONG, "The customer wants to bring on the rest of a team."),
    _cue(r"\bexpand", WEAK, "The customer mentions expanding."),
    _cue(
        r"\bmore (?:teams|departments)\b|\bnew (?:team|department|use case)s?\b",
        WEAK,
        "New teams or use cases are in view.",
    ),
    _cue(r"\brely on it\b|\bpays for itself\b", WEAK, "The customer sees strong value."),
)
NEXT_STEP_CUE = re.compile(
    r"\b(?:i'll|i will|we'll|we will|let's) (?:send|share|put|loop|get|forward|open|take|book|schedule|"
    r"set up|follow up|review|check|circle back|update|add|write)\b|\bsend the invite\b|\bfollow-up\b"
)
_NEXT_STEP_SUBJECT = re.compile(r"^(?:i['\u2019]ll|i will|we['\u2019]ll|we will|let['\u2019]s)\s+", re.IGNORECASE)
_SPEAKER = re.compile(r"^([^:\n]{1,80}):\s")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def _fold(text: str) -> str:
    """`text` as the cue patterns read it: lower-cased, straight apostrophes."""
    # Two replaces, not str.translate with a dict: the same string, a tenth of the time per sentence.
    return text.replace("\u2019", "'").replace("\u2018", "'").lower()


def _clip(text: str, limit: int) -> str:
    """`text` if it fits in `limit` characters, else its longest prefix that ends before a space and fits."""
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", MIN_QUOTE, limit + 1)
    return text[:cut] if cut > 0 else text[:limit]


def _sentences(text: str) -> list[tuple[str, str]]:
    """(speaker, sentence) of every sentence of every speaker line; each sentence a verbatim substring."""
    out: list[tuple[str, str]] = []
    for line in text.split("\n"):
        match = _SPEAKER.match(line)
        speaker = match.group(1).strip() if match else ""
        body = line[match.end() :] if match else line
        for sentence in _SENTENCE_END.split(body.strip()):
            if len(sentence) >= MIN_QUOTE:
                out.append((speaker, sentence[:MAX_QUOTE]))
    return out


def _any_of(cues: tuple[Cue, ...]) -> re.Pattern[str]:
    """One pattern matching wherever any of `cues` does (each alternative is a cue's own pattern, so
    it finds a match exactly when one of them would): a sentence it misses needs no cue tried."""
    return re.compile("|".join(f"(?:{cue.pattern.pattern})" for cue in cues))


def _assess(sentences: list[tuple[str, str]], cues: tuple[Cue, ...], any_cue: re.Pattern[str]) -> CallAssessment:
    """The level and reasons of one dimension from (sentence, folded sentence) pairs; `any_cue` is
    `_any_of(cues)`."""
    hits: list[tuple[int, int, Cue, str]] = []
    for position, (sentence, folded) in enumerate(sentences):
        # Most sentences hold no cue: one search says so, instead of one per cue.
        if any_cue.search(folded) is None:
            continue
        for cue in cues:
            if cue.pattern.search(folded):
                hits.append((cue.weight, position, cue, sentence))
                break  # one cue per sentence: a sentence is one piece of evidence
    score = sum(weight for weight, *_ in hits)
    level: RiskLevel = "high" if score >= HIGH_AT else "medium" if score else "low"
    reasons: list[CallReason] = []
    seen: set[str] = set()
    for _weight, _position, cue, sentence in sorted(hits, key=lambda hit: (-hit[0], hit[1])):
        if sentence in seen or len(reasons) == MAX_REASONS:
            continue
        seen.add(sentence)
        reasons.append(CallReason(reason=cue.reason, quote=_clip(sentence, SHORT_QUOTE)))
    return CallAssessment(level=level, reasons=reasons)


def _next_steps(sentences: list[tuple[str, str, str]], internal: frozenset[str]) -> list[CallNextStep]:
    steps: list[CallNextStep] = []
    for speaker, sentence, folded in sentences:
        match = NEXT_STEP_CUE.search(folded)
        if match is None:
            continue
        action = sentence[match.start() :].strip().rstrip(".!?")
        # The cue matched the folded sentence; the action is cut from the verbatim one, whose
        # apostrophes may be curly ("I\u2019ll"), so the subject is stripped with either.
        action = _NEXT_STEP_SUBJECT.sub("", action) or sentence
        owner: Owner = "vendor" if speaker in internal else "customer" if internal and speaker else "unknown"
        action = _clip(action if len(action) >= 3 else sentence, SHORT_ACTION)
        steps.append(CallNextStep(action=action, owner=owner, quote=_clip(sentence, SHORT_QUOTE)))
    return steps[-MAX_NEXT_STEPS:]  # the wrap-up of a call is where its follow-ups are agreed


_ANY_CHURN_CUE = _any_of(CHURN_CUES)
_ANY_DEAL_CUE = _any_of(DEAL_CUES)
_ANY_EXPANSION_CUE = _any_of(EXPANSION_CUES)
# Each dimension's cues, in the order they are tried, with the one search that says whether any of
# them can match (public so a test can hold the combined search to the cues one by one).
CALL_CUES: dict[str, tuple[tuple[Cue, ...], re.Pattern[str]]] = {
    "churn": (CHURN_CUES, _ANY_CHURN_CUE),
    "deal": (DEAL_CUES, _ANY_DEAL_CUE),
    "expansion": (EXPANSION_CUES, _ANY_EXPANSION_CUE),
}
# Any risk, expansion or next-step cue (`signal_lines`).
_ANY_SIGNAL = re.compile(
    "|".join(f"(?:{pattern.pattern})" for pattern in (_ANY_CHURN_CUE, _ANY_DEAL_CUE, _ANY_EXPANSION_CUE, NEXT_STEP_CUE))
)


def assess_call(item: CallInput) -> CallInsightDraft:
    """The heuristic call intelligence of one call transcript (see the module docstring)."""
    internal = frozenset(item.internal_speakers)
    # Each sentence folded once for the three dimensions and the next steps.
    sentences = [(speaker, sentence, _fold(sentence)) for speaker, sentence in _sentences(item.text)]
    customer = [(sentence, folded) for speaker, sentence, folded in sentences if speaker not in internal]
    return CallInsightDraft(
        deal_risk=_assess(customer, DEAL_CUES, _ANY_DEAL_CUE),
        churn_risk=_assess(customer, CHURN_CUES, _ANY_CHURN_CUE),
        expansion_potential=_assess(customer, EXPANSION_CUES, _ANY_EXPANSION_CUE),
        next_steps=_next_steps(sentences, internal),
    )


def signal_lines(text: str) -> set[int]:
    """Indices of the lines of `text` holding a risk, expansion or next-step cue (any speaker): what a
    hosted model is sent of a long call besides its likely feedback (see `assets/call_insights.py`)."""
    return {index for index, line in enumerate(text.split("\n")) if _ANY_SIGNAL.search(_fold(line))}
