"""Turning an ask sentence into a short, canonical, customer-free title.

"Could you please add SAML single sign-on through Okta? Our IT team insists." becomes
"SAML single sign-on through Okta"; "It would be great to download dashboards as PDF files"
becomes "Download dashboards as PDF files"; "Our Snowflake sync has been failing with a
timeout since Thursday" becomes "Snowflake sync failing with a timeout".

The rules are general English: relay lead-ins and quotations, greetings and fillers, request
scaffolding (in English, and the commonest German, French and Spanish forms), purpose and
reason clauses, comma splices and time adverbials are removed; what is left is trimmed to a
noun phrase or an imperative and capitalised. The clauses cut off are returned too, because
"so that ..." is the desired outcome and "because ..." the problem behind the ask.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Final

MAX_TITLE_CHARS: Final = 90
MIN_TITLE_CHARS: Final = 3

_FLAGS: Final = re.IGNORECASE | re.UNICODE

_EMOJI_CODE: Final = re.compile(r":[a-z0-9_+-]{2,40}:")
_MARKUP: Final = re.compile(r"[*_`~>#|]+")
_SPACES: Final = re.compile(r"\s+")
# Redaction's placeholders (core/pii.py writes `<KIND_N>`), and one held aside by `clean_sentence`.
_REDACTION_PLACEHOLDER: Final = re.compile(r"<[A-Z]+_\d+>")
_HELD_PLACEHOLDER: Final = re.compile("\ue000(\\d+)\ue001")
# Opening and closing quotation marks, and the text between them.
_QUOTED: Final = re.compile(r"[“„«\"‘]\s*(?P<body>[^“”„«»\"]{8,}?)\s*(?:[”»\"’]|$)")
_OPEN_QUOTE_ONLY: Final = re.compile(r"[“„«]\s*(?P<body>[^”»]{8,})$")
_CLOSE_QUOTE_ONLY: Final = re.compile(r"^(?P<body>[^“„«]{8,}?)\s*[”»]")
# "Heard on the call: ...", "Quick one: ...", "Feature request – ...": a short lead-in.
_LEAD_IN: Final = re.compile(r"^(?P<lead>[^:–—]{1,60}?)\s*(?::|\s[–—]\s)\s*(?P<rest>\S.{5,})$", re.UNICODE | re.DOTALL)

_FILLERS: Final = re.compile(
    r"^(?:(?:also|and|but|so|plus|honestly|frankly|basically|actually|seriously|anyway|btw|fyi|fwiw|ok|okay"
    r"|yeah|yes|well|oh|hmm|one more thing|another thing|random thought|quick one|quick question|seconding this"
    r"|same here|same|agreed|\+1(?: (?:on|for|to))?|plus one(?: (?:on|for))?|me too|ps|p\.s\.|again|right|now|then"
    r"|otherwise|in general|generally|overall"
    r"|to be honest|on that note|by the way|while i have you|while we're here|while we are here|hang on|hold on"
    r"|one sec|one second|heads up|fwiw|for what it's worth)\b[\s,:;!.…-]*)+",
    _FLAGS,
)
_GREETING: Final = re.compile(
    r"^(?:hi|hey|hello|dear|good (?:morning|afternoon|evening))\b(?:[ \t]+(?:all|team|folks|everyone|everybody"
    r"|there|guys|y'all|(?-i:@?[A-Z][\w.-]*(?:[ \t][A-Z][\w-]*)?)))?[ \t]*[,.!:]?\s*",
    _FLAGS,
)

_NICE = (
    r"(?:great|nice|good|awesome|helpful|useful|amazing|cool|handy|ideal|fantastic|brilliant|wonderful|valuable"
    r"|lovely|perfect|excellent|super|beneficial|convenient|a (?:huge |big |great |real )?(?:help|plus|win|bonus"
    r"|game[- ]changer))"
)
_ADD_VERB = (
    r"(?:add|adding|include|including|support|supporting|provide|providing|offer|offering|introduce|introducing"
    r"|implement|implementing|build|building|enable|enabling|get|getting|have|having|bring|bringing|integrate with"
    r"|expose|create|ship|release|consider|considering|look into)"
)
_SUBJECTS = r"(?:you|we|i|they|you guys|y'all|the team|your team|the devs|someone)"

# Applied repeatedly at the start of the working text until none matches.
_SCAFFOLDS: Final[tuple[re.Pattern[str], ...]] = tuple(
    re.compile(p, _FLAGS)
    for p in (
        r"^(?:feature (?:request|wish|idea|ask)|request|suggestion|idea|wish|enhancement|proposal|improvement"
        r"|bug(?: report)?|issue|problem)\s*[:\-–—]\s*",
        r"^(?:is|are) there (?:any |some |a |an )?(?:way|option|chance|plans?|possibility|setting|means) "
        r"(?:to|for|of)\s+",
        r"^any (?:plans?|chance|news|update|eta|timeline|progress|word|hope) (?:to|of|on|for|about)\s+",
        r"^(?:is|are) there (?:any |some |a |an )?(?=\w)",
        r"^(?:what are the )?chances? (?:of|for|to)\s+",
        rf"^(?:(?:could|can|would|will|might) {_SUBJECTS}|do you (?:think you could|mind))\s+"
        r"(?:please\s+|possibly\s+|maybe\s+|perhaps\s+|also\s+|ever\s+|kindly\s+|just\s+|somehow\s+)*",
        r"^(?:is it|would it be|will it be|is it ever going to be|would it ever be) possible (?:to|for us to"
        r"|for me to|for \w+ to)\s+",
        rf"^(?:it|that|this|which)(?:'d|’d| would| will| could| might)? (?:really |also |so |definitely |just )?be "
        rf"(?:really |so |very |super |incredibly |extremely )?{_NICE} (?:if|to|for|when)\s+"
        r"(?:(?:we|you|i|users|one|people|everyone) (?:could|can|were able to|would be able to|had|got)\s+)?",
        r"^(?:i|we)(?:'d|’d| would)? (?:really |definitely |also |very much |so much |just |still |absolutely "
        r"|badly |desperately |urgently )?(?:love|like|want|prefer|appreciate|need|require|miss)(?:s|ed)? "
        r"(?:to (?:see|have|get|be able to|request|ask for|suggest|propose)\s+|it if\s+|if\s+)?"
        r"(?:(?:you|we|i) (?:could|can|would|added|add|had)\s+)?",
        # "Our night shift would love a dark mode", "Our execs want the dashboard as a PDF".
        r"^(?:our|my|all our|their) (?:[\w'-]+\s+){1,2}(?:would |'d |’d )?(?:really |definitely |also |so |all )?"
        r"(?:love|like|want|wants|need|needs|appreciate|prefer)\s+(?:to (?:see|have|get)\s+)?(?!to\b)",
        r"^(?:would|'d|’d) (?:really |definitely |also |so )?(?:love|like|appreciate|welcome) "
        r"(?:to (?:see|have|get)\s+)?",
        r"^(?:please|pls|plz|kindly)[,!]?\s+(?:(?:could|can) you\s+)?",
        r"^(?:do|does) (?:you|it|the \w+|\w+) (?:already |currently |now )?(?:support|have|offer|integrate with"
        r"|work with|provide)\s+",
        r"^(?:how|what) about\s+",
        r"^(?:why not|maybe|perhaps)\s+",
        r"^(?:i|we) (?:really |also )?(?:wish|hope) (?:that )?(?:there (?:was|were|is|would be) |(?:you|it|we|i|"
        r"the \w+|\w+) (?:had|could|would|supported|offered|will)\s+)?",
        r"^(?:the |an |a )?(?:ability|option|possibility|way|setting|button|toggle|place) (?:to|for)\s+",
        r"^(?:allow|let|enable|help) (?:us|me|users?|people|admins?|customers?|everyone|staff|them|patients|"
        r"managers?) (?:to\s+)?",
        r"^make it (?:possible|easier|easy|simple) (?:to|for \w+ to)\s+",
        r"^(?:a way|some way|some kind of|some sort of|an option|a setting|native support|built-in support"
        r"|first-class support|proper support|support) (?:to|for|of)\s+",
        r"^(?:will|would|could) there (?:ever )?be (?:a |an |any |some )?",
        r"^(?:can|could) (?:we|i) (?:please )?(?:get|have)\s+",
        rf"^{_ADD_VERB}\s+(?=\S)",
        # German, French, Spanish request openings (the commonest forms only).
        r"^(?:gibt es (?:bald |schon |irgendwann )?(?:pläne für |plane fur |einen |eine |ein )?|könnt ihr "
        r"|könnten sie |können sie |wir (?:bräuchten|brauchen|hätten gerne|wünschen uns) (?:dringend )?"
        r"|es wäre (?:toll|schön|super|gut|praktisch),? wenn )",
        r"^(?:est-ce que |est-ce qu'|pourriez-vous |pouvez-vous |pourrais-tu |ce serait (?:génial|bien|super"
        r"|pratique|utile|top) (?:de pouvoir |de |d')|nous aimerions (?:pouvoir |avoir )?|j'aimerais (?:pouvoir "
        r"|avoir )?|on aimerait (?:pouvoir |avoir )?)",
        r"^(?:¿\s*)?(?:podrían |podrian |pueden |podrías |podrias |sería (?:genial|útil|bueno|ideal) (?:poder |tener "
        r"|que )?|nos gustaría (?:poder |tener |que )?|me gustaría (?:poder |tener |que )?)",
        r"^(?:ajouter|intégrer|proposer|añadir|anadir|agregar|incluir|hinzufügen|einbauen) "
        r"(?:la possibilité de |une option pour |una opción para |la opción de |la posibilidad de )?",
    )
)
# "Is dark mode planned?" -> "dark mode"; "Is Okta SSO on the roadmap?" -> "Okta SSO".
_ROADMAP_QUESTION: Final = re.compile(
    r"^(?:is|are) (?P<thing>.+?) (?:on (?:the|your) (?:roadmap|radar|list)|planned|coming(?: soon)?|in the works"
    r"|on the cards|something you(?:'re| are) (?:considering|planning|working on)|possible|supported|available"
    r"|an option|being worked on|going to (?:happen|be added|ship))\b.*$",
    _FLAGS,
)
# Modal questions with a non-pronoun subject: "Could scheduled reports post into Slack?"
_MODAL_LEAD: Final = re.compile(r"^(?:can|could|would|will|should|does|do|is|are)\s+(?=\w)", _FLAGS)
_LEADING_ARTICLE: Final = re.compile(
    r"^(?:the|a|an|our|my|your|their|this|that|these|those|some|proper|native|built-in|simple|basic)\s+",
    _FLAGS,
)
_LEADING_TIME: Final = re.compile(
    r"^(?:since|after|as of|ever since|starting|from|following) (?:the |last |this |our |your |yesterday's "
    r"|today's )?(?:\w+'s |\w+’s )?(?:weekend|week|update|release|upgrade|deploy(?:ment)?|change|migration"
    r"|morning|night|monday|tuesday|wednesday|thursday|friday|saturday|sunday|yesterday|today|time change"
    r"|clock change|outage|incident|new version)s?,?\s+",
    _FLAGS,
)
_EXPERIENCER: Final = re.compile(
    r"^(?:(?:i|we|users|people|they|customers|our users|our staff|the team)(?:'re|’re| are| am| keep| still)?"
    r" (?:keep |still |now |sometimes |often |always )?(?:getting|get|seeing|see|hitting|hit|having|have)(?! to\b)"
    r"|there (?:is|are|'s|’s))\s+",
    _FLAGS,
)
_AUXILIARY: Final = (
    (re.compile(r"\b(?:has|have) been (\w+ing)\b", _FLAGS), r"\1"),
    (re.compile(r"\b(?:keeps|keep|kept|started|starts|start) (\w+ing)\b", _FLAGS), r"\1"),
    (re.compile(r"\b(?:has|have) (stopped|started|broken)\b", _FLAGS), r"\1"),
    (re.compile(r"\b(?:seems|seem) to be\b", _FLAGS), "is"),
)

# Where a title ends: purpose, reason and contrast clauses, examples, asides.
_CLAUSE_CUTS: Final[tuple[re.Pattern[str], ...]] = tuple(
    re.compile(p, _FLAGS)
    for p in (
        r"\s*(?:;|\s[–—-]\s|:\s|\(\s*(?:we|our|i|e\.g\.|eg|i\.e\.|like|for|so|as)\b)",
        r",?\s+(?:so that|so we|so i|so our|so they|so it|so the|so people|so users|so everyone|because|cause"
        r"|'cause|since|as we|as our|as it|as they|as i|in order to|to avoid|otherwise|whereas|but|although"
        r"|though|even though|unless|except|ideally|preferably|e\.g\.|eg|i\.e\.|for example|for instance|like we"
        r"|just like|similar to|similar as|instead of|rather than|given that|now that|due to|thanks to|without)\b",
        r",?\s+(?:for (?:our|my|the rest of|all of|every|each|when|us|me|them|the whole)|every (?:time|month"
        r"|week|day|morning|quarter|night)|each (?:time|month|week|day)|all the time|at the moment|right now"
        r"|these days|any ?more|for us|for me|again|too|as well|asap|please|thanks|thank you|if possible"
        r"|when possible|if you can|in the future|at some point|someday|soon|already|anyway|though)\b",
        r",\s+(?:it|it's|it’s|its|this|that|they|we|i|you|our|there|which|who|and|but|so|half|nobody|everyone"
        r"|everything|not|or|then|now|plus|ideally|maybe|perhaps|otherwise|especially|mostly|really|honestly"
        r"|just|although|though|no)\b",
        r"\s+(?:would be|would make|would help|would save|would really|would definitely|would give|would let"
        r"|would allow|will be|is a must|is a blocker|is a dealbreaker|is a deal breaker|is needed|is required"
        r"|is essential|is critical|is important|is key|is a requirement|is a big deal|would go a long way"
        r"|could be|makes? (?:a|all the) (?:huge |big )?difference|would be (?:great|nice|perfect))\b",
        r"\s*[?!]+(?:\s|$)",
        r"\.\s",
    )
)
_BUG_TAIL: Final = re.compile(
    r"\s+(?:since|after|as of|starting|for the (?:last|past)|over the (?:last|past)|last night|this morning"
    r"|yesterday(?!['’]s)|today(?!['’]s)|half the time|every (?:time|now and then)|sometimes|randomly|intermittently"
    r"|for (?:several|some|many|a few|two|three) \w+|again|on and off)\b.*$",
    _FLAGS,
)
_SOFT_TAIL: Final = re.compile(
    r"\s+(?:when|whenever|if|once|while|whilst|where)\b.*$",
    _FLAGS,
)
_DANGLING: Final = re.compile(
    r"(?:\s+(?:to|for|with|and|or|of|the|a|an|in|on|at|by|from|so|but|because|that|which|instead|really|please"
    r"|too|also|just|very|our|my|your|their|its|is|are|was|were|be|as|into|via|than|then|when|if|not|no|any"
    r"|some|all|it|this))+$",
    _FLAGS,
)
_TIME_CLAUSE: Final = re.compile(
    r"(?:since|as of) (?:the |last |this )?(?:\w+day|\w+'s|yesterday|today|weekend|week|month|morning|night|update"
    r"|release|upgrade|\d|january|february|march|april|may|june|july|august|september|october|november|december)"
)
# "When I share a link, the filters reset" -> "the filters reset when I share a link".
_FRONT_CONDITION: Final = re.compile(
    r"^(?P<cond>(?:when|whenever|if|every time|each time|after|once)\s[^,]{3,80}?),\s+(?P<main>\S.{5,})$", _FLAGS
)
_MISSING: Final = re.compile(
    r"(?:there(?:'s|’s| is| are) no|no way to|(?:doesn't|does not|don't|do not|can't|cannot) (?:support|offer|have)"
    r"|lack of|missing|without (?:a|an|any))\s+(?:a |an |any |proper |native |built-in )?(?P<thing>[^,;.!?]{3,80})",
    _FLAGS,
)
_FAILURE: Final = re.compile(
    r"\b(?:fails?|failing|failed|broken|breaks|crash(?:es|ing)?|errors?|times? out|timed out|timing out|stopped"
    r"|doesn't work|does not work|isn't working|not working|wrong|missing|lost|stuck|hangs?|freezes?)\b",
    _FLAGS,
)
_STRAY_QUOTES: Final = re.compile(r"(?<![\w])['‘’\"]|['‘’\"](?![\w])")
_SHORT_TAIL: Final = re.compile(r",\s*(?:\S+\s*){1,2}$")
_EDGE_PUNCT: Final = " \t\n.,;:!?¿¡-–—…\"'“”‘’«»()[]{}*_~`"


@dataclass(frozen=True, slots=True)
class TitleParts:
    """A title and the clauses cut off on the way (reason, purpose), for the mention's other fields."""

    title: str
    core: str
    reason: str | None
    purpose: str | None


