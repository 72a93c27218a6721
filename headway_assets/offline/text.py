"""Text preparation shared by the offline tier-1 classifier and (later) the offline extractor.

The central idea is *masking*: code blocks, stack traces, logs, quoted e-mail history, URLs and
issue-template boilerplate are overwritten with spaces rather than cut out, so the masked text
has exactly the length of the original. Every segment found in the masked text therefore maps
back to a verbatim slice of the original (`original[start:end]`), which is what tier-2 needs for
evidence quotes that must be real substrings of the message.

Scoring never looks at raw text: `fold` lower-cases, removes accents and apostrophes and
collapses whitespace, so the lexicons can be written once ("dont", "wäre" -> "ware").
"""

from __future__ import annotations

import re
import string
import unicodedata
from dataclasses import dataclass, field
from typing import Literal

SegmentKind = Literal["title", "heading", "sentence"]

# --- masking patterns -------------------------------------------------------------------------

_FENCED_CODE = re.compile(r"(?ms)^[ \t]*(```|~~~).*?(?:^[ \t]*\1[^\n]*$|\Z)")
_HTML_COMMENT = re.compile(r"(?s)<!--.*?(?:-->|\Z)")
_SUMMARY = re.compile(r"(?is)<summary>.*?</summary>")
_HTML_TAG = re.compile(r"</?[a-zA-Z][a-zA-Z0-9-]*(?:\s[^<>]*)?/?>")
_INLINE_CODE = re.compile(r"`[^`\n]{1,300}`")
_MD_IMAGE = re.compile(r"!\[[^\]\n]*\]\([^)\n]*\)")
_MD_LINK_TARGET = re.compile(r"\]\((?:https?://|/|#)[^)\s]*\)")
# Slack markup: <@U123> mentions, <#C123|general> channels, <!here>, <https://x|label> links.
_SLACK_TOKEN = re.compile(r"<(?:[@#!][^<>\s]{1,100}|(?:https?|mailto|tel):[^<>]{1,500})>")
_URL = re.compile(r"(?:https?://|www\.)[^\s<>()\[\]\"']+")
_EMAIL_ADDRESS = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_FILE_PATH = re.compile(r"(?<![\w/])(?:[A-Za-z]:\\|~?/)[\w.@-]+(?:[\\/][\w.@-]+)+")
_PLACEHOLDER = re.compile(r"(?i)_no response_|\bn/a\b")
_TRANSCRIPT_PREFIX = re.compile(
    r"(?m)^[ \t]*(?:\[?\(?\d{1,2}:\d{2}(?::\d{2})?\)?\]?[ \t]*[-–:]?[ \t]*)?"
    r"(?:(?:Speaker|Participant|Customer|Agent|Rep|Host|Guest)[ \t]*\d*|[A-Z][a-z]+[ \t]+[A-Z][a-z]+)"
    r"[ \t]*(?:\(\d{1,2}:\d{2}(?::\d{2})?\))?[ \t]*:(?=[ \t])"
)
_TIMESTAMP_PREFIX = re.compile(r"(?m)^[ \t]*\[?\(?\d{1,2}:\d{2}(?::\d{2})?\)?\]?[ \t]*[-–:]?(?=[ \t])")

