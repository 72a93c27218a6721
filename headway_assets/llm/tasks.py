"""The four AI tasks: their fixed prompts, prompt versions, output schemas and request builders.

A prompt version is part of every cache key: change a prompt, bump its version, and the
next run re-labels; leave it alone and re-runs cost nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

# The task names live in the kernel's provider catalogue (the read API reads it too); re-exported.
from headway_assets.core.llm_catalogue import CALL, INSIGHT, MATCH, TIER1, TIER2
from headway_assets.llm.providers.base import LlmRequest
from headway_assets.llm.schemas import CallInsightBatch, InsightBatch, MatchBatch, MentionBatch, Tier1Batch

# Score at which a match answer links a mention to a catalogue request: the catalogue applies it,
# and the offline matcher calibrates its scale so that "same request" lands here.
AI_MATCH = 0.75

PROMPT_VERSIONS: dict[str, str] = {
    TIER1: "tier1-v2",  # v2: a long call comes as one excerpt of its likeliest feedback lines
    # v2: the whole relevant message, not its relevant chunks; v3: titles name the ask, never the complaint
    # v4: long calls come as excerpts (the lines the local model finds possibly feedback, [...] between)
    # v5: also the listed competitors each item names, with context and quote (issue 16 item 4)
    # v6: the competitors as one list per answer with item ids, not an (often empty) list per item
    TIER2: "tier2-v6",
    INSIGHT: "insight-v1",
    MATCH: "match-v3",  # v2: many asks per call, complaint to request, languages, sub-themes; v3: also_same
    CALL: "call-v2",  # v2: several calls per request, at most two reasons per level, short quotes
}

TIER1_SYSTEM = """\
You are Headway's feedback triage model. Companies connect their customer conversations \
(shared Slack channels, support mailboxes, sales and success call transcripts, recorded \
meetings) and you decide, for each item, whether it is product feedback and of which kind.

Categories (choose exactly one per item):
- feature_request: the customer asks for something the product does not do yet, or for a \
change to how it works ("can you add...", "we need a way to...", "it would be great if...", \
"is X on the roadmap?").
- bug_report: something is broken or behaves wrongly: errors, crashes, wrong numbers, \
timeouts, things that used to work and stopped ("the export fails", "since the update...").
- pain_point: friction, frustration or a complaint without a concrete ask or a defect: slow, \
confusing, too many clicks, hard to find, too expensive for what it does, churn risk.
- praise: the customer says something specific works well or they love a feature.
- question: a how-do-I or does-it question about using the product (not a request in disguise: \
"is there a way to X?" where X does not exist is a feature_request).
- other: not product feedback at all: greetings, thanks, scheduling, pricing logistics, \
invoices, out-of-office replies, bot notifications, newsletters, small talk, internal chatter.

is_feedback is true for every category except other.

relevance (integer 0-10) says how useful the item is to a product manager:
- 0-1: noise (greetings, scheduling, bots, automated mail).
- 2-3: about the product but carrying no signal (a thank-you, a vague "looks good").
- 4-5: weak or vague feedback, or a routine how-do-I question.
- 6-7: clear feedback a product manager would want to read: a concrete ask, bug or complaint.
- 8-10: strong, specific, actionable feedback: a concrete ask with its reason or impact, a \
reproducible bug, a complaint that names a churn or revenue risk.
Items scoring 6 or more are read by a second, more expensive model, so do not inflate scores.

confidence (0-1) is how sure you are of the category.

Rules:
- Judge each item on its own text; items of one request are unrelated to each other.
- Text may be in any language; classify it the same way.
- Transcripts and long emails may mix small talk with feedback: classify by the strongest \
feedback the item contains.
- A long call may come as an excerpt: the lines most likely to hold feedback, in order, with \
[...] where lines were left out.
- Quoted earlier replies and signatures have been removed; a bare "+1" or "same here" on a \
request counts as that request with low relevance (4).
- Return one label for every item id you were given, and no others.
"""

TIER2_SYSTEM = """\
You are Headway's feedback analyst. You read one customer conversation item that was already \
judged to contain product feedback, and you extract every distinct product ask in it as a \
structured mention.

You may be given several items at once, each with its own id and context; they are unrelated.
Answer every item id you were given (with an empty mention list when an item holds no ask).