def clean_sentence(text: str, *, symbols_as_breaks: bool = False) -> str:
    """One-line, markup-free text: emoji codes and markdown marks removed, whitespace collapsed.

    With `symbols_as_breaks`, an emoji between words ends a clause ("a dark theme 🌙 Happy to
    help" -> "a dark theme. Happy to help"), which is what titles need. Redaction's placeholders
    ("<EMAIL_1>") are kept whole: their `<`, `_` and `>` are not markup.
    """
    if "<" in text and _REDACTION_PLACEHOLDER.search(text):
        kept: list[str] = []

        def hold(match: re.Match[str]) -> str:
            kept.append(match.group(0))
            return f"\ue000{len(kept) - 1}\ue001"  # private-use marks: no rule below touches them

        cleaned = _clean_sentence(_REDACTION_PLACEHOLDER.sub(hold, text), symbols_as_breaks)
        return _HELD_PLACEHOLDER.sub(lambda match: kept[int(match.group(1))], cleaned)
    return _clean_sentence(text, symbols_as_breaks)


def _clean_sentence(text: str, symbols_as_breaks: bool) -> str:
    breaker = ". " if symbols_as_breaks else " "
    text = _EMOJI_CODE.sub(breaker, text)
    text = _MARKUP.sub(" ", text)
    text = "".join(breaker if _is_symbol(ch) else ch for ch in text)
    if symbols_as_breaks:
        text = re.sub(r"(?:\s*\.\s*){2,}", ". ", text)
        text = re.sub(r"^\s*\.\s*", "", text)
        text = re.sub(r"([?!,:;])\s*\.\s", r"\1 ", text)
    return _SPACES.sub(" ", text).strip()