# Whole lines that are machine output rather than prose. Matched line by line. Stack frames and
# exception lines are counted separately because they are evidence of a failure.
_TRACE_LINE = re.compile(
    r"""^\s*(?:
        at\s+\S+.*(?:\(.*:\d+(?::\d+)?\)|:\d+:\d+)      # JS / Java frames
      | at\s+[\w$.<>]+\([\w$.<>]*\)                      # Java frame without file
      | at\s+<anonymous>
      | File\s+".*",\s+line\s+\d+                         # Python frame
      | Traceback\s+\(most\s+recent\s+call\s+last\)
      | \#\d+\s+0x[0-9a-fA-F]+                            # gdb frame
      | \d+\s*[:|]\s*0x[0-9a-fA-F]{6,}                    # native frame
      | (?:[\w$]+\.)+[\w$]*(?:Error|Exception)\b.*         # qualified exception name
      | [A-Z]\w*(?:Error|Exception):\s                      # Python / JS exception line
    )""",
    re.VERBOSE,
)
_MACHINE_LINE = re.compile(
    r"""^\s*(?:
        [EWIF]\d{4}\s+\d\d:\d\d:\d\d                      # glog
      | \[?\d{4}-\d\d-\d\d[T\s]\d\d:\d\d                  # timestamped log line
      | \[\s*\d+\.\d+\]                                   # kernel / uptime log
      | (?:DEBUG|INFO|WARN|WARNING|ERROR|TRACE|FATAL)\s*[:\]|]   # log level prefix
      | (?:\+\+\+|---)\s+[ab]/                             # diff header
      | @@\s+-\d+                                          # diff hunk
      | diff\s+--git\b
      | \$\s+\S+                                           # shell prompt
      | >>>\s
      | (?:npm|yarn|pip)\s+(?:ERR!|WARN|error)
      | \S*:\d+(?::\d+)?:?\s*(?:fatal\s+)?(?:error|warning|note)\b   # compiler diagnostics
      | [\w.+-]+(?:\[\d+\])?:\s+(?:\*\*\*|(?:fatal\s+)?error:|warning:|Entering|Leaving)   # make / ld / collect2
      | \d+>                                              # MSBuild output
      | \|.*\|.*\|                                        # table row
      | [-=+*_|\s]{6,}$                                   # rule / separator
    )""",
    re.VERBOSE,
)
_QUOTE_LINE = re.compile(r"^\s*>")
_REPLY_HEADER = re.compile(
    r"(?im)^(?:On\s.{5,200}?wrote:\s*$|-{2,}\s*Original Message\s*-{2,}|-{2,}\s*Forwarded message\s*-{2,}"
    r"|From:\s.+\n\s*(?:Sent|Date):\s)"
)
_SIGNATURE = re.compile(r"(?m)^(?:--\s*$|Sent from my \w+|Get Outlook for \w+)")
_CODE_CHARS = re.compile(r"[{}();=<>\[\]\\|$#]")
_NO_ASCII_LETTERS = str.maketrans("", "", string.ascii_letters)
_INDENTED = re.compile(r"^(?: {4}|\t)")

# Markdown / template headings: "### Steps to reproduce", "**Expected behavior**", "Expected:".
_MD_HEADING = re.compile(r"^[ \t]*#{1,6}[ \t]+(.+?)[ \t#]*$")
_BOLD_HEADING = re.compile(r"^[ \t]*(?:\*\*|__)(.+?)(?:\*\*|__)[ \t]*:?[ \t]*$")
_BOLD_PREFIX = re.compile(r"^[ \t]*\*\*([^\n]{2,200}?)\*\*:?[ \t]+(?=\S)")
_CHECKLIST_LINE = re.compile(r"^[ \t]*(?:[-*+][ \t]+)?\[[ \t]*[xX]?[ \t]*\][ \t]")
_LIST_MARK = re.compile(r"^[ \t]*(?:[-*+•·▪‣◦]|\d{1,3}[.)]|\[[ xX]\])[ \t]+")
_MARKUP_CHARS = re.compile(r"[*_~`#>|]")

# Sentence boundaries: terminal punctuation followed by space, unless it ends a known abbreviation,
# a version number or an initial.
_SENTENCE_END = re.compile(r"(?<=[.!?…。！？])[\"')\]]*\s+")
_ABBREVIATIONS = frozenset(
    {
        "e.g.", "i.e.", "etc.", "vs.", "mr.", "mrs.", "ms.", "dr.", "prof.", "inc.", "ltd.", "co.",
        "approx.", "no.", "fig.", "cf.", "jan.", "feb.", "mar.", "apr.", "jun.", "jul.", "aug.",
        "sep.", "sept.", "oct.", "nov.", "dec.", "z.b.", "bzw.", "usw.", "ca.", "p.s.", "ps.", "v.",
        "ver.", "min.", "max.", "sec.", "st.",
    }
)  # fmt: skip
_MAX_SEGMENT_CHARS = 600