For each ask:
- title: what is wanted, as a product manager would file it: a short imperative or noun \
phrase of the capability or fix ("Retry failed appointment reminders", "Export dashboards to \
PDF", "Support SSO with Okta", "Faster report loading"), at most about eight words, in \
English whatever the item's language. Name the ask, never the complaint: not "Reminders keep \
failing" or "Onboarding is painful" but "Retry failed appointment reminders", "Guided \
onboarding for new analysts". For a bug, name what must work ("Fix PDF export timeouts"). \
No customer names.
- description: one or two sentences of what is asked.
- problem_statement: the problem or job behind the ask, if stated.
- desired_outcome: what success would look like for the customer, if stated.
- kind: feature_request (new capability), improvement (change to an existing one), \
bug_report (something broken) or pain_point (friction without a concrete ask).
- urgency: low, medium, high or critical (critical only for outages, data loss, or an \
explicit churn or deal risk).
- sentiment: positive, neutral or negative, as the customer feels about this point.
- theme and sub_theme: the best match from the organisation's taxonomy given below, by \
path exactly as written; null when nothing fits.
- evidence_quote: copy, character for character, the shortest passage of the item (one to \
three sentences) that supports the ask. It must be an exact substring of the item: no \
paraphrase, no ellipsis, no added quotation marks.

A long call may come as an excerpt: its lines that may hold feedback, in order, with [...] where \
lines were left out. Never quote across [...].

Extract nothing from greetings, scheduling or small talk. Merge repeats of the same ask within \
the item into one mention. Return an empty list when the item holds no product ask after all.

competitors (one list beside items): when the organisation lists competitors (after its \
taxonomy), each item's mentions of them: id (the item's), competitor (its listed name, also for \
an alias), context (switching_from: the customer left or is leaving it for us; switching_to: \
considering or choosing it over us; comparison: a capability compared; pricing: price or cost \
compared; other) and evidence_quote (verbatim, as above). One entry per item, competitor and \
context; only listed competitors; empty when none.
"""

INSIGHT_SYSTEM = """\
You summarise customer conversation items for a product manager's feed. Several unrelated items
may come at once, each with its own id and context; answer every id, each on its own.
- summary: one sentence (at most 40 words) saying what the customer said about the product, \
naming the customer's company when it is given.
- sentiment: positive, neutral or negative overall towards the product.
- key_topics: two to five short topic phrases (product areas, features, integrations).
"""

MATCH_SYSTEM = """\
You maintain a de-duplicated catalogue of feature requests. You get several new customer asks \
at once, each with its own id and its own short list of candidate catalogue requests (by id, \
from the list of existing requests given first). For each ask decide whether it is the SAME \
request as one of ITS candidates: the same capability or fix, even when worded differently, \
asked by another customer, or filed under another sub-theme. The asks are unrelated to each \
other; judge each against its own candidates only.

- A complaint and a request for the same capability are the same ask: "Reminders keep failing \
and no-shows doubled" is the request "Retry failed appointment reminders"; "Onboarding new \
analysts is painful" is "Guided onboarding for new analysts". Match the capability the \
customer needs, not the wording, the tone or the kind (bug, pain point, request).
- Compare meaning across languages: an ask in German, French, Spanish or any other language \
is the same request as its English equivalent.
- Candidates from other sub-themes (or themes) may be the same ask: taxonomies overlap and \
people file the same need in different places. Do not reject a candidate for its sub-theme.
- A candidate's examples are how other customers put the same request; use them.
- Asks that are merely related (same area, different capability, another vendor, another \
format, a different report) are NOT the same request: "Okta SSO" is not "Azure AD SSO", \
"Export to PDF" is not "Export to CSV".