def _is_symbol(ch: str) -> bool:
    """Emoji and pictographs (Unicode 'So' and variation selectors) carry no words."""
    if ch.isascii():
        return False
    category = unicodedata.category(ch)
    return category == "So" or category == "Sk" or ch in "\ufe0f\u200d"


def unquote(text: str) -> str:
    """The quoted words of a relayed remark ('From Initech: “...”'), or `text` when nothing is quoted."""
    found = _QUOTED.search(text)
    if found and len(found.group("body").split()) >= 3:
        return found.group("body")
    found = _OPEN_QUOTE_ONLY.search(text)
    if found and len(found.group("body").split()) >= 3:
        return found.group("body")
    found = _CLOSE_QUOTE_ONLY.search(text)
    if found and len(found.group("body").split()) >= 3:
        return found.group("body")
    return text


def strip_lead_in(text: str) -> str:
    """Drop a short "Heard on the call:" / "Quick one:" lead-in when substantial text follows."""
    found = _LEAD_IN.match(text)
    if found and len(found.group("lead").split()) <= 8 and len(found.group("rest").split()) >= 2:
        return found.group("rest")
    return text


def strip_openers(text: str) -> str:
    """Drop greetings and fillers at the start ("Hi all, quick one: ...")."""
    for _ in range(3):
        stripped = _FILLERS.sub("", _GREETING.sub("", text)).lstrip(_EDGE_PUNCT)
        if stripped == text or not stripped:
            break
        text = stripped
    return text