@dataclass(frozen=True, slots=True)
class Segment:
    """One scorable unit: a title, a heading or a sentence, as a span of the original text."""

    text: str
    start: int
    end: int
    kind: SegmentKind
    clean: str = ""
    """The same span of the masked text (code, URLs, markup blanked out): what gets scored."""


@dataclass(slots=True)
class TextSignals:
    """Structural evidence found while masking (counts of what was removed and why)."""

    code_blocks: int = 0
    inline_code: int = 0
    trace_lines: int = 0
    machine_lines: int = 0
    checklist_lines: int = 0
    quoted_lines: int = 0
    urls: int = 0
    comments: list[str] = field(default_factory=list)
    headings: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class PreparedText:
    """The original text, its same-length masked copy, the segments and the structural signals."""

    original: str
    masked: str
    segments: tuple[Segment, ...]
    signals: TextSignals

    @property
    def prose_chars(self) -> int:
        """Number of non-space characters left after masking."""
        # `str.split()` cuts at exactly the characters `str.isspace` names, at C speed.
        return sum(map(len, self.masked.split()))


def fold(text: str) -> str:
    """Lower-case, strip accents and apostrophes, and collapse whitespace, for lexicon matching."""
    if text.isascii():  # the common case needs no Unicode decomposition
        return " ".join(text.lower().replace("'", "").replace("`", "").split())
    text = text.replace("ß", "ss").replace("’", "'").replace("‘", "'").replace("`", "'")
    decomposed = unicodedata.normalize("NFKD", text.lower())
    kept = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    kept = kept.replace("'", "")
    return " ".join(kept.split())


def _blank(match: re.Match[str]) -> str:
    """Replace a match by spaces, keeping newlines so line structure and offsets survive."""
    return re.sub(r"[^\n]", " ", match.group(0))


def _blank_span(chars: list[str], start: int, end: int) -> None:
    for i in range(start, end):
        if chars[i] != "\n":
            chars[i] = " "


def mask_text(text: str, signals: TextSignals | None = None) -> str:
    """Return `text` with non-prose regions replaced by spaces (same length, same line breaks).

    Removed: fenced and indented code, inline code, HTML comments and tags, images, URLs, e-mail
    addresses, file paths, stack-trace and log lines, diff output, quoted reply history and
    signatures, transcript timestamps and speaker labels, template placeholders.
    """
    sig = signals if signals is not None else TextSignals()
    if not text:
        return text

    # Reply history and signatures: everything after the first marker is someone else's words.
    cut = len(text)
    for pattern in (_REPLY_HEADER, _SIGNATURE):
        found = pattern.search(text)
        if found and found.start() > 0:
            cut = min(cut, found.start())
    # Carriage returns become spaces so "$" and line splitting behave the same for CRLF text.
    masked = text[:cut].replace("\r", " ") + re.sub(r"[^\n]", " ", text[cut:])

    def count_blocks(match: re.Match[str]) -> str:
        sig.code_blocks += 1
        body = match.group(0)
        sig.trace_lines += sum(1 for line in body.splitlines()[:200] if _TRACE_LINE.match(line))
        return _blank(match)

    masked = _FENCED_CODE.sub(count_blocks, masked)

    def keep_comment(match: re.Match[str]) -> str:
        # Template instructions live in comments; they are not the reporter's words, but they
        # say which template (bug, feature, question) was used.
        sig.comments.append(match.group(0)[4:-3])
        return _blank(match)

    masked = _HTML_COMMENT.sub(keep_comment, masked)
    masked = _SUMMARY.sub(_blank, masked)
    masked = _MD_IMAGE.sub(_blank, masked)
    masked = _MD_LINK_TARGET.sub(lambda m: "]" + " " * (len(m.group(0)) - 1), masked)

    def count_urls(match: re.Match[str]) -> str:
        sig.urls += 1
        return _blank(match)

    masked = _SLACK_TOKEN.sub(count_urls, masked)
    masked = _URL.sub(count_urls, masked)
    masked = _EMAIL_ADDRESS.sub(_blank, masked)
    masked = _HTML_TAG.sub(_blank, masked)

    def count_inline(match: re.Match[str]) -> str:
        sig.inline_code += 1
        return _blank(match)

    masked = _INLINE_CODE.sub(count_inline, masked)
    masked = _FILE_PATH.sub(_blank, masked)
    masked = _PLACEHOLDER.sub(_blank, masked)
    # Speaker labels only when the text looks like a transcript (several labelled turns), so a
    # single "Expected Behavior: ..." line in an issue is left alone.
    if len(_TRANSCRIPT_PREFIX.findall(masked, 0, 20_000)) >= 2:
        masked = _TRANSCRIPT_PREFIX.sub(_blank, masked)
    masked = _TIMESTAMP_PREFIX.sub(_blank, masked)

    # Line-level pass: traces, logs, quoted lines and code-looking indented lines.
    chars = list(masked)
    pos = 0
    previous_blank = True
    for line in masked.split("\n"):
        end = pos + len(line)
        stripped = line.strip()
        if stripped:
            if _TRACE_LINE.match(line):
                sig.trace_lines += 1
                _blank_span(chars, pos, end)
            elif _MACHINE_LINE.match(line):
                sig.machine_lines += 1
                _blank_span(chars, pos, end)
            elif _CHECKLIST_LINE.match(line):
                # Template check boxes ("- [x] I searched existing issues") are confirmations,
                # not the writer's own words.
                sig.checklist_lines += 1
                _blank_span(chars, pos, end)
            elif _QUOTE_LINE.match(line):
                sig.quoted_lines += 1
                _blank_span(chars, pos, end)
            elif _looks_like_code(stripped, indented=bool(_INDENTED.match(line)), after_blank=previous_blank):
                _blank_span(chars, pos, end)
        previous_blank = not stripped
        pos = end + 1
    return "".join(chars)


