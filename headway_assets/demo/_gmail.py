"""Gmail generator: the support mailbox as RFC 822 messages with Gmail thread ids and labels.

The MIME is written by hand (not with `email.message`) so that every byte is under our
control: boundaries and Message-IDs come from the seeded stream, transfer encodings are
chosen per message (7bit, quoted-printable, base64), and some mail is HTML-only or in
ISO-8859-1 / windows-1252, as real mail clients send it.
"""

from __future__ import annotations

import base64
import html
import quopri
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from email.header import Header
from email.utils import format_datetime, formataddr

from headway_assets.core.limits import OVERSIZED_CHARS
from headway_assets.demo import content
from headway_assets.demo._plan import Feedback, Planner
from headway_assets.demo.corpus import DemoPerson, ExpectedItem, GmailMailbox, GmailMessage

SUPPORT_MIX = {
    "bug_report": 0.30,
    "question": 0.28,
    "feature_request": 0.22,
    "pain_point": 0.10,
    "praise": 0.10,
}
OUTREACH_MIX = {"feature_request": 0.45, "pain_point": 0.25, "praise": 0.2, "bug_report": 0.1}
FORWARD_MIX = {"feature_request": 0.6, "pain_point": 0.25, "bug_report": 0.15}
MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
ESCALATION_LABEL = "Escalations, Q4"
HEX = "0123456789abcdef"


# ---- time zones (fixed rules, so no dependency on the machine's tz database) -----------------


def _nth_sunday(year: int, month: int, n: int) -> datetime:
    first = datetime(year, month, 1, tzinfo=UTC)
    offset = (6 - first.weekday()) % 7
    return first + timedelta(days=offset + 7 * (n - 1))


def _last_sunday(year: int, month: int) -> datetime:
    nxt = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=UTC)
    last = nxt - timedelta(days=1)
    return last - timedelta(days=(last.weekday() + 1) % 7)


def local_offset(region: str, moment: datetime) -> timezone:
    """The UTC offset a sender in `region` had at `moment` (US, EU, Japan and Brazil rules)."""
    year = moment.year
    if region in ("us-east", "us-west"):
        standard = -5 if region == "us-east" else -8
        start = _nth_sunday(year, 3, 2) + timedelta(hours=2 - standard)
        end = _nth_sunday(year, 11, 1) + timedelta(hours=1 - standard)
        hours = standard + 1 if start <= moment < end else standard
    elif region == "eu":
        start = _last_sunday(year, 3) + timedelta(hours=1)
        end = _last_sunday(year, 10) + timedelta(hours=1)
        hours = 2 if start <= moment < end else 1
    elif region == "jp":
        hours = 9
    else:
        hours = -3
    return timezone(timedelta(hours=hours))


def _quote_date(moment: datetime) -> str:
    """`Tue, Oct 6, 2026 at 3:14 PM`, as Gmail writes it above a quote."""
    hour = moment.hour % 12 or 12
    ampm = "AM" if moment.hour < 12 else "PM"
    return (
        f"{DAYS[moment.weekday()][:3]}, {MONTHS[moment.month - 1][:3]} {moment.day}, {moment.year} "
        f"at {hour}:{moment.minute:02d} {ampm}"
    )


def _outlook_date(moment: datetime) -> str:
    """`Tuesday, October 6, 2026 3:14 PM`, as Outlook writes it."""
    hour = moment.hour % 12 or 12
    ampm = "AM" if moment.hour < 12 else "PM"
    return (
        f"{DAYS[moment.weekday()]}, {MONTHS[moment.month - 1]} {moment.day}, {moment.year} "
        f"{hour}:{moment.minute:02d} {ampm}"
    )


# ---- bodies ----------------------------------------------------------------------------------


@dataclass(slots=True)
class _Quote:
    style: str
    author: str
    when: datetime
    to: str
    subject: str
    text: str