def _strip_scaffolding(text: str) -> str:
    for _ in range(8):
        before = text
        text = _GREETING.sub("", text)
        text = _FILLERS.sub("", text).lstrip(_EDGE_PUNCT)
        roadmap = _ROADMAP_QUESTION.match(text)
        if roadmap:
            text = roadmap.group("thing")
        for pattern in _SCAFFOLDS:
            stripped = pattern.sub("", text, count=1)
            if stripped != text and stripped.strip():
                text = stripped.lstrip(_EDGE_PUNCT)
                break
        if text == before:
            break
    return text


def _cut_clauses(text: str, *, keep_conditions: bool) -> tuple[str, str | None, str | None]:
    """(core, reason clause, purpose clause): the text up to its first clause boundary."""
    reason: str | None = None
    purpose: str | None = None
    cut = len(text)
    for pattern in _CLAUSE_CUTS:
        for found in pattern.finditer(text):
            if found.start() < 3:
                continue
            if found.start() < cut:
                cut = found.start()
            break
    tail = text[cut:].strip(_EDGE_PUNCT)
    core = text[:cut]
    if tail:
        lowered = tail.lower()
        if re.match(r"(?:so that|so|in order to|ideally|preferably|to avoid|instead of|rather than)\b", lowered):
            purpose = tail
        elif re.match(r"(?:because|cause|since|as|given that|now that|due to)\b", lowered) and not _TIME_CLAUSE.match(
            lowered
        ):
            reason = tail
    if not keep_conditions:
        shortened = _SOFT_TAIL.sub("", core)
        if len(shortened.split()) >= 4:
            core = shortened
    return core, reason, purpose