def _looks_like_code(stripped: str, *, indented: bool, after_blank: bool) -> bool:
    """Heuristic for a line of code or machine output that escaped fencing."""
    if len(stripped) < 3 or _MD_HEADING.match(stripped) or _BOLD_HEADING.match(stripped):
        return False
    code_chars = len(_CODE_CHARS.findall(stripped))
    # Letters are counted only where a test needs them: most prose lines need neither.
    if code_chars >= 3 and code_chars * 4 >= _letters(stripped):
        return True
    if stripped.endswith((";", "{", "}", "});", ");")) and code_chars >= 2:
        return True
    if indented and code_chars >= 1 and not stripped[0].isupper():
        return True
    # Lines with no spaces and many dots/underscores are identifiers, paths or hashes.
    return " " not in stripped and len(stripped) > 25 and _letters(stripped) < len(stripped) * 0.8


def _letters(text: str) -> int:
    """How many characters of `text` are letters (`str.isalpha`); in ASCII text those are exactly
    A-Z and a-z, counted at C speed."""
    if text.isascii():
        return len(text) - len(text.translate(_NO_ASCII_LETTERS))
    return sum(ch.isalpha() for ch in text)


def _clean_heading(raw: str) -> str:
    text = _MARKUP_CHARS.sub("", raw).strip().rstrip(":").strip()
    return " ".join(text.split())


def _sentence_spans(masked: str, start: int, end: int) -> list[tuple[int, int]]:
    """Split masked[start:end] into sentence spans (absolute offsets), trimming whitespace."""
    spans: list[tuple[int, int]] = []
    cursor = start
    chunk = masked[start:end]
    for boundary in _SENTENCE_END.finditer(chunk):
        cut = start + boundary.start()
        piece = masked[cursor:cut]
        last_word = piece.rsplit(None, 1)[-1].lower() if piece.split() else ""
        if last_word in _ABBREVIATIONS or re.fullmatch(r"(?:[a-z]\.|\d+\.)", last_word):
            continue
        spans.append((cursor, cut))
        cursor = start + boundary.end()
    spans.append((cursor, end))
    trimmed: list[tuple[int, int]] = []
    for a, b in spans:
        while a < b and masked[a].isspace():
            a += 1
        while b > a and masked[b - 1].isspace():
            b -= 1
        if b - a >= 2:
            trimmed.extend(_split_long(masked, a, b))
    return trimmed