@dataclass(slots=True)
class _Body:
    paragraphs: list[str]
    signature: str | None = None
    quote: _Quote | None = None
    forwarded: _Quote | None = None

    def plain(self) -> str:
        text = "\n\n".join(self.paragraphs)
        if self.signature:
            text += "\n\n" + self.signature
        if self.forwarded is not None:
            f = self.forwarded
            text += (
                f"\n\n---------- Forwarded message ---------\nFrom: {f.author}\nDate: {_quote_date(f.when)}\n"
                f"Subject: {f.subject}\nTo: {f.to}\n\n{f.text}"
            )
        if self.quote is not None:
            q = self.quote
            if q.style == "outlook":
                text += (
                    f"\n\n________________________________\nFrom: {q.author}\nSent: {_outlook_date(q.when)}\n"
                    f"To: {q.to}\nSubject: {q.subject}\n\n{q.text}"
                )
            else:
                quoted = "\n".join(f"> {line}" if line else ">" for line in q.text.splitlines())
                text += f"\n\nOn {_quote_date(q.when)} {q.author} wrote:\n{quoted}"
        return text + "\n"

    def html(self, style: str, charset: str) -> str:
        def block(text: str) -> str:
            return "<br>\n".join(html.escape(line, quote=False) for line in text.splitlines())

        if style == "outlook":
            parts = [
                "<html>\n<head>\n"
                f'<meta http-equiv="Content-Type" content="text/html; charset={charset}">\n'
                "<style>p.MsoNormal{margin:0in;font-size:11.0pt;font-family:Calibri,sans-serif}</style>\n"
                '</head>\n<body lang="EN-US">\n<div class="WordSection1">\n'
            ]
            for paragraph in self.paragraphs:
                parts.append(f'<p class="MsoNormal">{block(paragraph)}</p>\n<p class="MsoNormal">&nbsp;</p>\n')
            if self.signature:
                parts.append(f'<p class="MsoNormal"><span style="color:#595959">{block(self.signature)}</span></p>\n')
            if self.quote is not None:
                q = self.quote
                parts.append(
                    '<div style="border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0in 0in 0in">\n'
                    f'<p class="MsoNormal"><b>From:</b> {html.escape(q.author)}<br>\n<b>Sent:</b> '
                    f"{_outlook_date(q.when)}<br>\n<b>To:</b> {html.escape(q.to)}<br>\n"
                    f"<b>Subject:</b> {html.escape(q.subject)}</p>\n</div>\n"
                    f'<p class="MsoNormal">{block(q.text)}</p>\n'
                )
            parts.append("</div>\n</body>\n</html>\n")
            return "".join(parts)
        if style == "gmail":
            parts = ['<div dir="ltr">\n']
            for paragraph in self.paragraphs:
                parts.append(f"<div>{block(paragraph)}</div>\n<div><br></div>\n")
            if self.signature:
                parts.append(f'<div dir="ltr" class="gmail_signature">{block(self.signature)}</div>\n')
            parts.append("</div>\n")
            for quote, label in ((self.forwarded, "forwarded"), (self.quote, "quote")):
                if quote is None:
                    continue
                header = (
                    f"---------- Forwarded message ---------<br>\nFrom: {html.escape(quote.author)}<br>\n"
                    f"Subject: {html.escape(quote.subject)}<br>\n"
                    if label == "forwarded"
                    else f"On {_quote_date(quote.when)} {html.escape(quote.author)} wrote:<br>\n"
                )
                parts.append(
                    f'<br><div class="gmail_quote"><div dir="ltr" class="gmail_attr">{header}</div>\n'
                    '<blockquote class="gmail_quote" style="margin:0px 0px 0px 0.8ex;border-left:1px solid '
                    f'rgb(204,204,204);padding-left:1ex">\n{block(quote.text)}\n</blockquote></div>\n'
                )
            return "".join(parts)
        body = "".join(f"<p>{block(p)}</p>\n" for p in self.paragraphs)
        if self.signature:
            body += f"<p>{block(self.signature)}</p>\n"
        if self.quote is not None:
            body += f"<blockquote>\n{block(self.quote.text)}\n</blockquote>\n"
        return f"<html>\n<body>\n{body}</body>\n</html>\n"


# ---- MIME ------------------------------------------------------------------------------------


def _encodable(text: str, charset: str) -> bool:
    try:
        text.encode(charset)
    except UnicodeEncodeError:
        return False
    return True


def _encode_header(name: str, value: str, charset: str) -> str:
    if value.isascii():
        return value
    return Header(value, charset if _encodable(value, charset) else "utf-8", header_name=name).encode()


def _address(name: str, address: str, charset: str = "utf-8") -> str:
    if name.isascii():
        return formataddr((name, address))
    return formataddr((name, address), charset=charset if _encodable(name, charset) else "utf-8")


def _text_part(text: str, subtype: str, charset: str, prefer: str) -> tuple[list[str], bytes]:
    """Headers and encoded body of one text part. `prefer` is `qp` or `base64` for non-ASCII text."""
    data = text.encode(charset)
    label = charset.upper() if charset != "utf-8" else "UTF-8"
    if data.isascii() and max(len(line) for line in text.splitlines() or [""]) <= 900:
        cte, body = "7bit", data
    elif prefer == "base64":
        cte, body = "base64", base64.encodebytes(data)
    else:
        cte, body = "quoted-printable", quopri.encodestring(data)
    headers = [f'Content-Type: text/{subtype}; charset="{label}"', f"Content-Transfer-Encoding: {cte}"]
    return headers, body


def _join(headers: list[str], body: bytes) -> bytes:
    head = "\n".join(headers).encode("ascii")
    if not body.endswith(b"\n"):
        body += b"\n"
    return head + b"\n\n" + body


def _multipart(subtype: str, boundary: str, parts: list[bytes], preamble: bool = False) -> tuple[list[str], bytes]:
    chunks = [b"This is a multi-part message in MIME format.\n"] if preamble else []
    for part in parts:
        chunks.append(f"--{boundary}\n".encode("ascii") + part)
    chunks.append(f"--{boundary}--\n".encode("ascii"))
    return [f'Content-Type: multipart/{subtype}; boundary="{boundary}"'], b"".join(chunks)