def _remove_names(text: str, names: tuple[str, ...]) -> str:
    """Remove customer names (and "at X" / "from X" / "X's" around them) from a title."""
    for name in names:
        if not name or len(name) < 2:
            continue
        pattern = re.compile(
            rf"(?:\s+(?:at|from|by|for|with)\s+)?{re.escape(name)}(?:'s|’s)?(?:\s+(?:team|folks|people))?", _FLAGS
        )
        text = pattern.sub(" ", text)
    return _SPACES.sub(" ", text).strip()


def _capitalise(text: str) -> str:
    if not text:
        return text
    first = text[0]
    # "iPhone", "eBay": a lower-case first letter followed by a capital is a name; keep it.
    if first.islower() and not (len(text) > 1 and text[1].isupper()):
        return first.upper() + text[1:]
    return text


def _shorten(text: str) -> str:
    if len(text) <= MAX_TITLE_CHARS:
        return text
    cut = text.rfind(" ", 0, MAX_TITLE_CHARS)
    return text[: cut if cut > 20 else MAX_TITLE_CHARS]


def make_title(sentence: str, *, is_bug: bool, names: tuple[str, ...] = ()) -> TitleParts:
    """The title of the ask in `sentence` (already cleaned), with the reason and purpose clauses."""
    working = strip_lead_in(unquote(sentence))
    working = strip_lead_in(working)
    working = _strip_scaffolding(working)
    front = _FRONT_CONDITION.match(working)
    if front:
        condition = front.group("cond")
        working = f"{front.group('main').rstrip(_EDGE_PUNCT)} {condition[0].lower()}{condition[1:]}"
    working = re.sub(r"^to\s+(?=\w)", "", working, flags=_FLAGS)
    core, reason, purpose = _cut_clauses(working, keep_conditions=is_bug)
    core = _SHORT_TAIL.sub("", core)
    missing_here = None if is_bug else _MISSING.search(core)
    if missing_here and missing_here.start() > 0 and len(missing_here.group("thing").split()) <= 6:
        # "Security flagged that the product doesn't support Okta login" -> "Okta login".
        core, reason = missing_here.group("thing"), reason or core
    elif reason:
        # "We can't trust the numbers because the sync fails": the cause names the ask.
        missing = _MISSING.search(reason)
        if missing and len(missing.group("thing").split()) <= 8:
            core, reason = missing.group("thing"), core
        elif is_bug and _FAILURE.search(reason) and not _FAILURE.search(core):
            core, reason = re.sub(r"^\W*(?:because|cause|since|as)\s+", "", reason, flags=_FLAGS), core
    core = _strip_scaffolding(core)
    core = _LEADING_TIME.sub("", core)
    core = _EXPERIENCER.sub("", core, count=1) or core
    if is_bug:
        core = _BUG_TAIL.sub("", core) or core
        for pattern, replacement in _AUXILIARY:
            core = pattern.sub(replacement, core)
    else:
        core = _MODAL_LEAD.sub("", core, count=1) if sentence.rstrip().endswith("?") else core
    core = _remove_names(core, names)
    core = _STRAY_QUOTES.sub("", core)
    for _ in range(3):
        stripped = _LEADING_ARTICLE.sub("", core.strip(_EDGE_PUNCT), count=1)
        if not stripped:
            break
        core = stripped
    if core.count("(") > core.count(")"):
        opened = core.rfind("(")
        core = core[:opened] if len(core[:opened].split()) >= 2 else core + ")"
    core = _SPACES.sub(" ", core).strip(_EDGE_PUNCT)
    core = _DANGLING.sub("", _shorten(core)).strip(_EDGE_PUNCT)
    title = _capitalise(core)
    if len(title) < MIN_TITLE_CHARS or not any(ch.isalnum() for ch in title):
        fallback = _DANGLING.sub("", _shorten(_remove_names(sentence, names))).strip(_EDGE_PUNCT)
        title = _capitalise(fallback) if len(fallback) >= MIN_TITLE_CHARS else (fallback + " ask")[:MAX_TITLE_CHARS]
    return TitleParts(title=title, core=working, reason=_tidy(reason), purpose=_tidy(purpose))