Answer every ask id you were given, and no others: candidate_id is the id of the matching \
candidate (one of that ask's candidates), or null when none is the same request; score is \
from 0 to 1 (1 = certainly the same request; 0.75 or more means same), for a null answer the \
score of the closest candidate. also_same lists the ask's OTHER candidates that are the \
same request as well (the catalogue kept them apart; it merges them); leave it empty \
otherwise.
"""


@dataclass(frozen=True)
class Tier1Input:
    """One text to label (a message or a chunk of one), identified by a request-local id."""

    id: str
    text: str


@dataclass(frozen=True)
class Tier2Input:
    """One relevant message (or chunk) to extract asks from."""

    text: str
    source: str
    customer: str | None
    title: str | None
    taxonomy: tuple[tuple[str, str], ...]  # (path, name) of every theme and sub-theme
    # (name, aliases) of the organisation's competitors: tier-2 records the ones an item names.
    competitors: tuple[tuple[str, tuple[str, ...]], ...] = ()


@dataclass(frozen=True)
class InsightInput:
    """One relevant message to summarise."""

    text: str
    source: str
    customer: str | None
    mention_titles: tuple[str, ...]


@dataclass(frozen=True)
class MatchCandidate:
    """A catalogue request (or an earlier new mention of the same run) offered as a possible match."""

    id: str
    title: str
    description: str
    theme: str | None = None
    sub_theme: str | None = None
    # How other mentions of this request put it (their titles, at most a few): the same ask is
    # often worded as a complaint in one message and as a request in another.
    examples: tuple[str, ...] = ()


@dataclass(frozen=True)
class MatchInput:
    """A new mention and the catalogue requests it might be the same ask as."""

    title: str
    description: str
    sub_theme: str | None
    candidates: tuple[MatchCandidate, ...]
    theme: str | None = None
    quote: str = ""  # the mention's verbatim evidence
    kind: str = ""  # feature_request | bug_report | pain_point | ...


def _xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def tier1_request(items: list[Tier1Input]) -> LlmRequest:
    """One tier-1 call labelling every item of `items`."""
    body = "\n".join(f'<item id="{item.id}">\n{_xml_escape(item.text)}\n</item>' for item in items)
    user = f"Label each of these {len(items)} items.\n\n{body}"
    return LlmRequest(
        task=TIER1,
        prompt_version=PROMPT_VERSIONS[TIER1],
        system=TIER1_SYSTEM,
        user=user,
        output_model=Tier1Batch,
        payload=items,
        max_tokens=120 + 60 * len(items),
    )


def _context_attributes(context: dict[str, Any]) -> str:
    return " ".join(f'{key}="{_xml_escape(str(value))}"' for key, value in context.items() if value)


def _item_block(item_id: str, text: str, context: dict[str, Any]) -> str:
    return f'<item id="{item_id}" {_context_attributes(context)}>\n{text}\n</item>'


TAXONOMY_HEADING = "Taxonomy of this organisation"  # the fake servers' responder finds the taxonomy by it
COMPETITORS_HEADING = "Competitors of this organisation"  # and the competitor list by this
# The prompt lists at most this many competitors and aliases each: a short block, however long the list.
PROMPT_COMPETITORS = 40
PROMPT_ALIASES = 5


def competitors_block(competitors: tuple[tuple[str, tuple[str, ...]], ...]) -> str:
    """The organisation's competitors as the tier-2 context lists them ("" when it has none)."""
    if not competitors:
        return ""
    lines = [
        f"- {name}: {', '.join(aliases[:PROMPT_ALIASES])}" if aliases else f"- {name}"
        for name, aliases in competitors[:PROMPT_COMPETITORS]
    ]
    return f"\n\n{COMPETITORS_HEADING} (name: aliases):\n" + "\n".join(lines)


def tier2_request(items: list[tuple[str, Tier2Input]]) -> LlmRequest:
    """One tier-2 extraction call for items of one organisation (they share its taxonomy)."""
    taxonomy = "\n".join(f"- {path}: {name}" for path, name in items[0][1].taxonomy) or "(no taxonomy configured)"
    body = "\n".join(
        _item_block(item_id, item.text, {"source": item.source, "customer": item.customer, "subject": item.title})
        for item_id, item in items
    )
    return LlmRequest(
        task=TIER2,
        prompt_version=PROMPT_VERSIONS[TIER2],
        system=TIER2_SYSTEM,
        # The organisation's taxonomy is the same in each of its calls: cached with the system prompt.
        # So are its competitors (one call holds one organisation's items: the engine groups by both).
        context=f"{TAXONOMY_HEADING} (path: name):\n{taxonomy}" + competitors_block(items[0][1].competitors),
        user=f"Extract the asks of these {len(items)} items.\n\n{body}",
        output_model=MentionBatch,
        payload=items,
        # Room for the asks of a long call as well as for many short messages' asks.
        max_tokens=min(16_000, 300 + 600 * len(items) + sum(len(item.text) for _, item in items) // 25),
    )


def insight_request(items: list[tuple[str, InsightInput]]) -> LlmRequest:
    """One per-message insight call for several messages."""
    body = "\n".join(
        _item_block(
            item_id,
            item.text,
            {"source": item.source, "customer": item.customer, "asks": "; ".join(item.mention_titles)},
        )
        for item_id, item in items
    )
    user = f"Summarise each of these {len(items)} items.\n\n{body}"
    return LlmRequest(
        task=INSIGHT,
        prompt_version=PROMPT_VERSIONS[INSIGHT],
        system=INSIGHT_SYSTEM,
        user=user,
        output_model=InsightBatch,
        payload=items,
        max_tokens=min(8000, 100 + 200 * len(items)),
    )


# A function of the candidate (a frozen value), shown to many asks of a run: made once. Callers
# only read the view (compare it, write it as JSON).
@lru_cache(maxsize=16_384)
def _candidate_view(candidate: MatchCandidate) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": candidate.id,
        "title": candidate.title,
        "description": candidate.description,
        "theme": candidate.theme,
        "sub_theme": candidate.sub_theme,
        "examples": list(candidate.examples),
    }
    return {key: value for key, value in view.items() if value or key in ("id", "title")}


def match_request(items: list[tuple[str, MatchInput]]) -> LlmRequest:
    """One catalogue-matching call judging several new asks, each against its own candidates.

    A candidate offered to several asks of the call is written once, in the shared list of
    existing requests, and referred to by id; a candidate id that stands for different content
    in two asks (not expected) is written out in full inside each of them.
    """
    views: dict[str, list[dict[str, Any]]] = {}
    for _, item in items:
        for candidate in item.candidates:
            view = _candidate_view(candidate)
            seen = views.setdefault(candidate.id, [])
            if view not in seen:
                seen.append(view)
    shared = {cid: versions[0] for cid, versions in views.items() if len(versions) == 1}
    blocks = []
    for item_id, item in items:
        ask: dict[str, Any] = {
            "title": item.title,
            "description": item.description,
            "quote": item.quote,
            "kind": item.kind,
            "theme": item.theme,
            "sub_theme": item.sub_theme,
        }
        ask = {key: value for key, value in ask.items() if value or key == "title"}
        ask["candidates"] = [c.id if c.id in shared else _candidate_view(c) for c in item.candidates]
        blocks.append(f'<ask id="{item_id}">\n{json.dumps(ask, ensure_ascii=False)}\n</ask>')
    requests = "\n".join(json.dumps(view, ensure_ascii=False) for view in shared.values()) or "(none)"
    user = (
        f"Existing catalogue requests (one JSON object a line):\n<requests>\n{requests}\n</requests>\n\n"
        f"Decide for each of these {len(items)} new asks which of its candidates, if any, is the same request.\n\n"
        + "\n".join(blocks)
    )
    return LlmRequest(
        task=MATCH,
        prompt_version=PROMPT_VERSIONS[MATCH],
        system=MATCH_SYSTEM,
        user=user,
        output_model=MatchBatch,
        payload=items,
        max_tokens=100 + 60 * len(items),
    )


CALL_SYSTEM = """\
You are Headway's call analyst. You read sales or customer-success call transcripts (Gong or \
Fathom: one "Speaker: words" line per turn) between a software vendor and its customer, each item \
one call assessed on its own, and you judge three things per call, each low, medium or high:

- deal_risk: how likely an open deal, renewal or expansion under discussion slips, shrinks or is \
lost: budget pushback, price objections, competitors being evaluated, decisions on hold, more \
approvers, procurement or security hurdles.
- churn_risk: how likely this customer stops using the product or leaves: talk of cancelling, not \
renewing, switching vendors, lost trust, outages or bugs hurting them, low adoption, unused \
licences, a frustrated champion.
- expansion_potential: how likely they buy more: more seats, more teams or departments, a higher \
plan, new use cases, wanting to roll it out more widely.

Judge what the customer's people say and do, not the vendor's pitch. low is the normal answer \
for a call without signals; medium needs at least one clear signal; high needs a strong or \
repeated one (an explicit threat to cancel, a competitor chosen, a budget cut; an explicit plan \
to add seats or teams).

For every medium or high level give one or two reasons (the strongest): a short sentence each, \
with a short quote copied character for character from the transcript (an exact substring of one \
line, the one sentence or clause that shows it, at most about 25 words, without the speaker's name, no paraphrase, no \
ellipsis, no added quotation marks). Never quote across [...] (lines left out of a long call). A \
low level has no reasons.

next_steps: the follow-ups someone committed to on the call ("I'll send...", "let's book...", \
"we'll review internally..."), at most six: a short action, who owns it (vendor: a speaker listed \
as the vendor's; customer: anyone else; unknown), and the short verbatim quote. None when nothing \
was agreed.

Answer every item id you were given.
"""


@dataclass(frozen=True)
class CallInput:
    """One call transcript (or its excerpt) to assess, with the vendor's own speakers named."""

    text: str
    source: str
    customer: str | None
    title: str | None
    internal_speakers: tuple[str, ...] = ()  # the organisation's own people on the call


def call_request(items: list[tuple[str, CallInput]]) -> LlmRequest:
    """One call-intelligence request for several calls (`batch_items[CALL]` of them at most)."""
    body = "\n".join(
        _item_block(
            item_id,
            item.text,
            {
                "source": item.source,
                "customer": item.customer,
                "subject": item.title,
                "vendor_speakers": "; ".join(item.internal_speakers),
            },
        )
        for item_id, item in items
    )
    return LlmRequest(
        task=CALL,
        prompt_version=PROMPT_VERSIONS[CALL],
        system=CALL_SYSTEM,
        user=f"Assess each of these {len(items)} calls.\n\n{body}",
        output_model=CallInsightBatch,
        payload=items,
        max_tokens=min(8000, 900 * len(items) + 200),
    )