@dataclass(slots=True)
class _Mail:
    """A message before serialisation, plus its ground truth."""

    sender: DemoPerson | None
    from_header: str
    to_header: str
    subject: str
    sent_at: datetime
    region: str
    body: _Body
    labels: list[str]
    category: str = "other"
    ask: str | None = None
    kind: str = "customer"
    language: str = "en"
    customer: str | None = None
    internal: bool | None = None
    format: str = "plain"
    charset: str = "utf-8"
    style: str = "gmail"
    cc_header: str | None = None
    extra_headers: list[str] = field(default_factory=list)
    attachment: str | None = None
    oversized: bool = False
    inbound: bool = True
    message_id: str = ""
    in_reply_to: str | None = None
    references: list[str] = field(default_factory=list)


class _GmailBuilder:
    def __init__(self, planner: Planner) -> None:
        self.p = planner
        self.rng = planner.rng
        self.mailbox = planner.org.support_mailbox
        self.messages: list[GmailMessage] = []
        self.expected: list[ExpectedItem] = []
        self.used_gmail_ids: set[int] = set()
        self.used_message_ids: set[str] = set()
        self.agents = planner.staff_with("support")
        # Message-ID -> Gmail thread id, so replies join their thread.
        self._thread_ids: dict[str, int] = {}

    # ---- ids and time --------------------------------------------------------------------

    def _gmail_id(self, moment: datetime) -> int:
        while True:
            candidate = (int(moment.timestamp() * 1000) << 20) | self.rng.getrandbits(20)
            if candidate not in self.used_gmail_ids:
                self.used_gmail_ids.add(candidate)
                return candidate

    def _message_id(self, style: str, domain: str, moment: datetime) -> str:
        p = self.p
        while True:
            if style == "gmail":
                value = (
                    "CA"
                    + p.token(44, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-+=")
                    + "@mail.gmail.com"
                )
            elif style == "outlook":
                region = p.token(2, "ABCDEFGHJKLMNPQRSTUVWXYZ")
                host = f"{region}{p.rng.randint(1, 9)}PR{p.rng.randint(10, 19)}MB{p.rng.randint(1000, 9999)}"
                cluster = f"namprd{p.rng.randint(10, 19)}"
                value = f"{host}{p.token(24, '0123456789ABCDEF')}@{host}.{cluster}.prod.outlook.com"
            elif style == "helpdesk":
                value = f"{p.token(16, '0123456789abcdef')}.{p.rng.randint(100, 999)}@mail.{domain}"
            elif style == "bulk":
                value = f"{p.token(24, '0123456789abcdef')}@mailer.{domain}"
            else:
                value = f"{moment:%Y%m%d%H%M%S}.{p.token(8, '0123456789ABCDEF')}@{domain}"
            if value not in self.used_message_ids:
                self.used_message_ids.add(value)
                return value

    def later(self, moment: datetime, low_minutes: int, high_minutes: int) -> datetime | None:
        """A moment some minutes after `moment`, or None when that falls outside the window."""
        candidate = moment + timedelta(
            minutes=self.rng.randint(low_minutes, high_minutes), seconds=self.rng.randint(0, 59)
        )
        return candidate if candidate < self.p.window_end - timedelta(seconds=30) else None

    # ---- serialisation -------------------------------------------------------------------

    def emit(self, mail: _Mail) -> _Mail:
        """Serialise a mail to RFC 822 bytes and record it with its ground truth."""
        p, rng = self.p, self.rng
        sender_domain = mail.from_header.rsplit("@", 1)[1].rstrip(">")
        style_for_id = mail.style
        if not mail.inbound:
            style_for_id = "helpdesk"
        elif mail.kind in ("newsletter", "notification", "spam"):
            style_for_id = "bulk"
        mail.message_id = self._message_id(style_for_id, sender_domain, mail.sent_at)
        local = mail.sent_at.astimezone(local_offset(mail.region, mail.sent_at))
        received = mail.sent_at + timedelta(seconds=rng.randint(1, 20)) if mail.inbound else mail.sent_at
        headers: list[str] = []
        if mail.inbound:
            relay = f"mail-{p.token(6)}.{sender_domain}"
            headers += [
                f"Delivered-To: {self.mailbox}",
                f"Received: by 2002:a05:{p.token(4, HEX)}:{p.token(3, HEX)}:b0:{p.token(3, HEX)} "
                f"with SMTP id {p.token(10)};\n        {format_datetime(received)}",
                f"Return-Path: <{mail.from_header.rsplit('<', 1)[-1].rstrip('>')}>",
                f"Received: from {relay} ({relay} [203.0.113.{rng.randint(2, 250)}])\n"
                f"        by mx.google.com with ESMTPS id {p.token(12)}\n        for <{self.mailbox}>\n"
                "        (version=TLS1_3 cipher=TLS_AES_256_GCM_SHA384 bits=256/256);\n"
                f"        {format_datetime(received)}",
            ]
        headers += [
            "MIME-Version: 1.0",
            f"Date: {format_datetime(local)}",
            f"From: {mail.from_header}",
            f"To: {mail.to_header}",
        ]
        if mail.cc_header:
            headers.append(f"Cc: {mail.cc_header}")
        headers.append(f"Subject: {_encode_header('Subject', mail.subject, mail.charset)}")
        headers.append(f"Message-ID: <{mail.message_id}>")
        if mail.in_reply_to:
            headers.append(f"In-Reply-To: <{mail.in_reply_to}>")
            headers.append("References: " + "\n ".join(f"<{ref}>" for ref in mail.references))
        if mail.style == "outlook" and mail.inbound:
            headers.append("X-Mailer: Microsoft Outlook 16.0")
        elif mail.style == "generic" and mail.inbound and mail.kind == "customer":
            headers.append("User-Agent: Mozilla Thunderbird")
        headers += mail.extra_headers
        content_headers, body = self._content(mail)
        raw = _join(headers + content_headers, body).replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        thread_id = self._thread_ids.get(mail.references[0] if mail.references else mail.message_id)
        gmail_id = self._gmail_id(received)
        if thread_id is None:
            thread_id = gmail_id
        self._thread_ids[mail.message_id] = thread_id
        self.messages.append(
            GmailMessage(
                gmail_id=gmail_id,
                thread_id=thread_id,
                labels=tuple(mail.labels),
                raw=raw,
                message_id=mail.message_id,
                internal_date=received.replace(microsecond=0),
            )
        )
        self.expected.append(
            ExpectedItem(
                source="gmail",
                external_id=mail.message_id,
                sent_at=mail.sent_at.replace(microsecond=0),
                category=mail.category,
                ask=mail.ask,
                asks=(mail.ask,) if mail.ask else (),
                kind=mail.kind,
                language=mail.language,
                oversized=mail.oversized,
                customer=mail.customer,
                author_is_internal=mail.internal,
            )
        )
        return mail

    def _content(self, mail: _Mail) -> tuple[list[str], bytes]:
        p = self.p
        plain = mail.body.plain()
        charset = mail.charset
        if not (_encodable(plain, charset) and _encodable(mail.body.html(mail.style, charset), charset)):
            charset = "utf-8"
        prefer = "base64" if mail.language == "ja" or (mail.style == "outlook" and self.rng.random() < 0.4) else "qp"
        if mail.format == "plain":
            headers, body = _text_part(plain, "plain", charset, prefer)
        elif mail.format == "html":
            headers, body = _text_part(mail.body.html(mail.style, charset), "html", charset, prefer)
        else:
            boundary = (
                "000000000000" + p.token(12, "0123456789abcdef")
                if mail.style == "gmail"
                else f"_000_{p.token(20, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789')}_"
            )
            text_part = _join(*_text_part(plain, "plain", charset, prefer))
            html_part = _join(*_text_part(mail.body.html(mail.style, charset), "html", charset, prefer))
            headers, body = _multipart("alternative", boundary, [text_part, html_part])
        if mail.attachment:
            boundary = "000000000000" + p.token(12, "0123456789abcdef")
            image = b"\x89PNG\r\n\x1a\n" + self.rng.randbytes(self.rng.randint(300, 900))
            attachment = _join(
                [
                    f'Content-Type: image/png; name="{mail.attachment}"',
                    f'Content-Disposition: attachment; filename="{mail.attachment}"',
                    "Content-Transfer-Encoding: base64",
                    f"X-Attachment-Id: f_{p.token(9)}",
                ],
                base64.encodebytes(image),
            )
            headers, body = _multipart("mixed", boundary, [_join(headers, body), attachment])
        return headers, body

    # ---- people and formats --------------------------------------------------------------

    def customer_address(self, person: DemoPerson, charset: str) -> str:
        return _address(person.name, person.email, charset)

    def agent_address(self, agent: DemoPerson) -> str:
        return _address(f"{agent.name} ({self.p.org.name} Support)", self.mailbox)

    def choose_format(self, person: DemoPerson, language: str) -> tuple[str, str, str]:
        """(format, charset, style) for mail a customer writes."""
        rng = self.rng
        style = self.p.mail_style(person)
        roll = rng.random()
        if style == "outlook":
            fmt = "alternative" if roll < 0.5 else "html" if roll < 0.82 else "plain"
        elif style == "gmail":
            fmt = "alternative" if roll < 0.6 else "plain"
        else:
            fmt = "plain" if roll < 0.7 else "html" if roll < 0.85 else "alternative"
        charset = "utf-8"
        if language in ("de", "fr", "es", "pt") and (style == "outlook" or rng.random() < 0.5):
            charset = "iso-8859-1" if rng.random() < 0.6 else "windows-1252"
        elif language == "en" and style == "outlook" and rng.random() < 0.35:
            charset = "windows-1252"
        return fmt, charset, style

    def customer_body(self, person: DemoPerson, fb: Feedback, agent: DemoPerson | None, charset: str) -> _Body:
        p, rng = self.p, self.rng
        language = fb.language
        greetings = content.MAIL_GREETINGS[language]
        if agent is None:
            # Writing to the shared mailbox: no agent's name to greet.
            greetings = tuple(g for g in greetings if "{agent}" not in g) or greetings
        greeting = p.fill(rng.choice(greetings), agent=agent.first_name if agent else "team", org=p.org.name)
        paragraphs = [greeting]
        if language == "en" and rng.random() < 0.5:
            paragraphs.append(p.fill(rng.choice(content.MAIL_CONTEXT)))
        text = fb.text
        if fb.category == "bug_report" and language == "en" and rng.random() < 0.4:
            text += " " + p.fill(rng.choice(content.BUG_DETAILS))
        paragraphs.append(text)
        if language == "en":
            after = p.fill(rng.choice(content.MAIL_AFTER))
            if after:
                paragraphs.append(after)
        paragraphs.append(f"{rng.choice(content.MAIL_CLOSINGS[language])}\n{person.first_name}")
        body = _Body(paragraphs, signature=self.signature(person))
        if charset == "windows-1252":
            body.paragraphs = [_smart(x) for x in body.paragraphs]
        return body

    def signature(self, person: DemoPerson) -> str:
        p = self.p
        return p.fill(
            self.rng.choice(content.SIGNATURES),
            name=person.name,
            title=person.title,
            company=person.company or p.org.name,
            domain=person.domain,
            phone=f"+1 (555) 01{self.rng.randint(0, 9)}-{self.rng.randint(1000, 9999)}",
        )

    def subject_for(self, fb: Feedback) -> str:
        p, rng = self.p, self.rng
        short = next((a.short for a in p.spec.asks if a.key == fb.ask), p.org.name)
        if fb.language != "en":
            return p.fill(rng.choice(content.SUBJECTS_BY_LANGUAGE[fb.language][fb.category]), short=short)
        subject = p.fill(rng.choice(content.SUBJECTS[fb.category]), short=short)
        return subject[:1].upper() + subject[1:]

    def quote_of(self, mail: _Mail, style: str) -> _Quote:
        local = mail.sent_at.astimezone(local_offset(mail.region, mail.sent_at))
        return _Quote(
            style,
            _display(mail.from_header, mail.sender, self.p.org.name),
            local,
            mail.to_header,
            mail.subject,
            mail.body.plain().rstrip("\n"),
        )

    # ---- threads -------------------------------------------------------------------------

    def support_thread(self, oversized: bool = False) -> None:
        p, rng = self.p, self.rng
        if oversized:
            company = p.org.companies[3] if p.spec.slug == "acme" else p.org.companies[0]
            person = company.people[0]
            day = p.pick_day(p.days // 4, max(p.days // 4 + 1, p.days * 3 // 4))
            fb = Feedback("", "bug_report", "csv-encoding" if p.spec.slug == "acme" else "double-booking", "en")
        else:
            person = p.customer()
            company = p.company_of(person)
            category = p.pick_category(SUPPORT_MIX)
            day = p.pick_day_for(category)
            fb = p.feedback(category, person, day)
        agent = rng.choice(self.agents)
        fmt, charset, style = self.choose_format(person, fb.language)
        if oversized:
            fmt, charset, style = "plain", "utf-8", "generic"
            body = self.oversized_body(person)
            subject = (
                "Export problem, full data pasted below"
                if p.spec.slug == "acme"
                else "Double bookings, list of affected appointments"
            )
        else:
            body = self.customer_body(person, fb, None, charset)
            subject = self.subject_for(fb)
        labels = ["Inbox", "Opened"]
        if rng.random() < 0.3:
            labels.insert(1, "Important")
        thread_labels: list[str] = []
        if rng.random() < 0.35:
            thread_labels.append(f"Customers/{company.name}")
        if fb.category == "bug_report" and rng.random() < 0.15:
            thread_labels.append(ESCALATION_LABEL)
        first = self.emit(
            _Mail(
                sender=person,
                from_header=self.customer_address(person, charset),
                to_header=self.mailbox,
                subject=subject,
                sent_at=p.moment(day, person.region),
                region=person.region,
                body=body,
                labels=labels + thread_labels,
                category=fb.category,
                ask=fb.ask,
                language=fb.language,
                customer=company.name,
                internal=False,
                format=fmt,
                charset=charset,
                style=style,
                attachment="screenshot.png" if fb.category == "bug_report" and rng.random() < 0.15 else None,
                oversized=oversized,
            )
        )
        chain = [first]
        if rng.random() > 0.85:
            return
        reply_at = self.later(first.sent_at, 25, 1200)
        if reply_at is None:
            return
        text = p.fill(rng.choice(content.AGENT_REPLIES[fb.category]))
        reply_body = _Body([f"Hi {person.first_name},", text, f"Best,\n{agent.first_name}\n{p.org.name} Support"])
        if not oversized:
            reply_body.quote = self.quote_of(first, "gmail")
        reply = self.emit(self.reply_mail(first, agent, reply_body, reply_at, thread_labels))
        chain.append(reply)
        if rng.random() < 0.06:
            self.out_of_office(reply, person, thread_labels)
            return
        if rng.random() > 0.45:
            return
        follow_at = self.later(reply.sent_at, 30, 1800)
        if follow_at is None:
            return
        category, ask, language = "other", None, fb.language
        if fb.category == "bug_report" and rng.random() < 0.45 and fb.language == "en":
            category, ask, text = "bug_report", fb.ask, rng.choice(content.FOLLOW_UPS_NUDGE)
        elif fb.category == "feature_request" and rng.random() < 0.3:
            extra = p.feedback("feature_request", person, day)
            category, ask, language = "feature_request", extra.ask, extra.language
            text = extra.text if extra.language != "en" else "One more thing while I have you: " + extra.text
        elif fb.language != "en":
            text = rng.choice(content.THANKS_BY_LANGUAGE[fb.language])
        else:
            text, language = rng.choice(content.FOLLOW_UPS_OTHER), "en"
        follow_body = _Body([text, person.first_name], signature=self.signature(person) if rng.random() < 0.5 else None)
        follow_body.quote = self.quote_of(reply, "outlook" if style == "outlook" else "gmail")
        follow = self.emit(
            _Mail(
                sender=person,
                from_header=self.customer_address(person, charset),
                to_header=self.mailbox,
                subject="Re: " + subject if not subject.startswith("Re:") else subject,
                sent_at=follow_at,
                region=person.region,
                body=follow_body,
                labels=["Inbox", "Opened", *thread_labels],
                category=category,
                ask=ask,
                language=language,
                customer=company.name,
                internal=False,
                format=fmt if fmt != "html" or style == "outlook" else "alternative",
                charset=charset,
                style=style,
                in_reply_to=reply.message_id,
                references=[*reply.references, reply.message_id],
            )
        )
        if rng.random() < 0.3:
            final_at = self.later(follow.sent_at, 20, 900)
            if final_at is not None:
                final_text = p.fill(rng.choice(content.AGENT_REPLIES["other" if category == "other" else category]))
                final = _Body([f"Hi {person.first_name},", final_text, f"Best,\n{agent.first_name}"])
                final.quote = self.quote_of(follow, "gmail")
                self.emit(self.reply_mail(follow, agent, final, final_at, thread_labels))

    def reply_mail(self, parent: _Mail, agent: DemoPerson, body: _Body, when: datetime, labels: list[str]) -> _Mail:
        subject = parent.subject if parent.subject.lower().startswith("re:") else "Re: " + parent.subject
        to = parent.from_header if parent.inbound else parent.to_header
        return _Mail(
            sender=agent,
            from_header=self.agent_address(agent),
            to_header=to,
            subject=subject,
            sent_at=when,
            region="us-east",
            body=body,
            labels=["Sent", *labels],
            kind="agent_reply",
            internal=True,
            customer=parent.customer,
            format="alternative",
            charset="utf-8",
            style="gmail",
            inbound=False,
            in_reply_to=parent.message_id,
            references=[*parent.references, parent.message_id],
        )

    def out_of_office(self, parent: _Mail, person: DemoPerson, labels: list[str]) -> None:
        p, rng = self.p, self.rng
        when = self.later(parent.sent_at, 0, 2)
        if when is None:
            return
        language = person.language if person.language in content.OUT_OF_OFFICE else "en"
        back = when + timedelta(days=rng.randint(3, 12))
        colleague = next((q for q in p.company_of(person).people if q != person), person)
        text = p.fill(
            rng.choice(content.OUT_OF_OFFICE[language]),
            date=_local_date(back, language),
            colleague=f"{colleague.name} ({colleague.email})",
        )
        prefix = {
            "de": "Abwesenheitsnotiz: ",
            "fr": "Réponse automatique : ",
            "es": "Respuesta automática: ",
            "pt": "Resposta automática: ",
            "ja": "自動応答: ",
        }.get(language, "Automatic reply: ")
        self.emit(
            _Mail(
                sender=person,
                from_header=self.customer_address(person, "utf-8"),
                to_header=self.mailbox,
                subject=prefix + parent.subject,
                sent_at=when,
                region=person.region,
                body=_Body([text]),
                labels=["Inbox", "Opened", *labels],
                kind="auto_reply",
                language=language,
                customer=person.company,
                internal=False,
                format="plain",
                style=p.mail_style(person),
                extra_headers=["Auto-Submitted: auto-replied", "X-Autoreply: yes"],
                in_reply_to=parent.message_id,
                references=[*parent.references, parent.message_id],
            )
        )

    def outreach_thread(self) -> None:
        p, rng = self.p, self.rng
        person = p.customer()
        company = p.company_of(person)
        csm = rng.choice(p.staff_with("csm"))
        category = p.pick_category(OUTREACH_MIX)
        reply_day = p.pick_day_for(category)
        day = max(0, reply_day - 1)
        opener = _Body(
            [
                f"Hi {person.first_name},",
                p.fill(rng.choice(content.CSM_CHECKINS)) + " I'd love to hear how things are going "
                f"for the team at {company.name}.",
                f"Best,\n{csm.name}\n{csm.title}, {p.org.name}",
            ]
        )
        first = self.emit(
            _Mail(
                sender=csm,
                from_header=_address(csm.name, csm.email),
                to_header=self.customer_address(person, "utf-8"),
                cc_header=self.mailbox,
                subject=f"Checking in – {company.name} x {p.org.name}",
                sent_at=p.moment(day),
                region="us-east",
                body=opener,
                labels=["Inbox", "Opened"],
                kind="outreach",
                internal=True,
                customer=company.name,
                format="alternative",
                style="gmail",
                inbound=True,
            )
        )
        when = self.later(first.sent_at, 60, 2880)
        if when is None:
            return
        fb = p.feedback(category, person, reply_day)
        fmt, charset, style = self.choose_format(person, fb.language)
        body = self.customer_body(person, fb, csm, charset)
        body.quote = self.quote_of(first, "outlook" if style == "outlook" else "gmail")
        reply = self.emit(
            _Mail(
                sender=person,
                from_header=self.customer_address(person, charset),
                to_header=first.from_header,
                cc_header=self.mailbox,
                subject="Re: " + first.subject,
                sent_at=when,
                region=person.region,
                body=body,
                labels=["Inbox", "Opened"],
                category=fb.category,
                ask=fb.ask,
                language=fb.language,
                customer=company.name,
                internal=False,
                format=fmt,
                charset=charset,
                style=style,
                in_reply_to=first.message_id,
                references=[first.message_id],
            )
        )
        ack_at = self.later(reply.sent_at, 30, 600)
        if ack_at is not None and rng.random() < 0.6:
            ack = _Body(
                [
                    f"Thanks {person.first_name}!",
                    p.fill(rng.choice(content.ACKS[fb.category]), first=person.first_name),
                    csm.first_name,
                ]
            )
            ack.quote = self.quote_of(reply, "gmail")
            self.emit(
                _Mail(
                    sender=csm,
                    from_header=_address(csm.name, csm.email),
                    to_header=reply.from_header,
                    cc_header=self.mailbox,
                    subject=reply.subject,
                    sent_at=ack_at,
                    region="us-east",
                    body=ack,
                    labels=["Inbox", "Opened"],
                    kind="outreach",
                    internal=True,
                    customer=company.name,
                    format="alternative",
                    style="gmail",
                    in_reply_to=reply.message_id,
                    references=[*reply.references, reply.message_id],
                )
            )

    def forward(self) -> None:
        p, rng = self.p, self.rng
        person = p.customer()
        company = p.company_of(person)
        ae = rng.choice(p.staff_with("ae", "se"))
        category = p.pick_category(FORWARD_MIX)
        day = p.pick_day_for(category)
        fb = p.feedback(category, person, day)
        original_at = p.moment(day, person.region) - timedelta(hours=rng.randint(1, 6))
        original_at = max(original_at, p.window_start)
        original = self.customer_body(person, fb, ae, "utf-8")
        subject = self.subject_for(fb)
        forwarded = _Quote(
            "gmail",
            f"{person.name} <{person.email}>",
            original_at.astimezone(local_offset(person.region, original_at)),
            ae.email,
            subject,
            original.plain().rstrip("\n"),
        )
        body = _Body(
            [
                "Hi team,",
                f"Forwarding this from {person.first_name} at {company.name}, can we log it and keep me posted?",
                f"Thanks,\n{ae.first_name}",
            ],
            forwarded=forwarded,
        )
        self.emit(
            _Mail(
                sender=ae,
                from_header=_address(ae.name, ae.email),
                to_header=self.mailbox,
                subject="Fwd: " + subject,
                sent_at=p.moment(day),
                region="us-east",
                body=body,
                labels=["Inbox", "Important", "Opened"],
                category=fb.category,
                ask=fb.ask,
                kind="forward",
                language=fb.language,
                customer=company.name,
                internal=True,
                format="alternative",
                style="gmail",
            )
        )

    def bulk(self, kind: str) -> None:
        p, rng = self.p, self.rng
        day = p.pick_day()
        when = p.moment(day, "us-east")
        if kind == "newsletter":
            name, address, subject = rng.choice(p.spec.newsletters)
            subject = p.fill(subject)
            items = rng.sample(content.NEWSLETTER_ITEMS, 3)
            paragraphs = [f"{name}\n{'=' * len(name)}"] + [
                f"{title}\n{blurb}\nRead more: https://{address.split('@')[1]}/p/{p.token(8)}" for title, blurb in items
            ]
            paragraphs.append(
                "You are receiving this because you subscribed. Unsubscribe: "
                f"https://{address.split('@')[1]}/unsubscribe"
            )
            labels = (
                ["Inbox", "Category Promotions", "Unread"]
                if rng.random() < 0.7
                else ["Category Promotions", "Archived"]
            )
            extra = [f"List-Unsubscribe: <mailto:unsubscribe@{address.split('@')[1]}>", "Precedence: bulk"]
            fmt, style = "alternative", "generic"
        elif kind == "notification":
            name, address, subject, text = rng.choice(content.NOTIFICATIONS)
            subject = p.fill(subject, ticket=str(rng.randint(1000, 9999)))
            paragraphs = [p.fill(text, first=rng.choice(p.org.staff).first_name, ticket=str(rng.randint(1000, 9999)))]
            labels = ["Inbox", "Category Updates", "Opened"]
            extra = ["Auto-Submitted: auto-generated"]
            fmt, style = ("plain" if rng.random() < 0.6 else "alternative"), "generic"
        else:
            name, address, subject, text = rng.choice(content.SPAM)
            paragraphs = [text]
            labels = ["Spam", "Unread"]
            extra = []
            fmt, style = "alternative", "generic"
        self.emit(
            _Mail(
                sender=None,
                from_header=_address(name, address),
                to_header=self.mailbox,
                subject=subject,
                sent_at=when,
                region="us-east",
                body=_Body(paragraphs),
                labels=labels,
                kind=kind,
                format=fmt,
                style=style,
                extra_headers=extra,
                internal=None,
            )
        )

    def oversized_body(self, person: DemoPerson) -> _Body:
        """A customer pastes a whole CSV into the mail: far over the 50,000-character limit."""
        p, rng = self.p, self.rng
        rows: list[str] = []
        size = 0
        if p.spec.slug == "acme":
            rows.append("order_id;customer_name;city;amount_eur;created_at")
            # The bug being reported: UTF-8 names shown as Latin-1 mojibake.
            names = ("MÃ¼ller GmbH", "Ã–zdemir Handel", "BÃ¤ckerei SchÃ¶n", "CafÃ© LumiÃ¨re",
                     "StraÃŸenbau Nord", "Nordwind AG", "Peters & SÃ¶hne", "Zoë's Deli")  # fmt: skip
            cities = ("MÃ¼nchen", "KÃ¶ln", "DÃ¼sseldorf", "Hamburg", "NÃ¼rnberg", "Berlin")
            while size < OVERSIZED_CHARS + 5000:
                stamp = p.window_start - timedelta(minutes=rng.randint(10, 90000))
                row = (
                    f"{rng.randint(100000, 999999)};{rng.choice(names)};{rng.choice(cities)};"
                    f"{rng.randint(10, 9999)},{rng.randint(0, 99):02d};{stamp:%Y-%m-%d %H:%M}"
                )
                rows.append(row)
                size += len(row) + 1
            intro = (
                "Our CSV export mangles every umlaut, see the full export pasted below "
                "(we can't attach files from this system):"
            )
        else:
            rows.append("appointment_id,provider,location,start_time,patient_initials,booked_by,status")
            providers = ("Dr. Chen", "Dr. Patel", "Dr. Ortiz", "NP Rivera", "Dr. Okoye", "PT Lindqvist")
            while size < OVERSIZED_CHARS + 5000:
                stamp = p.window_start + timedelta(minutes=15 * rng.randint(0, 2000))
                location = rng.choice(("Main", "Downtown", "North"))
                booked_by = rng.choice(("frontdesk1", "frontdesk2", "online"))
                status = rng.choice(("booked", "booked", "DOUBLE-BOOKED", "checked-in"))
                initials = p.token(2, "ABCDEFGHJKLMNPRSTW")
                row = (
                    f"A{rng.randint(1000000, 9999999)},{rng.choice(providers)},{location},"
                    f"{stamp:%Y-%m-%d %H:%M},{initials},{booked_by},{status}"
                )
                rows.append(row)
                size += len(row) + 1
            intro = (
                "We keep getting double bookings. Here is the full list of affected appointments from our "
                "export, pasted below:"
            )
        return _Body(
            [f"Hi {p.org.name} support,", intro, "\n".join(rows), f"Thanks,\n{person.first_name}"],
            signature=self.signature(person),
        )

    def generate(self) -> tuple[GmailMailbox, list[ExpectedItem]]:
        p, rng = self.p, self.rng
        target = p.scaled(305, 311, minimum=6)
        if "email_csv" in p.spec.oversized:
            self.support_thread(oversized=True)
        while len(self.messages) < target:
            roll = rng.random()
            if roll < 0.62:
                self.support_thread()
            elif roll < 0.70:
                self.outreach_thread()
            elif roll < 0.75:
                self.forward()
            elif roll < 0.85:
                self.bulk("notification")
            elif roll < 0.95:
                self.bulk("newsletter")
            else:
                self.bulk("spam")
        order = sorted(
            range(len(self.messages)),
            key=lambda i: (self.messages[i].internal_date, self.messages[i].gmail_id),
        )
        messages = [self.messages[i] for i in order]
        expected = sorted(self.expected, key=lambda e: (e.sent_at, e.external_id))
        return GmailMailbox(address=self.mailbox, messages=messages), expected


def _display(from_header: str, person: DemoPerson | None, org_name: str) -> str:
    if person is None:
        return from_header
    if person.company is None and "support@" in from_header:
        return f"{person.name} ({org_name} Support) <{from_header.rsplit('<', 1)[-1].rstrip('>')}>"
    return f"{person.name} <{person.email}>"


def _local_date(moment: datetime, language: str) -> str:
    """A date as someone writing in `language` would write it in an out-of-office note."""
    if language == "en":
        return f"{MONTHS[moment.month - 1]} {moment.day}"
    if language == "ja":
        return f"{moment.year}年{moment.month}月{moment.day}日"
    if language == "de":
        return f"{moment:%d.%m.%Y}"
    return f"{moment:%d/%m/%Y}"


def _smart(text: str) -> str:
    """Typographic punctuation as Outlook types it (all of it exists in windows-1252)."""
    return text.replace("'", "’").replace(" - ", " – ").replace("...", "…")


def build_gmail(planner: Planner) -> tuple[GmailMailbox, list[ExpectedItem]]:
    """Generate one organisation's support mailbox and its ground truth."""
    return _GmailBuilder(planner).generate()