def _tidy(clause: str | None) -> str | None:
    if not clause:
        return None
    clause = clause.strip(_EDGE_PUNCT)
    if len(clause.split()) < 2:
        return None
    return _capitalise(clause)[:1000]


# -- does a title name an ask? ------------------------------------------------------------------

MAX_ASK_TITLE_WORDS: Final = 8
_FIRST_PERSON: Final = re.compile(
    r"\b(?:i|i'm|i've|me|my|we|we're|we've|us|our|ours|ich|wir|unsere?|je|nous|notre|nos|yo|nosotros|nuestr[oa]s?"
    r"|eu|nós|nosso|nossa)\b",
    _FLAGS,
)
_COMPLAINT: Final = re.compile(
    r"\b(?:pain(?:ful)?|hurts?|frustrat\w*|annoy\w*|hate|nightmare|awful|terrible|horrible|struggl\w*|"
    r"embarrass\w*|furious|angry|upset|confus\w*|mad|useless|sucks?|tedious|keeps?|kept|still|never|"
    r"again|always|every time|can't|cannot|couldn't|don't|doesn't|didn't|won't|isn't|aren't|wasn't|"
    r"not|no longer|nobody|nothing|impossible)\b",
    _FLAGS,
)
# Finite verbs that make a title a statement about the product rather than the thing wanted
# ("Dashboards take 30 seconds", "Reports use UTC"); checked after the first word, which may be
# an imperative ("Keep number formats in Excel exports").
_STATEMENT: Final = re.compile(
    r"\b(?:is|are|was|were|has|have|had|takes?|took|goes|went|gets|got|looks?|shows?|comes?|uses?|"
    r"fails?|failed|failing|breaks?|broke|crash(?:es|ed)?|stops?|stopped|cuts?|jumps?|arrives?|"
    r"happens?|seems?|needs?|wants?|ignored|missing|stuck|wrong|slow)\b",
    _FLAGS,
)
_IMPERATIVE_TEXT: Final = """
    add allow let support enable show send offer deliver export import sync connect integrate provide
    make keep remember save set choose define join blend pull push raise increase lift remove delete
    hide filter restrict limit lock prevent block retry resend notify alert warn flag track log record
    check verify validate take require charge issue refund submit bill split translate localise localize
    speed improve fix automate automatically schedule book create edit rename merge attach embed print
    manage assign tag group sort search display list calculate compute compare report publish share
    invite provision deprovision deactivate archive restore undo open expose configure customise
    customize upload download enforce reset
"""
_IMPERATIVE: Final = frozenset(_IMPERATIVE_TEXT.split())