def _split_long(masked: str, a: int, b: int) -> list[tuple[int, int]]:
    """Cut over-long run-on sentences at commas/semicolons so one cue does not dominate a wall of text."""
    if b - a <= _MAX_SEGMENT_CHARS:
        return [(a, b)]
    pieces: list[tuple[int, int]] = []
    cursor = a
    while b - cursor > _MAX_SEGMENT_CHARS:
        window = masked[cursor : cursor + _MAX_SEGMENT_CHARS]
        cut = max(window.rfind("; "), window.rfind(", "), window.rfind(" "))
        cut = cursor + (cut + 1 if cut > 0 else _MAX_SEGMENT_CHARS)
        pieces.append((cursor, cut))
        cursor = cut
    pieces.append((cursor, b))
    return pieces


def prepare(text: str) -> PreparedText:
    """Mask `text` and cut it into title, heading and sentence segments.

    The first line counts as a title when it is short, is followed by more text and does not
    end like a sentence (issue titles, e-mail subjects). Lines of a paragraph are joined before
    sentence splitting, but list items and headings always start a new segment.
    """
    signals = TextSignals()
    masked = mask_text(text, signals)
    segments: list[Segment] = []
    lines: list[tuple[int, int]] = []
    pos = 0
    for line in masked.split("\n"):
        lines.append((pos, pos + len(line)))
        pos += len(line) + 1

    first_content = next((i for i, (a, b) in enumerate(lines) if masked[a:b].strip()), None)
    has_more = first_content is not None and any(masked[a:b].strip() for a, b in lines[first_content + 1 :])
    para_start: int | None = None
    para_end = 0

    def flush() -> None:
        nonlocal para_start
        if para_start is not None:
            for a, b in _sentence_spans(masked, para_start, para_end):
                segments.append(Segment(text[a:b], a, b, "sentence", masked[a:b]))
        para_start = None

    for index, (a, b) in enumerate(lines):
        line = masked[a:b]
        if not line.strip():
            flush()
            continue
        heading_match = _MD_HEADING.match(line) or _BOLD_HEADING.match(line)
        bold_prefix = None if heading_match else _BOLD_PREFIX.match(line)
        if index == first_content and has_more and _is_title(line):
            flush()
            lead = a + len(line) - len(line.lstrip())
            stop = a + len(line.rstrip())
            segments.append(Segment(text[lead:stop], lead, stop, "title", masked[lead:stop]))
            continue
        if heading_match:
            flush()
            cleaned = _clean_heading(heading_match.group(1))
            if cleaned:
                signals.headings.append(cleaned)
                lead, stop = a + len(line) - len(line.lstrip()), a + len(line.rstrip())
                segments.append(Segment(text[lead:stop], lead, stop, "heading", masked[lead:stop]))
            continue
        if bold_prefix:
            # "**Expected behavior** it should ..." : a heading and its answer on one line.
            flush()
            cleaned = _clean_heading(bold_prefix.group(1))
            lead = a + len(line) - len(line.lstrip())
            stop = a + bold_prefix.end(1) + 2
            if cleaned:
                signals.headings.append(cleaned)
                segments.append(Segment(text[lead:stop], lead, stop, "heading", masked[lead:stop]))
            para_start, para_end = a + bold_prefix.end(), b
            continue
        list_mark = _LIST_MARK.match(line)
        if list_mark:
            flush()
            para_start, para_end = a + list_mark.end(), b
            flush()
            continue
        if para_start is None:
            para_start = a
        para_end = b
    flush()
    return PreparedText(original=text, masked=masked, segments=tuple(segments), signals=signals)


def _is_title(line: str) -> bool:
    stripped = line.strip()
    if len(stripped) > 160 or stripped.startswith(("#", "**", "-", "*", ">")):
        return False
    words = stripped.split()
    if len(words) > 25 or len(words) == 0:
        return False
    # "Hi team," or "Dear Sam," open a letter; they are salutations, not subject lines.
    return not (stripped.endswith(",") or (stripped.endswith(".") and len(words) > 12))


def split_sentences(text: str) -> list[Segment]:
    """Sentence segments of `text` after masking (titles and headings included), in order."""
    return list(prepare(text).segments)
