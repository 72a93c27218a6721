"""Reader for Gmail / Google Takeout mbox files, and the e-mail parsing the live Gmail reader reuses.

Two layers:
- `parse_email_message` turns one `email.message.Message` into readable text and headers
  (multipart choice, HTML to text, charset repair, quoted replies and signatures removed).
  The live Gmail API reader builds a `Message` from the API's MIME tree and calls it too, so
  both readers produce the same text and the same `external_id` (the RFC 822 Message-ID).
- `read_gmail_mbox` scans an mbox file, dates each message from its headers, and fully parses
  only the messages inside the window. The scan's index is cached per file, keyed by size and
  modification time, so reading day after day of one large Takeout file scans it once.
"""

from __future__ import annotations

import binascii
import codecs
import csv
import hashlib
import re
import threading
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.errors import HeaderParseError
from email.header import Header, decode_header
from email.message import Message
from email.policy import compat32
from email.utils import getaddresses, parsedate_to_datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote

from headway_assets.core.message import NormalisedMessage, ReadResult, SourceReadError, TimeWindow
from headway_assets.sources.exports.limits import (
    DEFAULT_LIMITS,
    ExportLimits,
    check_item_count,
    describe_size,
    plausible_time,
)
from headway_assets.sources.gmail import SOURCE
from headway_assets.sources.people import (
    FREE_EMAIL_DOMAINS,
    Person,
    customer_from_email,
    is_internal_email,
    normalise_domains,
    normalise_email,
    parse_people,
    parse_person,
)

# Labels whose messages are not conversations: Takeout's chat transcripts and spam.
IGNORED_LABELS: dict[str, str] = {"chat": "chat", "spam": "spam"}

_LATIN_FAMILY = frozenset({"ascii", "iso8859-1", "cp1252", "latin-1"})
_UNKNOWN_CHARSETS = frozenset({"unknown-8bit", "x-unknown", "unknown", "8bit", "default", "x-user-defined"})


# ---------------------------------------------------------------------------------------------
# Charsets and headers
# ---------------------------------------------------------------------------------------------


def decode_text_bytes(data: bytes, declared: str | None) -> tuple[str, str | None]:
    """Decode body or header bytes, repairing wrong or unknown declared charsets.

    Returns the text and a note when the declared charset was not the one used. Valid
    UTF-8 wins over a declared ASCII/Latin-1 (a common mislabel); Latin-1 is read as
    windows-1252, whose extra characters (curly quotes, the euro sign) mail clients use.
    """
    name = (declared or "").strip().strip("\"'").lower()
    try:
        codec = codecs.lookup(name).name if name else None
    except LookupError:
        codec = None
    if data.isascii() and (codec is None or codec in _LATIN_FAMILY or codec == "utf-8"):
        return data.decode("ascii"), None
    # Valid UTF-8 beats a declared ASCII/Latin-1; any other declared charset is tried first.
    # A declared UTF-8 that does not decode is usually windows-1252 text.
    order = ["utf-8", "cp1252"] if codec in (None, "utf-8") or codec in _LATIN_FAMILY else [codec, "utf-8"]
    for candidate in order:
        try:
            text = data.decode(candidate)
        except UnicodeDecodeError:
            continue
        return text, _charset_note(name, codec, candidate)
    fallback = codec if codec and codec not in _LATIN_FAMILY else "cp1252"
    return data.decode(fallback, errors="replace"), f"charset '{name or 'none'}': undecodable bytes replaced"


def _charset_note(name: str, codec: str | None, used: str) -> str | None:
    if codec is None:
        if name and name not in _UNKNOWN_CHARSETS:
            return f"unknown charset '{name}', decoded as {used}"
        return None
    if codec == used or (codec in _LATIN_FAMILY and used == "cp1252"):
        return None
    return f"declared charset '{name}' did not fit the text; decoded as {used}"


def decode_header_value(value: str | Header | None) -> str:
    """Decode an RFC 2047 header (or raw 8-bit header) to text, unfolded, whitespace collapsed."""
    if value is None:
        return ""
    try:
        if isinstance(value, Header):
            chunks = decode_header(value)
        else:
            text = str(value)
            if any("\udc80" <= ch <= "\udcff" for ch in text):
                text = decode_text_bytes(text.encode("utf-8", "surrogateescape"), None)[0]
            chunks = decode_header(re.sub(r"\r?\n[ \t]+", " ", text))
    except (HeaderParseError, ValueError, LookupError, UnicodeError):
        return " ".join(str(value).split())
    parts: list[str] = []
    for chunk, charset in chunks:
        if isinstance(chunk, str):
            parts.append(chunk)
        elif charset is None:
            # decode_header hands unencoded runs back as raw-unicode-escape bytes.
            try:
                parts.append(chunk.decode("raw-unicode-escape"))
            except UnicodeDecodeError:
                parts.append(chunk.decode("latin-1"))
        else:
            parts.append(decode_text_bytes(chunk, charset)[0])
    return " ".join("".join(parts).split())


def gmail_thread_id_from_decimal(value: str | None) -> str | None:
    """Convert a Takeout/IMAP `X-GM-THRID` (decimal) to the API's lowercase-hex thread id."""
    if value is None:
        return None
    digits = str(value).strip()
    if not digits.isdigit():
        return None
    return format(int(digits), "x")


def parse_gmail_labels(value: str | None) -> tuple[str, ...]:
    """Split an `X-Gmail-Labels` header: comma-separated, double-quoted when a label holds a comma."""
    if not value:
        return ()
    unfolded = " ".join(value.split())
    row = next(csv.reader([unfolded], skipinitialspace=True), [])
    return tuple(label.strip() for label in row if label.strip())


def _message_id(value: str | Header | None) -> str | None:
    text = decode_header_value(value)
    if not text:
        return None
    match = re.search(r"<([^<>\s]+)>", text)
    if match:
        return match.group(1)
    tokens = text.strip().strip("<>").split()
    return tokens[0] if tokens else None


def _message_ids(value: str | Header | None) -> list[str]:
    text = decode_header_value(value)
    found = re.findall(r"<([^<>\s]+)>", text)
    return found or [token for token in text.split() if "@" in token]