def names_an_ask(title: str) -> bool:
    """Whether `title` names what is wanted: an imperative or a noun phrase, not a complaint.

    The rule (docs/quality.md, "Titles that name the ask"): at most eight words; no first
    person; no complaint, emotion, negation or recurrence word ("painful", "keeps", "can't",
    "never", "still"); and either it opens with an imperative verb of a fixed list ("Retry
    failed reminders", "Support SSO with Okta") or no word after the first is a finite
    statement verb ("Dashboards take 30 seconds", "Reports use UTC" name a defect, not an ask).
    """
    words = title.split()
    if not words or len(words) > MAX_ASK_TITLE_WORDS:
        return False
    if _FIRST_PERSON.search(title) or _COMPLAINT.search(title):
        return False
    if words[0].lower().strip(_EDGE_PUNCT) in _IMPERATIVE:
        return True
    return not _STATEMENT.search(" ".join(words[1:]))


# -- from a complaint to the ask it implies ------------------------------------------------------

_WISHLIST_TAIL: Final = re.compile(
    r"\s+(?:is|are|was|were)\s+(?:(?:high|top|first)\s+)?on\s+(?:our|my|the|their)\s+(?:wish\s*list|roadmap|list)\b.*$",
    _FLAGS,
)
_EMOTION_LEAD: Final = re.compile(
    r"^(?:it\s+)?(?:really\s+|truly\s+)?(?:hurts|sucks|kills us|is (?:painful|frustrating|annoying))"
    r"\s+(?:when|that)\s+",
    _FLAGS,
)
_COMPLAINT_TAIL: Final = re.compile(
    r",\s*(?=[^,]*\b(?:painful|pain|risk|tedious|hurts?|nightmare|annoying|frustrating|by hand|manually|"
    r"impossible|waste|hours?|doubles?|every time|lose|losing)\b).*$",
    _FLAGS,
)
_HEDGE_LEAD: Final = re.compile(
    r"^(?:from what (?:i|we) can (?:see|tell)|as far as (?:i|we) can tell|i think|it seems(?: like)?|"
    r"(?:it )?looks like|apparently|honestly)[,\s]+",
    _FLAGS,
)
_OWNER: Final = re.compile(r"\b(?:our|my|your|their)\s+", _FLAGS)
_WE_CAN: Final = re.compile(r"\b(?:that\s+|which\s+)?(?:we|i|you)\s+(?:can|could)\s+(?=\w)", _FLAGS)
_SLOW: Final = re.compile(
    r"^(?P<thing>.+?)\s+(?:is|are|gets?|got|became|become)\s+(?:so\s+|too\s+|very\s+|really\s+|painfully\s+)?"
    r"(?:slow|sluggish|laggy)\b.*$",
    _FLAGS,
)
_PAINFUL: Final = re.compile(
    r"^(?P<thing>.+?)\s+(?:is|are)\s+(?:so\s+|too\s+|very\s+|really\s+)?(?:painful|tedious|a pain|hard|"
    r"difficult|confusing|a nightmare)\b.*$",
    _FLAGS,
)
_TIMEOUT: Final = re.compile(
    r"^(?P<thing>.+?)\s+(?:keeps?\s+)?(?:times?\s+out|timing\s+out|timed\s+out|never\s+finishes|hangs?|"
    r"(?:is|are)\s+stuck)\b.*$",
    _FLAGS,
)
_FAILS: Final = re.compile(
    r"^(?:when\s+)?(?P<thing>.+?)\s+(?:keeps?\s+|kept\s+|(?:has|have)\s+been\s+|(?:is|are)\s+)?"
    r"(?:fail(?:s|ed|ing)?|erroring|crash(?:es|ed|ing)?|broken|breaks?|stopped\s+working|"
    r"(?:does\s+not|doesn't|don't|do\s+not)\s+work)\b.*$",
    _FLAGS,
)
_CAPPED: Final = re.compile(
    r"^(?P<thing>.+?)\s+(?:stops|cuts?\s+off|is\s+capped|are\s+capped|maxes\s+out|is\s+limited|are\s+limited)\s+at\s+"
    r"(?P<cap>[\w.,]+(?:\s+\w+)?)\b.*$",
    _FLAGS,
)
_SPEED_NOUN: Final = re.compile(r"^(?:the\s+)?speed\b", _FLAGS)


def _lower_first(text: str, context: str) -> str:
    """Lower-case the first word unless it is a name: written capitalised inside `context`."""
    first = text.split(" ", 1)[0]
    if not first[:1].isupper() or first[1:2].isupper():
        return text
    if re.search(rf"(?<=[a-z,;]\s){re.escape(first)}\b", context):
        return text
    return first.lower() + text[len(first) :]


def ask_title(title: str, kind: str, context: str = "") -> str:
    """`title` (from `make_title`) turned from a complaint into the ask it implies, when it is one.

    "It really hurts when reminders fail..." -> "Fix failing reminders"; "Dashboards are so slow
    that..." -> "Faster dashboards"; "CSV export stops at 100k rows" -> "Lift the 100k rows limit
    on CSV export"; "PDF export is on our wishlist" -> "PDF export"; "SCIM provisioning,
    deprovisioning leavers by hand is a compliance risk" -> "SCIM provisioning"; "Log in with our
    Okta account" -> "Log in with Okta account". Titles that already name an ask stay as they are;
    the complaint itself stays in the mention's description and quote. `context` (the sentence)
    tells names from common words when a phrase moves from the start of the title.
    """
    if names_an_ask(title):
        return title
    text = _HEDGE_LEAD.sub("", _EMOTION_LEAD.sub("", title).strip())
    text = _WISHLIST_TAIL.sub("", text)
    head = _COMPLAINT_TAIL.sub("", text)
    text = head if len(head.split()) >= 2 else text
    text = _WE_CAN.sub("to ", _OWNER.sub("", text)).strip(_EDGE_PUNCT)
    rewrites: tuple[tuple[re.Pattern[str], str], ...] = (
        (_CAPPED, "Lift the {cap} limit on {thing}"),
        (_TIMEOUT, "Fix {thing} timeouts"),
        (_FAILS, "Fix failing {thing}"),
        (_SLOW, "Faster {thing}"),
        (_PAINFUL, "Easier {thing}"),
    )
    for pattern, template in rewrites:
        found = pattern.match(text)
        if found and 1 <= len(found.group("thing").split()) <= 5:
            parts = {k: _lower_first(v.strip(_EDGE_PUNCT), context or title) for k, v in found.groupdict().items()}
            parts["thing"] = re.sub(r"^(?:the|a|an)\s+", "", parts["thing"], flags=_FLAGS)
            text = template.format(**parts)
            break
    if _SPEED_NOUN.match(text) and kind == "pain_point":
        text = "Faster performance"
    text = _capitalise(_SPACES.sub(" ", text).strip(_EDGE_PUNCT))
    return text if len(text) >= MIN_TITLE_CHARS and any(ch.isalnum() for ch in text) else title