def parse_email_date(value: str | Header | None) -> datetime | None:
    """The UTC moment of an RFC 5322 `Date` header, or None when it cannot be parsed."""
    text = decode_header_value(value)
    if not text:
        return None
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # "-0000" means "zone unknown"; UTC is the honest reading
    return moment.astimezone(UTC)


# ---------------------------------------------------------------------------------------------
# HTML to text
# ---------------------------------------------------------------------------------------------

_BLOCK_TAGS = frozenset(
    {
        "address", "article", "aside", "center", "dd", "div", "dl", "dt", "fieldset", "figcaption",
        "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main",
        "nav", "ol", "p", "pre", "section", "table", "tbody", "thead", "tfoot", "tr", "ul",
    }
)  # fmt: skip
_PARAGRAPH_TAGS = frozenset({"p", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol", "pre"})
_SKIPPED_TAGS = frozenset({"script", "style", "head", "title", "noscript", "template", "svg"})
_VOID_TAGS = frozenset({"br", "hr", "img", "meta", "link", "input", "wbr", "col", "area", "base"})


class _HtmlTextExtractor(HTMLParser):
    """Collects readable lines; text inside `<blockquote>` comes out prefixed with `> `."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self._line: list[str] = []
        self._skip = 0
        self._pre = 0
        self._quote = 0
        self._signature_divs = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._signature_divs:
            if tag == "div":
                self._signature_divs += 1
            return
        if tag == "div" and any(
            name == "class" and value and "gmail_signature" in value.split() for name, value in attrs
        ):
            self._break(paragraph=True)
            self._signature_divs = 1  # Gmail marks the sender's signature; drop it with its nested divs
            return
        if tag in _SKIPPED_TAGS:
            self._skip += 1
        elif tag == "br":
            self._break()
        elif tag == "blockquote":
            self._break(paragraph=True)
            self._quote += 1
        elif tag in _BLOCK_TAGS:
            self._break(paragraph=tag in _PARAGRAPH_TAGS)
            if tag == "li":
                self._line.append("- ")
            elif tag == "pre":
                self._pre += 1
        elif tag in ("td", "th"):
            self._line.append(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _SKIPPED_TAGS:
            self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if self._signature_divs:
            if tag == "div":
                self._signature_divs -= 1
            return
        if tag in _SKIPPED_TAGS:
            self._skip = max(0, self._skip - 1)
        elif tag == "blockquote":
            self._break(paragraph=True)
            self._quote = max(0, self._quote - 1)
        elif tag in _BLOCK_TAGS and tag not in _VOID_TAGS:
            self._break(paragraph=tag in _PARAGRAPH_TAGS)
            if tag == "pre":
                self._pre = max(0, self._pre - 1)

    def handle_data(self, data: str) -> None:
        if self._skip or self._signature_divs:
            return
        if self._pre:
            pieces = data.replace("\r\n", "\n").split("\n")
            for number, piece in enumerate(pieces):
                if number:
                    self._break()
                self._line.append(piece)
            return
        self._line.append(re.sub(r"\s+", " ", data))

    def _break(self, paragraph: bool = False) -> None:
        text = "".join(self._line)
        text = text.rstrip() if self._pre else " ".join(text.split())
        self._line = []
        if text:
            self.lines.append("> " * self._quote + text)
        if paragraph and self.lines and self.lines[-1] != "":
            self.lines.append("")

    def text(self) -> str:
        self._break()
        return "\n".join(self.lines).strip("\n")


def html_to_text(html: str) -> str:
    """Readable plain text from an HTML mail body.

    Block elements become line breaks, scripts/styles/head are dropped, entities are decoded,
    and `<blockquote>` content is marked with `> ` so quoted-reply stripping can remove it.
    """
    extractor = _HtmlTextExtractor()
    try:
        extractor.feed(html)
        extractor.close()
    except (AssertionError, ValueError):  # malformed markup: keep what was read so far
        pass
    return re.sub(r"\n{3,}", "\n\n", extractor.text())


# ---------------------------------------------------------------------------------------------
# Quoted replies and signatures
# ---------------------------------------------------------------------------------------------

_ON_WROTE_RE = re.compile(
    r"^[ \t]*(?:On|Le|Am|El|Il|Op|Em|W dniu|Den|Op)\b[^\n]{0,300}(?:\n[^\n]{0,300}){0,2}?"
    r"(?:wrote|a écrit|schrieb|escribió|ha scritto|schreef|escreveu|napisał|skrev)[ \t]*:?[ \t]*$",
    re.MULTILINE | re.IGNORECASE,
)
_ORIGINAL_MESSAGE_RE = re.compile(
    r"^[ \t]*-{2,}[ \t]*(?:Original Message|Ursprüngliche Nachricht|Message d'origine|Mensaje original|"
    r"Messaggio originale|Oorspronkelijk bericht)[ \t]*-{2,}[ \t]*$",
    re.MULTILINE | re.IGNORECASE,
)
_HEADER_BLOCK_RE = re.compile(
    r"^[ \t]*(?:_{8,}[ \t]*\n[ \t]*)?\*?(?:From|Von|De|Van)[ \t]*:\*?[^\n]*\n(?:[^\n]*\n){0,3}?"
    r"[ \t]*\*?(?:Sent|Date|Gesendet|Envoyé|Enviado|Verzonden)[ \t]*:",
    re.MULTILINE | re.IGNORECASE,
)
_FORWARD_RE = re.compile(
    r"^[ \t]*(?:-{2,}[ \t]*Forwarded message[ \t]*-{2,}|Begin forwarded message:)[ \t]*$",
    re.MULTILINE | re.IGNORECASE,
)
_QUOTED_LINE_RE = re.compile(r"^[ \t]*>")
_SIG_DELIMITER_RE = re.compile(r"^-- ?$")
_MOBILE_FOOTER_RE = re.compile(
    r"^[ \t]*(?:Sent from my \w+|Sent from (?:Mail|Outlook|Yahoo Mail)\b.*|Get Outlook for \w+.*|"
    r"Sent via \w+.*|Von meinem \w+ gesendet)[ \t]*$",
    re.IGNORECASE,
)
_SIGNOFF_RE = re.compile(
    r"^[ \t]*(?:thanks(?: again| so much| a lot| in advance)?|thank you(?: again| so much| in advance)?|"
    r"many thanks|thx|cheers|best|all the best|best regards|kind regards|warm regards|warmest regards|"
    r"regards|best wishes|sincerely|yours sincerely|yours truly|talk soon|take care|br|"
    r"mit freundlichen grüßen|freundliche grüße|viele grüße|beste grüße|liebe grüße|grüße|danke|"
    r"cordialement|bien à vous|bien cordialement|merci|merci d['’]avance|bonne journée|"
    r"saludos|un saludo|saludos cordiales|atentamente|gracias|gracias de antemano|"
    r"abraços|atenciosamente|obrigad[ao]|cumprimentos|groeten|met vriendelijke groet|"
    r"よろしくお願いいたします|よろしくお願いします|宜しくお願い致します)"
    r"[ \t]*[,.!。、]*(?:[ \t]+[A-Z][\w.'-]*(?:[ \t]+[A-Z][\w.'-]*){0,2})?[ \t]*$",
    re.IGNORECASE,
)
_DISCLAIMER_RE = re.compile(
    r"^[ \t]*(?:this (?:e-?mail|message|communication)\b.{0,80}\b(?:confidential|intended)|"
    r"confidentiality notice|disclaimer\s*:|the information (?:contained )?in this (?:e-?mail|message)|"
    r"diese (?:e-?mail|nachricht) (?:enthält|ist) vertrauliche|ce (?:message|courriel) (?:et|est) )",
    re.IGNORECASE,
)
_CONTACT_RE = re.compile(
    r"(?:\+?\d[\d ()./-]{7,}\d|\bwww\.|https?://|[\w.+-]+@[\w-]+\.[\w.]+|\s[|·•]\s)", re.IGNORECASE
)
_NAME_LINE_RE = re.compile(r"^(?:Dr\.?\s)?[^\W\d_][\w'’.-]*(?:\s[^\W\d_][\w'’.-]*){0,3}$")
# How far below a sign-off the signature block may reach (name, title, company, phone, site).
_MAX_SIGNATURE_LINES = 10
_MAX_SIGNATURE_LINE_LENGTH = 80


@dataclass(frozen=True, slots=True)
class StrippedText:
    """Mail text with quoted replies and signature removed, and what was removed."""

    text: str
    quote_stripped: bool
    signature_stripped: bool


def strip_quotes_and_signature(text: str) -> StrippedText:
    """Remove quoted replies ("On … wrote:", `>` lines, Outlook headers, "Original Message") and signatures.

    A forwarded mail is the content being shared, so text after a forwarding marker is kept
    (its `> ` marks, which HTML blockquotes produce, are removed) and only its signature is cut.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    forward = _FORWARD_RE.search(text)
    own, forwarded = (text[: forward.start()], text[forward.start() :]) if forward else (text, "")
    cuts = [
        match.start()
        for pattern in (_ON_WROTE_RE, _ORIGINAL_MESSAGE_RE, _HEADER_BLOCK_RE)
        if (match := pattern.search(own)) is not None
    ]
    reply = own[: min(cuts)] if cuts else own
    lines = [line.rstrip() for line in reply.split("\n") if not _QUOTED_LINE_RE.match(line)]
    quote_stripped = "\n".join(lines).strip() != own.strip()
    lines, signature_stripped = _strip_signature(lines)
    if forwarded:
        forwarded_lines = [re.sub(r"^[ \t]*(?:> ?)+", "", line).rstrip() for line in forwarded.split("\n")]
        forwarded_lines, forwarded_signature = _strip_signature(forwarded_lines)
        signature_stripped = signature_stripped or forwarded_signature
        lines = [*lines, "", *forwarded_lines]
    cleaned = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    return StrippedText(cleaned, quote_stripped, signature_stripped)


def _strip_signature(lines: list[str]) -> tuple[list[str], bool]:
    stripped = False
    for index, line in enumerate(lines):
        # A legal disclaimer, and everything after it.
        if index and _DISCLAIMER_RE.match(line):
            lines, stripped = lines[:index], True
            break
    for index, line in enumerate(lines):
        if _SIG_DELIMITER_RE.match(line) and len(lines) - index <= 20:
            lines, stripped = lines[:index], True
            break
    lines = _trim_blank_tail(lines)
    for index in range(len(lines) - 1, max(-1, len(lines) - 4), -1):
        if _MOBILE_FOOTER_RE.match(lines[index]):
            lines, stripped = lines[:index], True
            break
    lines = _trim_blank_tail(lines)
    # A sign-off ("Thanks,", "Best regards", "Viele Grüße") near the end, followed only by
    # short non-sentence lines (name, title, company, phone), starts the signature.
    tail_start = len(lines)
    for index in range(len(lines) - 1, -1, -1):
        line = lines[index].strip()
        if len(lines) - index > _MAX_SIGNATURE_LINES + 1 or len(line) > _MAX_SIGNATURE_LINE_LENGTH:
            break
        if line and _SIGNOFF_RE.match(line):
            tail_start = index
        elif line.endswith((".", "?", "!", "。", "？", "！")):
            break  # a sentence: the content, so no sign-off above it ends the mail
    if tail_start < len(lines):
        lines, stripped = lines[:tail_start], True
    lines = _trim_blank_tail(lines)
    # No sign-off: a last paragraph that is a contact block (name, title, phone, site), then
    # a lone name line ("Dana") closing the mail.
    block_start = _last_paragraph_start(lines)
    if block_start > 0 and _is_contact_block(lines[block_start:]):
        lines, stripped = _trim_blank_tail(lines[:block_start]), True
    block_start = _last_paragraph_start(lines)
    if block_start > 0 and len(lines) - block_start == 1 and _is_name_line(lines[-1]):
        lines, stripped = _trim_blank_tail(lines[:block_start]), True
    return lines, stripped


def _last_paragraph_start(lines: list[str]) -> int:
    index = len(lines)
    while index and lines[index - 1].strip():
        index -= 1
    return index


def _is_name_line(line: str) -> bool:
    text = line.strip()
    return (
        0 < len(text) <= 40
        and not text.endswith((".", "?", "!", ":", ";", ","))
        and _NAME_LINE_RE.match(text) is not None
        and all(word[0].isupper() for word in text.split() if word[0].isalpha())
    )


def _is_contact_block(block: list[str]) -> bool:
    """Short lines, no sentences, starting with a name and holding a phone, site, e-mail or `a | b`."""
    texts = [line.strip() for line in block if line.strip()]
    if not 2 <= len(texts) <= 6 or any(len(t) > _MAX_SIGNATURE_LINE_LENGTH for t in texts):
        return False
    if any(t.endswith((".", "?", "!", "。", "？", "！", ":")) for t in texts):
        return False
    return _is_name_line(texts[0]) and any(_CONTACT_RE.search(t) for t in texts[1:])


def _trim_blank_tail(lines: list[str]) -> list[str]:
    end = len(lines)
    while end and not lines[end - 1].strip():
        end -= 1
    return lines[:end]


# ---------------------------------------------------------------------------------------------
# One message
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ParsedEmail:
    """What Headway needs from one e-mail, independent of where the e-mail came from."""

    message_id: str | None
    subject: str | None
    sender: Person
    to: tuple[Person, ...]
    cc: tuple[Person, ...]
    delivered_to: str | None
    date: datetime | None
    text: str
    full_text: str
    html_only: bool
    attachments: tuple[str, ...]
    in_reply_to: str | None
    references: tuple[str, ...]
    gmail_thread_id: str | None
    labels: tuple[str, ...]
    forwarded_from: Person | None
    automated: str | None  # "auto_reply", "bulk" or "auto_generated" for machine-sent mail
    problems: tuple[str, ...]
    quote_stripped: bool
    signature_stripped: bool

    @property
    def thread_key(self) -> str | None:
        """The Gmail thread id (hex) when known, else the thread's root Message-ID."""
        if self.gmail_thread_id:
            return self.gmail_thread_id
        if self.references:
            return self.references[0]
        return self.in_reply_to or self.message_id

    def fallback_external_id(self) -> str:
        """A stable id for a mail without Message-ID: a hash of sender, date, subject and body."""
        basis = "\n".join(
            [
                self.sender.email or self.sender.name or "",
                self.date.isoformat() if self.date else "",
                self.subject or "",
                self.full_text,
            ]
        )
        return "sha256:" + hashlib.sha256(basis.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(slots=True)
class _Body:
    texts: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    attachments: list[str] = field(default_factory=list)
    used_plain: bool = False
    used_html: bool = False


def parse_email_message(message: Message) -> ParsedEmail:
    """Parse one e-mail into readable text, sender, recipients, subject, date and thread keys.

    Works on any `email.message.Message` (parsed from an mbox, or built from the Gmail API's
    MIME tree). Never raises for bad content: broken parts are salvaged where possible and
    every repair is listed in `problems`. `text` is empty when nothing readable is left.
    """
    body = _Body()
    _collect_body(message, "1", body)
    for defect in getattr(message, "defects", []) or []:
        body.problems.append(f"MIME structure: {type(defect).__name__}")
    full_text = "\n\n".join(t for t in body.texts if t.strip()).strip()
    stripped = strip_quotes_and_signature(full_text)
    subject = decode_header_value(message.get("Subject")) or None
    senders = _header_people(message.get_all("From") or message.get_all("Sender") or [])
    return ParsedEmail(
        message_id=_message_id(message.get("Message-ID")),
        subject=subject,
        sender=senders[0] if senders else Person(None, None),
        to=tuple(_header_people(message.get_all("To", []))),
        cc=tuple(_header_people(message.get_all("Cc", []))),
        delivered_to=normalise_email(decode_header_value(message.get("Delivered-To"))),
        date=parse_email_date(message.get("Date")),
        text=stripped.text,
        full_text=full_text,
        html_only=body.used_html and not body.used_plain,
        attachments=tuple(body.attachments),
        in_reply_to=_message_id(message.get("In-Reply-To")),
        references=tuple(_message_ids(message.get("References"))),
        gmail_thread_id=gmail_thread_id_from_decimal(decode_header_value(message.get("X-GM-THRID")) or None),
        labels=parse_gmail_labels(decode_header_value(message.get("X-Gmail-Labels"))),
        forwarded_from=_forwarded_sender(full_text),
        automated=_is_automated(message),
        problems=tuple(body.problems),
        quote_stripped=stripped.quote_stripped,
        signature_stripped=stripped.signature_stripped,
    )


def _header_people(values: Iterable[str | Header]) -> list[Person]:
    """People in address headers. Addresses are split before names are decoded, so an
    encoded name holding a comma (`=?utf-8?q?M=C3=BCller,_J=C3=BCrgen?=`) stays one person."""
    people: list[Person] = []
    for value in values:
        if isinstance(value, Header) or any("\udc80" <= ch <= "\udcff" for ch in str(value)):
            people.extend(parse_people([decode_header_value(value)]))  # raw 8-bit: decode first
            continue
        unfolded = re.sub(r"\r?\n[ \t]+", " ", str(value))
        for name, address in getaddresses([unfolded]):
            email = normalise_email(address)
            decoded = decode_header_value(name) if name else ""
            if email is None and not decoded:
                continue
            if email is None and "@" not in decoded:
                people.append(parse_person(decoded))
            else:
                people.append(Person(" ".join(decoded.split()).strip(" \"'") or None, email))
    return people


def _is_automated(message: Message) -> str | None:
    """The kind of machine-sent mail (RFC 3834 `Auto-Submitted`, `Precedence`, list headers), if any."""
    auto_submitted = decode_header_value(message.get("Auto-Submitted")).lower()
    precedence = decode_header_value(message.get("Precedence")).lower()
    if auto_submitted.startswith("auto-replied") or precedence == "auto_reply" or message.get("X-Autoreply"):
        return "auto_reply"
    if precedence in ("bulk", "list", "junk") or message.get("List-Unsubscribe") is not None:
        return "bulk"
    if auto_submitted and auto_submitted != "no":
        return "auto_generated"
    return None


def _forwarded_sender(text: str) -> Person | None:
    """The sender named in the header block of a forwarded mail inside `text`, if any."""
    marker = _FORWARD_RE.search(text)
    if marker is None:
        return None
    block = text[marker.end() :].lstrip("\n").split("\n")[:6]
    for line in block:
        match = re.match(r"^[ \t>]*\*?(?:From|Von|De)[ \t]*:\*?[ \t]*(.+)$", line, re.IGNORECASE)
        if match:
            person = parse_person(match.group(1))
            return person if person.email or person.name else None
    return None


def _collect_body(part: Message, where: str, body: _Body) -> None:
    content_type = part.get_content_type()
    if part.is_multipart():
        children = [c for c in part.get_payload() if isinstance(c, Message)]
        if content_type == "multipart/alternative":
            _collect_alternative(children, where, body)
        else:
            for number, child in enumerate(children, start=1):
                _collect_body(child, f"{where}.{number}", body)
        return
    filename = _filename(part)
    disposition = part.get_content_disposition()
    if content_type == "message/rfc822" or (
        disposition == "attachment" or (filename and content_type not in ("text/plain", "text/html"))
    ):
        body.attachments.append(filename or content_type)
        return
    if content_type not in ("text/plain", "text/html"):
        if content_type.startswith(("text/", "application/", "image/", "audio/", "video/")):
            body.attachments.append(filename or content_type)
        return
    text = _decode_text_part(part, where, body)
    if text is None:
        return
    if content_type == "text/html":
        text = html_to_text(text)
        body.used_html = body.used_html or bool(text.strip())
    else:
        body.used_plain = body.used_plain or bool(text.strip())
    if text.strip():
        body.texts.append(text)


def _collect_alternative(children: list[Message], where: str, body: _Body) -> None:
    """Use the plain-text alternative when it has text, else the HTML one, else anything readable."""
    ranked = sorted(
        enumerate(children, start=1),
        key=lambda item: {"text/plain": 0, "text/html": 1}.get(item[1].get_content_type(), 2),
    )
    for number, child in ranked:
        attempt = _Body()
        _collect_body(child, f"{where}.{number}", attempt)
        body.problems.extend(attempt.problems)
        if any(t.strip() for t in attempt.texts):
            body.texts.extend(attempt.texts)
            body.attachments.extend(attempt.attachments)
            body.used_plain = body.used_plain or attempt.used_plain
            body.used_html = body.used_html or attempt.used_html
            return


def _filename(part: Message) -> str | None:
    try:
        name = part.get_filename()
    except (ValueError, LookupError, UnicodeError):
        return None
    return decode_header_value(name) or None if name else None


def _decode_text_part(part: Message, where: str, body: _Body) -> str | None:
    label = f"part {where} ({part.get_content_type()})"
    payload = part.get_payload(decode=False)
    if not isinstance(payload, str):
        return None
    encoding = str(part.get("Content-Transfer-Encoding", "")).strip().lower()
    problem = None
    try:
        charset = part.get_content_charset()
    except (ValueError, LookupError, UnicodeError):
        charset = None
    if encoding == "base64":
        raw, problem = _decode_base64_lenient(payload.encode("utf-8", "surrogateescape"))
        if raw and _is_junk(raw, charset):
            # Text mislabelled as base64 "decodes" to random bytes; landing them would store junk.
            body.problems.append(f"{label}: invalid base64; the decoded bytes are not text")
            return None
        if problem:
            body.problems.append(f"{label}: {problem}")
    elif encoding == "quoted-printable" and (bad := len(_BAD_QP_ESCAPE_RE.findall(payload))):
        if bad >= 3 and bad * 2 > payload.count("="):
            body.problems.append(f"{label}: invalid quoted-printable; most '=' escapes are not hex")
            return None
        body.problems.append(f"{label}: invalid quoted-printable escapes kept as text")
        decoded = part.get_payload(decode=True)
        raw = decoded if isinstance(decoded, bytes) else payload.encode("utf-8", "surrogateescape")
    else:
        # decode=True gives the original bytes for 7bit/8bit/binary and undoes quoted-printable;
        # decode=False would already have decoded 8-bit text with the declared charset.
        decoded = part.get_payload(decode=True)
        raw = decoded if isinstance(decoded, bytes) else payload.encode("utf-8", "surrogateescape")
    text, note = decode_text_bytes(raw, charset)
    if note:
        body.problems.append(f"{label}: {note}")
    if "\x00" in text:
        text = text.replace("\x00", "")
    if not text.strip() and payload.strip() and problem is None:
        body.problems.append(f"{label}: no readable text could be decoded")
    return text.replace("\r\n", "\n").replace("\r", "\n")


_BAD_QP_ESCAPE_RE = re.compile(r"=(?![0-9A-Fa-f]{2}|\r?\n|$)", re.MULTILINE)
_TEXT_CONTROLS = frozenset("\t\n\r\f")


def _is_junk(data: bytes, charset: str | None) -> bool:
    """True when bytes decoded from base64 cannot be a mail's text (random bytes, not words).

    Over 5% control or undecodable characters, or (when no declared charset fits) over 30%
    non-ASCII characters: real text mislabelled as windows-1252 stays mostly ASCII.
    """
    sample = data[:8192]
    text, note = decode_text_bytes(sample, charset)
    if not text:
        return False
    bad = sum(1 for ch in text if ch == "\ufffd" or (unicodedata.category(ch) == "Cc" and ch not in _TEXT_CONTROLS))
    if bad * 20 > len(text):
        return True
    non_ascii = sum(1 for ch in text if ord(ch) > 127)
    return note is not None and non_ascii * 10 > len(text) * 3


def _decode_base64_lenient(raw: bytes) -> tuple[bytes, str | None]:
    """Decode base64, salvaging what precedes any damage instead of failing the whole part."""
    compact = re.sub(rb"\s+", b"", raw)
    data = compact.rstrip(b"=")
    problem = None
    damage = re.search(rb"[^A-Za-z0-9+/]", data)
    if damage is not None:
        # Garbage inside the data: only what precedes it decodes to the sender's bytes.
        data = data[: damage.start()]
        problem = "invalid base64; decoded the readable part before the damage"
    remainder = len(data) % 4
    if remainder and damage is None and not compact.endswith(b"="):
        problem = "base64 ends mid-character (truncated); decoded what was there"
    if remainder == 1:
        data = data[:-1]  # one stray character carries no whole byte
    data += b"=" * (-len(data) % 4)
    if not data:
        return b"", "invalid base64; nothing could be decoded" if problem else None
    try:
        return binascii.a2b_base64(data), problem
    except binascii.Error as exc:
        return b"", f"base64 could not be decoded ({exc})"


# ---------------------------------------------------------------------------------------------
# ParsedEmail -> NormalisedMessage
# ---------------------------------------------------------------------------------------------


def effective_internal_domains(internal_domains: Iterable[str], mailbox: str | None) -> tuple[str, ...]:
    """The org's domains; when none are configured, the mailbox's own domain (unless it is free mail)."""
    configured = normalise_domains(internal_domains)
    if configured:
        return configured
    mailbox_email = normalise_email(mailbox)
    if mailbox_email:
        domain = mailbox_email.rsplit("@", 1)[1]
        if domain not in FREE_EMAIL_DOMAINS:
            return (domain,)
    return ()


def build_gmail_message(
    parsed: ParsedEmail,
    *,
    sent_at: datetime,
    channel: str | None,
    internal_domains: Iterable[str],
    thread_id: str | None = None,
    labels: Iterable[str] | None = None,
    extra_metadata: Mapping[str, Any] | None = None,
) -> NormalisedMessage:
    """Turn a parsed e-mail into the normalised message (shared by the mbox and Gmail API readers).

    `external_id` is the Message-ID, or a content hash (recorded in metadata) when there is none.
    The author is the sender; the customer is the sender's company when the sender is external,
    else the company of the first external recipient. Raises ValueError when `parsed.text` is empty.
    """
    if not parsed.text.strip():
        raise ValueError("message has no text after removing quoted replies and signature")
    domains = normalise_domains(internal_domains)
    metadata: dict[str, Any] = {}
    if parsed.message_id:
        external_id = parsed.message_id
    else:
        external_id = parsed.fallback_external_id()
        metadata["external_id_source"] = "content_hash"
        metadata["message_id_missing"] = True
    author_internal = is_internal_email(parsed.sender.email, domains)
    if author_internal is True:
        # Staff writing to a customer, or forwarding a customer's mail: the customer is the other side.
        candidates = [*parsed.to, *parsed.cc, *([parsed.forwarded_from] if parsed.forwarded_from else [])]
        customer = next((c for c in (customer_from_email(p.email, domains) for p in candidates) if c), None)
    else:
        customer = customer_from_email(parsed.sender.email, domains)
    if parsed.automated in ("bulk", "auto_generated"):
        customer = None  # a newsletter or notification sender is not a customer; an auto-reply's sender is
    if parsed.forwarded_from and parsed.forwarded_from.email:
        metadata["forwarded_from"] = parsed.forwarded_from.email
    label_list = list(labels if labels is not None else parsed.labels)
    if label_list:
        metadata["labels"] = label_list
    if parsed.message_id:
        metadata["message_id"] = parsed.message_id
    if parsed.in_reply_to:
        metadata["in_reply_to"] = parsed.in_reply_to
    metadata["to"] = [p.email for p in parsed.to if p.email]
    if parsed.cc:
        metadata["cc"] = [p.email for p in parsed.cc if p.email]
    if parsed.attachments:
        metadata["attachments"] = list(parsed.attachments)
    if parsed.html_only:
        metadata["html_only"] = True
    if parsed.automated:
        metadata["automated"] = parsed.automated  # kept, not dropped: tier-1 decides, the flag helps it
    if parsed.problems:
        metadata["decode_problems"] = list(parsed.problems)
    metadata["quote_stripped"] = parsed.quote_stripped
    metadata["signature_stripped"] = parsed.signature_stripped
    metadata.update(extra_metadata or {})
    url = None
    if parsed.message_id:
        url = f"https://mail.google.com/mail/#search/rfc822msgid%3A{quote(parsed.message_id, safe='')}"
    return NormalisedMessage(
        source=SOURCE,
        external_id=external_id,
        sent_at=sent_at,
        text=parsed.text,
        thread_id=thread_id if thread_id is not None else parsed.thread_key,
        channel=channel,
        author_name=parsed.sender.name,
        author_email=parsed.sender.email,
        author_is_internal=author_internal,
        customer=customer,
        title=parsed.subject,
        url=url,
        metadata=metadata,
    )


# ---------------------------------------------------------------------------------------------
# The mbox file
# ---------------------------------------------------------------------------------------------

_TIME_RE = re.compile(rb"\d{1,2}:\d{2}")
_MBOXRD_ESCAPE_RE = re.compile(rb"^>(>*From )", re.MULTILINE)
_ENVELOPE_DATE_FORMATS = ("%a %b %d %H:%M:%S %z %Y", "%a %b %d %H:%M:%S %Y")


@dataclass(frozen=True, slots=True)
class _MboxEntry:
    index: int
    start: int
    end: int
    message_id: str | None
    sent_at: datetime | None
    sent_at_source: str
    raw_date: str
    labels: tuple[str, ...]
    has_headers: bool = True
    date_rejected: bool = False  # a Date header was there but implausible; the envelope date is used


_INDEX_CACHE: dict[Path, tuple[tuple[int, int], list[_MboxEntry]]] = {}
_INDEX_CACHE_LOCK = threading.Lock()
_INDEX_CACHE_SIZE = 16


def read_gmail_mbox(
    path: Path,
    window: TimeWindow,
    *,
    internal_domains: tuple[str, ...] = (),
    mailbox: str | None = None,
    limits: ExportLimits = DEFAULT_LIMITS,
) -> ReadResult:
    """Read the mails of an mbox file (Gmail Takeout or any mboxrd) sent inside `window`.

    `mailbox` is the address the file belongs to (the message channel); without it the
    `Delivered-To` or first `To` address is used. Raises `SourceReadError` when the file is
    missing, empty, or not an mbox (no 'From ' envelope lines, or no mail headers after them).
    The file is read message by message: an unreadable message, one past
    `limits.max_item_bytes`, or one that no plausible date places in time becomes a skipped item.
    """
    entries = _mbox_index(path, limits)
    domains = effective_internal_domains(internal_domains, mailbox)
    result = ReadResult()
    seen: set[str] = set()
    wanted: list[_MboxEntry] = []
    for entry in entries:
        ignored = next((IGNORED_LABELS[x.lower()] for x in entry.labels if x.lower() in IGNORED_LABELS), None)
        if ignored and (entry.sent_at is None or window.contains(entry.sent_at)):
            result.ignored[ignored] = result.ignored.get(ignored, 0) + 1
        elif entry.sent_at is None and entry.date_rejected:
            result.skip(
                _location(path, entry),
                "Date header is implausible (before 1971, after 2100 or after the mail arrived) and the "
                "envelope 'From ' line has no plausible date; the message cannot be placed in time",
            )
        elif entry.sent_at is None:
            result.skip(
                _location(path, entry),
                f"no parseable Date header ({entry.raw_date or 'missing'!s}) and no date on the envelope "
                "'From ' line; the message cannot be placed in time",
            )
        elif window.contains(entry.sent_at):
            wanted.append(entry)
    if not wanted:
        return result
    try:
        with path.open("rb") as handle:
            for entry in wanted:
                if entry.end - entry.start > limits.max_item_bytes:
                    result.skip(
                        _location(path, entry),
                        f"message is larger than {describe_size(limits.max_item_bytes)}, the limit for one item",
                    )
                    continue
                handle.seek(entry.start)
                raw = _MBOXRD_ESCAPE_RE.sub(rb"\1", handle.read(entry.end - entry.start))
                _read_entry(path, entry, raw, mailbox, domains, result, seen)
    except OSError as exc:
        raise SourceReadError(f"Gmail mbox {path} could not be read ({exc}); check the file and retry.") from exc
    result.messages.sort(key=lambda m: (m.sent_at, m.external_id))
    return result


def _read_entry(
    path: Path,
    entry: _MboxEntry,
    raw: bytes,
    mailbox: str | None,
    domains: tuple[str, ...],
    result: ReadResult,
    seen: set[str],
) -> None:
    location = _location(path, entry)
    try:
        message = message_from_bytes(raw, policy=compat32)
        parsed = parse_email_message(message)
    except Exception as exc:  # any parser failure is this one message's problem, not the file's
        result.skip(location, f"message could not be parsed ({type(exc).__name__}: {exc})")
        return
    if not parsed.full_text.strip():
        detail = "; ".join(parsed.problems) if parsed.problems else "no text/plain or text/html part"
        result.skip(location, f"no readable text body ({detail})")
        return
    if not parsed.text.strip():
        result.skip(location, "text is empty after removing quoted replies and signature")
        return
    assert entry.sent_at is not None
    channel = normalise_email(mailbox) or parsed.delivered_to or next((p.email for p in parsed.to if p.email), None)
    extra: dict[str, Any] = {"mbox_index": entry.index}
    if entry.sent_at_source != "date":
        extra["sent_at_source"] = entry.sent_at_source
    if entry.date_rejected:
        extra["date_header_rejected"] = entry.raw_date  # kept so the wrong clock can be seen
    if parsed.gmail_thread_id is None:
        extra["thread_id_source"] = "references"
    message_out = build_gmail_message(
        parsed, sent_at=entry.sent_at, channel=channel, internal_domains=domains, extra_metadata=extra
    )
    if message_out.external_id in seen:
        result.ignored["duplicate"] = result.ignored.get("duplicate", 0) + 1
        return
    seen.add(message_out.external_id)
    result.messages.append(message_out)


def _location(path: Path, entry: _MboxEntry) -> str:
    suffix = f" <{entry.message_id}>" if entry.message_id else ""
    return f"{path.name}:message {entry.index}{suffix}"


def _mbox_index(path: Path, limits: ExportLimits = DEFAULT_LIMITS) -> list[_MboxEntry]:
    try:
        stat = path.stat()
    except FileNotFoundError as exc:
        raise SourceReadError(
            f"Gmail mbox {path} does not exist; check the path, or export the mailbox with Google Takeout "
            "(Mail, mbox format) and put the .mbox file there."
        ) from exc
    except OSError as exc:
        raise SourceReadError(f"Gmail mbox {path} cannot be opened ({exc}); check its permissions.") from exc
    if not path.is_file():
        raise SourceReadError(f"Gmail mbox {path} is not a file; point Headway at the .mbox file itself.")
    key = path.resolve()
    stamp = (stat.st_size, stat.st_mtime_ns)
    with _INDEX_CACHE_LOCK:
        cached = _INDEX_CACHE.get(key)
        if cached is not None and cached[0] == stamp:
            check_item_count(path, "Gmail mbox", len(cached[1]), limits)  # indexed under another limit
            return cached[1]
    entries = _scan_mbox(path, stat.st_size, limits)
    with _INDEX_CACHE_LOCK:
        if len(_INDEX_CACHE) >= _INDEX_CACHE_SIZE:
            _INDEX_CACHE.pop(next(iter(_INDEX_CACHE)))
        _INDEX_CACHE[key] = (stamp, entries)
    return entries


def _scan_mbox(path: Path, size: int, limits: ExportLimits = DEFAULT_LIMITS) -> list[_MboxEntry]:
    if size == 0:
        # Read as "no mail", an empty file once made the pipeline delete a window's stored mail.
        raise SourceReadError(
            f"Gmail mbox {path} is empty (0 bytes); export the mailbox again with Google Takeout "
            "(Mail, mbox format) and replace the file."
        )
    try:
        with path.open("rb") as handle:
            head = handle.read(_MAX_ENVELOPE_BYTES)
            offset = 3 if head[:3] == b"\xef\xbb\xbf" else 0
            while offset < len(head) and head[offset : offset + 1] in (b"\r", b"\n", b" ", b"\t"):
                offset += 1
            if head[offset : offset + 5] != b"From ":
                raise SourceReadError(
                    f"Gmail mbox {path} is not an mbox file: it does not start with a 'From ' envelope line. "
                    "Export the mailbox with Google Takeout (Mail, mbox format) and use the .mbox file."
                )
            # Bodies may hold "From " lines after a blank line too; past twice the limit, stop looking.
            starts = [offset, *_envelope_candidates(handle, offset, 2 * limits.max_items)]
            check_item_count(path, "Gmail mbox", len(starts) // 2, limits)
            entries: list[_MboxEntry] = []
            envelopes: list[tuple[int, bytes]] = []
            for position in starts:
                handle.seek(position)
                line = handle.read(_MAX_ENVELOPE_BYTES).split(b"\n", 1)[0]
                # A "From " after a blank line inside a body is text unless it carries a time.
                if position == offset or _TIME_RE.search(line) is not None:
                    envelopes.append((position, line))
            check_item_count(path, "Gmail mbox", len(envelopes), limits)
            for number, (position, line) in enumerate(envelopes, start=1):
                end = envelopes[number][0] if number < len(envelopes) else size
                body_start = min(position + len(line) + 1, end)
                handle.seek(body_start)
                block = handle.read(min(end - body_start, _MAX_HEADER_BYTES))
                entries.append(_index_entry(number, line, block, body_start, end))
            if not any(entry.has_headers for entry in entries):
                raise SourceReadError(
                    f"Gmail mbox {path} is not an mbox file: it has 'From ' envelope lines but no mail "
                    "headers after them. Export the mailbox with Google Takeout (Mail, mbox format)."
                )
            return entries
    except OSError as exc:
        raise SourceReadError(f"Gmail mbox {path} could not be read ({exc}); check the file and retry.") from exc


_SCAN_CHUNK_BYTES = 8 * 1024 * 1024
_MAX_ENVELOPE_BYTES = 4096
_ENVELOPE_MARKERS = (b"\n\nFrom ", b"\n\r\nFrom ")  # an envelope line follows a blank line


def _envelope_candidates(handle: IO[bytes], first: int, cap: int) -> list[int]:
    """Offsets after `first` of lines starting "From " that follow a blank line, in file order.

    Read in fixed chunks, not mapped: a multi-gigabyte mbox costs one chunk of memory, and a
    byte search is far faster than a regular expression over the whole file. Stops once more
    than `cap` are found (the caller refuses such a file), so hostile counts cost no memory.
    """
    found: list[int] = []
    keep = max(len(marker) for marker in _ENVELOPE_MARKERS) - 1
    handle.seek(first)
    carry, base = b"", first  # `base`: file offset of `carry`'s first byte
    while chunk := handle.read(_SCAN_CHUNK_BYTES):
        buffer = carry + chunk
        for marker in _ENVELOPE_MARKERS:
            index = buffer.find(marker)
            while index != -1:
                if index + len(marker) > len(carry):  # not already found in the previous chunk
                    found.append(base + index + len(marker) - len(b"From "))
                index = buffer.find(marker, index + 1)
        carry = buffer[-keep:]
        base += len(buffer) - len(carry)
        if len(found) > cap:
            break
    return sorted(set(found))


def _index_entry(number: int, envelope: bytes, block: bytes, start: int, end: int) -> _MboxEntry:
    """Index one message from its envelope line and the first bytes after it (at most _MAX_HEADER_BYTES)."""
    headers = _index_headers(block)
    raw_date = decode_header_value(headers.get("date"))
    header_date = parse_email_date(headers.get("date"))
    envelope_date = _envelope_date(envelope.decode("latin-1").strip())
    sent_at, source, rejected = _choose_date(header_date, envelope_date)
    return _MboxEntry(
        index=number,
        start=start,
        end=end,
        message_id=_message_id(headers.get("message-id")),
        sent_at=sent_at,
        sent_at_source=source,
        raw_date=raw_date,
        labels=parse_gmail_labels(decode_header_value(headers.get("x-gmail-labels"))),
        has_headers=bool(headers),
        date_rejected=rejected,
    )


_FIELD_NAME_RE = re.compile(rb"[!-9;-~]+")


def _index_headers(block: bytes) -> dict[str, str]:
    """The header fields at the top of a message, by lower-cased name (the first of each), folds kept.

    A plain line scan: the index reads only Date, Message-ID and labels of every message, and
    the stdlib parser costs about ten times as much per message on a large Takeout. Like
    `compat32`, it stops at the first line that is neither a field nor a continuation, and
    values are ASCII with other bytes kept as surrogates (`decode_header_value` repairs them).
    """
    headers: dict[str, str] = {}
    name: str | None = None
    for line in block.split(b"\n"):
        line = line.removesuffix(b"\r")
        if not line:
            break
        if line[:1] in (b" ", b"\t"):
            if name is not None:
                headers[name] += "\n" + line.decode("ascii", "surrogateescape")
            continue
        field_name, colon, value = line.partition(b":")
        if not colon or _FIELD_NAME_RE.fullmatch(field_name.rstrip(b" \t")) is None:
            break
        key = field_name.rstrip(b" \t").decode("ascii").lower()
        name = None if key in headers else key
        if name is not None:
            headers[name] = value.lstrip(b" \t").decode("ascii", "surrogateescape")
    return headers


# The sender's clock writes the Date header; Google's writes the envelope line when the mail
# arrives. A Date far in the past or after arrival is a wrong clock (or forged), so the
# envelope wins; mail delayed in transit legitimately has a Date before the envelope.
_MAX_DATE_AFTER_ENVELOPE = timedelta(days=1)
_MAX_HEADER_BYTES = 256 * 1024


def _choose_date(header: datetime | None, envelope: datetime | None) -> tuple[datetime | None, str, bool]:
    """(sent_at, where it came from, whether a present Date header was rejected as implausible)."""
    if envelope is not None and not plausible_time(envelope):
        envelope = None
    if (
        header is not None
        and plausible_time(header)
        and (envelope is None or header <= envelope + _MAX_DATE_AFTER_ENVELOPE)
    ):
        return header, "date", False
    rejected = header is not None
    if envelope is not None:
        return envelope, "envelope", rejected
    return None, "none", rejected


def _envelope_date(line: str) -> datetime | None:
    """The date on an mbox envelope line: `From 1773…@xxx Tue Aug 08 12:36:29 +0000 2023`."""
    parts = line.split(None, 2)
    if len(parts) < 3:
        return None
    text = " ".join(parts[2].split())
    for fmt in _ENVELOPE_DATE_FORMATS:
        try:
            moment = datetime.strptime(text, fmt)
        except ValueError:
            continue
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return None


def clear_index_cache() -> None:
    """Forget every cached mbox index (tests, or after replacing files with equal size and mtime)."""
    with _INDEX_CACHE_LOCK:
        _INDEX_CACHE.clear()
