"""The Gmail / Takeout mbox reader and the e-mail parsing the live Gmail reader will reuse."""

from __future__ import annotations

import base64
import os
import re
from datetime import UTC, datetime
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import compat32
from email.utils import formataddr
from pathlib import Path
from typing import Any

import pytest

from headway_assets.core.message import (
    NormalisedMessage,
    ReadResult,
    SkippedItem,
    SourceReadError,
    TimeWindow,
)
from headway_assets.sources.exports.limits import ExportLimits
from headway_assets.sources.gmail.export import (
    build_gmail_message,
    decode_header_value,
    decode_text_bytes,
    gmail_thread_id_from_decimal,
    html_to_text,
    parse_email_message,
    parse_gmail_labels,
    read_gmail_mbox,
    strip_quotes_and_signature,
)
from headway_assets.sources.people import Person

WINDOW = TimeWindow(datetime(2026, 10, 3, tzinfo=UTC), datetime(2026, 10, 4, tzinfo=UTC))
DOMAINS = ("acme.example",)
THREAD = "1773664405479613283"
THREAD_HEX = "189d5261275de363"


def b64(text: str, encoding: str = "utf-8") -> str:
    return base64.b64encode(text.encode(encoding)).decode("ascii")


ZAPIER = "Please add a Zapier integration for our ops team."
JAPANESE_SUBJECT = "ダッシュボード 🚀 request"
JAPANESE_BODY = "ダッシュボードの読み込みが遅いです 🐢"
SIGNATURE_DELIMITER = "-- "  # RFC 3676: dash, dash, space
FORWARDED = "FYI\n\n---------- Forwarded message ---------\nFrom: Bob <bob@x.example>\nDate: Fri\n\nWe need SCIM."

MESSAGES: list[bytes] = [
    # 1: multipart/alternative, quoted reply, signature, ISO-8859-1 subject, folded labels,
    #    an mboxrd-escaped ">From " body line.
    f"""From {THREAD}@xxx Sat Oct 03 10:00:00 +0000 2026
X-GM-THRID: {THREAD}
X-Gmail-Labels: Inbox,"Travel, 2023",
 Important
Delivered-To: support@acme.example
From: "Bob Buyer" <Bob@Globex-Corp.example>
To: Support <support@acme.example>
Subject: =?ISO-8859-1?Q?Re:_Caf=E9_export?=
Date: Sat, 03 Oct 2026 12:00:00 +0200
Message-ID: <m1@globex-corp.example>
In-Reply-To: <m0@acme.example>
References: <m0@acme.example>
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="b1"

--b1
Content-Type: text/plain; charset="utf-8"
Content-Transfer-Encoding: quoted-printable

Hi Alice,

The CSV export turns Caf=C3=A9 into Caf=C3=83=C2=A9.
>From the dashboard it works fine.

Thanks,
Bob Buyer
Head of IT, Globex

On Fri, 2 Oct 2026 at 09:00, Alice Ng <alice@acme.example> wrote:
> Any feedback on the export?
--b1
Content-Type: text/html; charset="utf-8"

<p>Hi Alice (html version)</p>
--b1--
""".encode("ascii"),
    # 2: HTML-only, windows-1252 quoted-printable body and encoded-word headers.
    b"""From 1773664405479613300@xxx Sat Oct 03 11:00:00 +0000 2026
X-GM-THRID: 1773664405479613300
X-Gmail-Labels: Inbox
From: =?windows-1252?Q?Carol_=93CC=94_Chen?= <carol@initech.example>
To: support@acme.example
Subject: =?windows-1252?Q?=93Dark_mode=94_please_=96_=80?=
Date: Sat, 3 Oct 2026 11:00:00 +0000
Message-ID: <m2@initech.example>
MIME-Version: 1.0
Content-Type: text/html; charset=windows-1252
Content-Transfer-Encoding: quoted-printable

<html><head><style>p {color: red}</style><script>var x =3D 1;</script></head><body>
<p>We need =93dark mode=94 &amp; a <b>high&nbsp;contrast</b> theme.</p><div>Our night shift=
 agents get headaches.<br>Price: 10=80/seat is fine.</div>
<ul><li>Dashboard</li><li>Reports</li></ul>
<div class=3D"gmail_quote"><div>On Fri, Oct 2, 2026 at 9:00 AM Support =
&lt;support@acme.example&gt; wrote:<br></div>
<blockquote class=3D"gmail_quote"><p>How can we help?</p></blockquote></div>
</body></html>
""",
    # 3: UTF-8 base64 subject and body (Japanese and emoji), Outlook-style quoted header.
    f"""From 1773664405479613400@xxx Sat Oct 03 12:30:00 +0000 2026
X-GM-THRID: 1773664405479613400
From: Kenji Sato <kenji@hooli.co.jp>
To: support@acme.example
Subject: =?UTF-8?B?{b64(JAPANESE_SUBJECT)}?=
Date: Sat, 03 Oct 2026 21:30:00 +0900
Message-ID: <m3@hooli.co.jp>
Content-Type: text/plain; charset=UTF-8
Content-Transfer-Encoding: base64

{
        b64(
            JAPANESE_BODY
            + chr(10)
            + "Please add caching."
            + chr(10)
            + chr(10)
            + "_" * 32
            + chr(10)
            + "From: Support <support@acme.example>"
            + chr(10)
            + "Sent: Friday, October 2, 2026 9:00 AM"
            + chr(10)
            + "To: Kenji"
            + chr(10)
            + "Subject: RE: dashboard"
            + chr(10)
            + chr(10)
            + "What is slow?"
            + chr(10)
        )
    }
""".encode("ascii"),
    # 4: a damaged base64 part whose readable start is salvaged, plus an attachment.
    f"""From 1773664405479613500@xxx Sat Oct 03 13:00:00 +0000 2026
From: bob@globex-corp.example
To: support@acme.example
Subject: Audit logs
Date: Sat, 03 Oct 2026 13:00:00 +0000
Message-ID: <m4@globex-corp.example>
Content-Type: multipart/mixed; boundary="b4"

--b4
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: base64

{b64("We need audit logs for SOC 2." + chr(10))}@@@@more===
--b4
Content-Type: application/pdf; name="quote.pdf"
Content-Disposition: attachment; filename="quote.pdf"
Content-Transfer-Encoding: base64

JVBERi0xLjQK
--b4--
""".encode("ascii"),
    # 5: nothing salvageable.
    b"""From 1773664405479613600@xxx Sat Oct 03 13:30:00 +0000 2026
From: bob@globex-corp.example
To: support@acme.example
Subject: Broken
Date: Sat, 03 Oct 2026 13:30:00 +0000
Message-ID: <m5@globex-corp.example>
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: base64

@@@@ ### !!!
""",
    # 6: an unknown charset over windows-1252 bytes.
    b"""From 1773664405479613700@xxx Sat Oct 03 14:00:00 +0000 2026
From: =?utf-8?q?Fran=C3=A7ois?= <francois@globex-corp.example>
To: support@acme.example
Subject: Prix
Date: Sat, 03 Oct 2026 14:00:00 +0000
Message-ID: <m6@globex-corp.example>
Content-Type: text/plain; charset="x-klingon"
Content-Transfer-Encoding: 8bit

"""
    + "Prix: 10 € par siège — trop cher.\n".encode("cp1252"),
    # 7: no usable date anywhere.
    b"""From nobody Sometime around 12:00
From: bob@globex-corp.example
To: support@acme.example
Subject: When?
Date: yesterday-ish
Message-ID: <m7@globex-corp.example>

Undated request.
""",
    # 8: no Date header (envelope date used) and no Message-ID (hashed id).
    b"""From 1773664405479613800@xxx Sat Oct 03 09:00:00 +0000 2026
From: Dana <dana@globex-corp.example>
To: support@acme.example
Subject: Bulk edit

Bulk edit would save us hours.
""",
    # 9: a chat transcript pseudo-message.
    b"""From 1773664405479613900@xxx Sat Oct 03 15:00:00 +0000 2026
X-Gmail-Labels: Chat
From: bob@globex-corp.example
Date: Sat, 03 Oct 2026 15:00:00 +0000
Message-ID: <chat9@gmail.example>

hey, u there?
""",
    # 10: only a thank-you above the quote.
    b"""From 1773664405479614000@xxx Sat Oct 03 15:10:00 +0000 2026
From: Alice Ng <alice@acme.example>
To: bob@globex-corp.example
Subject: Re: Audit logs
Date: Sat, 03 Oct 2026 15:10:00 +0000
Message-ID: <m10@acme.example>

Thanks!

On Sat, 3 Oct 2026 at 13:00, bob@globex-corp.example wrote:
> We need audit logs for SOC 2.
""",
    # 11: an internal reply with an RFC 3676 signature.
    f"""From 1773664405479614100@xxx Sat Oct 03 15:30:00 +0000 2026
X-GM-THRID: {THREAD}
From: Alice Ng <alice@acme.example>
To: "Bob Buyer" <bob@globex-corp.example>
Cc: support@acme.example
Subject: Re: =?ISO-8859-1?Q?Caf=E9_export?=
Date: Sat, 03 Oct 2026 15:30:00 +0000
Message-ID: <m11@acme.example>

Hi Bob, we'll look into the export bug.

{SIGNATURE_DELIMITER}
Alice Ng
Support lead
""".encode("ascii"),
    # 12: outside the window.
    b"""From 1773664405479614200@xxx Mon Oct 05 10:00:00 +0000 2026
From: bob@globex-corp.example
Subject: Later
Date: Mon, 05 Oct 2026 10:00:00 +0000
Message-ID: <m12@globex-corp.example>

Outside the window.
""",
    # 13: the file ends mid-message: truncated base64, no closing boundary.
    f"""From 1773664405479614300@xxx Sat Oct 03 16:00:00 +0000 2026
From: bob@globex-corp.example
To: support@acme.example
Subject: Zapier
Date: Sat, 03 Oct 2026 16:00:00 +0000
Message-ID: <m13@globex-corp.example>
Content-Type: multipart/mixed; boundary="b13"

--b13
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: base64

{b64(ZAPIER)[:42]}""".encode("ascii"),
]


def write_mbox(path: Path, newline: str = "\n", messages: list[bytes] = MESSAGES) -> Path:
    data = b"\n".join(m if m.endswith(b"\n") else m + b"\n" for m in messages[:-1]) + b"\n" + messages[-1]
    if newline != "\n":
        data = data.replace(b"\n", newline.encode())
    path.write_bytes(data)
    return path


def read(path: Path, **kwargs: Any) -> ReadResult:
    kwargs.setdefault("internal_domains", DOMAINS)
    return read_gmail_mbox(path, WINDOW, **kwargs)


def by_id(result: ReadResult) -> dict[str, NormalisedMessage]:
    return {m.external_id: m for m in result.messages}


@pytest.fixture(params=["\n", "\r\n"], ids=["lf", "crlf"])
def mbox(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    return write_mbox(tmp_path / "gmail.mbox", request.param)


def test_selects_window_and_orders_by_time(mbox: Path) -> None:
    result = read(mbox)
    ids = [m.external_id for m in result.messages]
    assert ids[0].startswith("sha256:")  # message 8, 09:00, no Message-ID
    assert ids[1:] == [
        "m1@globex-corp.example",
        "m2@initech.example",
        "m3@hooli.co.jp",
        "m4@globex-corp.example",
        "m6@globex-corp.example",
        "m11@acme.example",
        "m13@globex-corp.example",
    ]
    assert result.ignored == {"chat": 1}


def test_skipped_items_name_the_message_and_the_problem(mbox: Path) -> None:
    assert read(mbox).skipped == [
        SkippedItem(
            "gmail.mbox:message 7 <m7@globex-corp.example>",
            "no parseable Date header (yesterday-ish) and no date on the envelope 'From ' line; "
            "the message cannot be placed in time",
        ),
        SkippedItem(
            "gmail.mbox:message 5 <m5@globex-corp.example>",
            "no readable text body (part 1 (text/plain): invalid base64; nothing could be decoded)",
        ),
        SkippedItem(
            "gmail.mbox:message 10 <m10@acme.example>",
            "text is empty after removing quoted replies and signature",
        ),
    ]


def test_multipart_plain_text_with_quote_and_signature_stripped(mbox: Path) -> None:
    mail = by_id(read(mbox, mailbox="Support@Acme.example"))["m1@globex-corp.example"]
    assert mail.text == "Hi Alice,\n\nThe CSV export turns Café into CafÃ©.\nFrom the dashboard it works fine."
    assert mail.title == "Re: Café export"
    assert mail.sent_at == datetime(2026, 10, 3, 10, 0, tzinfo=UTC)
    assert mail.thread_id == THREAD_HEX
    assert mail.channel == "support@acme.example"
    assert mail.author_name == "Bob Buyer"
    assert mail.author_email == "bob@globex-corp.example"
    assert mail.author_is_internal is False
    assert mail.customer == "Globex Corp"
    assert mail.url == "https://mail.google.com/mail/#search/rfc822msgid%3Am1%40globex-corp.example"
    assert mail.metadata["labels"] == ["Inbox", "Travel, 2023", "Important"]
    assert mail.metadata["in_reply_to"] == "m0@acme.example"
    assert mail.metadata["quote_stripped"] is True
    assert mail.metadata["signature_stripped"] is True
    assert mail.metadata["mbox_index"] == 1
    assert "html_only" not in mail.metadata


def test_html_only_windows_1252(mbox: Path) -> None:
    mail = by_id(read(mbox))["m2@initech.example"]
    assert mail.text == (
        "We need “dark mode” & a high contrast theme.\n\n"
        "Our night shift agents get headaches.\nPrice: 10€/seat is fine.\n\n- Dashboard\n- Reports"
    )
    assert mail.title == "“Dark mode” please – €"
    assert mail.author_name == "Carol “CC” Chen"
    assert mail.customer == "Initech"
    assert mail.metadata["html_only"] is True
    assert mail.channel == "support@acme.example"  # no mailbox option: the To address
    assert mail.thread_id == gmail_thread_id_from_decimal("1773664405479613300")


def test_utf8_subject_and_body_pass_through_and_outlook_quote_is_cut(mbox: Path) -> None:
    mail = by_id(read(mbox))["m3@hooli.co.jp"]
    assert mail.title == JAPANESE_SUBJECT
    assert mail.text == JAPANESE_BODY + "\nPlease add caching."
    assert mail.sent_at == datetime(2026, 10, 3, 12, 30, tzinfo=UTC)
    assert mail.customer == "Hooli"


def test_broken_parts_are_salvaged_and_reported(mbox: Path) -> None:
    messages = by_id(read(mbox))
    damaged = messages["m4@globex-corp.example"]
    assert damaged.text == "We need audit logs for SOC 2."
    assert damaged.metadata["attachments"] == ["quote.pdf"]
    assert damaged.metadata["decode_problems"] == [
        "part 1.1 (text/plain): invalid base64; decoded the readable part before the damage"
    ]
    klingon = messages["m6@globex-corp.example"]
    assert klingon.text == "Prix: 10 € par siège — trop cher."
    assert klingon.author_name == "François"
    assert klingon.metadata["decode_problems"] == [
        "part 1 (text/plain): unknown charset 'x-klingon', decoded as cp1252"
    ]
    truncated = messages["m13@globex-corp.example"]
    assert truncated.text == ZAPIER[:31] == "Please add a Zapier integration"
    assert truncated.metadata["decode_problems"][0] == (
        "part 1.1 (text/plain): base64 ends mid-character (truncated); decoded what was there"
    )
    assert "MIME structure: CloseBoundaryNotFoundDefect" in truncated.metadata["decode_problems"]


def test_envelope_date_and_hashed_id_when_headers_are_missing(mbox: Path) -> None:
    first = read(mbox)
    mail = first.messages[0]
    assert mail.text == "Bulk edit would save us hours."
    assert mail.sent_at == datetime(2026, 10, 3, 9, 0, tzinfo=UTC)
    assert mail.metadata["sent_at_source"] == "envelope"
    assert mail.metadata["message_id_missing"] is True
    assert mail.metadata["external_id_source"] == "content_hash"
    assert len(mail.external_id) == len("sha256:") + 64
    assert mail.url is None
    # The hash is stable, so re-reading the file does not duplicate the message.
    assert read(mbox).messages[0].external_id == mail.external_id


def test_internal_reply_names_the_customer_from_recipients(mbox: Path) -> None:
    mail = by_id(read(mbox))["m11@acme.example"]
    assert mail.text == "Hi Bob, we'll look into the export bug."
    assert mail.author_is_internal is True
    assert mail.customer == "Globex Corp"
    assert mail.thread_id == THREAD_HEX
    assert mail.metadata["to"] == ["bob@globex-corp.example"]
    assert mail.metadata["cc"] == ["support@acme.example"]


def test_mailbox_domain_is_internal_when_no_domains_are_configured(tmp_path: Path) -> None:
    path = write_mbox(tmp_path / "gmail.mbox")
    result = read_gmail_mbox(path, WINDOW, mailbox="support@acme.example")
    messages = by_id(result)
    assert messages["m11@acme.example"].author_is_internal is True
    assert messages["m1@globex-corp.example"].author_is_internal is False


def test_cache_notices_a_changed_file(tmp_path: Path) -> None:
    path = write_mbox(tmp_path / "gmail.mbox", messages=MESSAGES[:2])
    assert [m.external_id for m in read(path).messages] == ["m1@globex-corp.example", "m2@initech.example"]
    write_mbox(path, messages=MESSAGES[:3])
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000))
    assert [m.external_id for m in read(path).messages][-1] == "m3@hooli.co.jp"


def test_missing_file_and_non_mbox_raise_with_advice(tmp_path: Path) -> None:
    with pytest.raises(SourceReadError, match=r"gmail\.mbox does not exist; check the path"):
        read(tmp_path / "gmail.mbox")
    not_mbox = tmp_path / "notes.mbox"
    not_mbox.write_text("Dear diary,\nFrom today on I keep notes.\n")
    with pytest.raises(SourceReadError, match="does not start with a 'From ' envelope line"):
        read(not_mbox)
    # An empty file read as "no mail" once made the pipeline delete stored mail: it is refused.
    empty = tmp_path / "empty.mbox"
    empty.write_bytes(b"")
    with pytest.raises(SourceReadError, match=r"empty\.mbox is empty \(0 bytes\); export the mailbox again"):
        read(empty)


# --- the parts the live Gmail API reader reuses ---------------------------------------------------


def test_parse_email_message_on_a_message_built_in_memory() -> None:
    message = EmailMessage()
    message["From"] = "Bob Buyer <bob@globex-corp.example>"
    message["To"] = "support@acme.example"
    message["Subject"] = "Jira-Integration für Überweisungen"
    message["Date"] = "Sat, 03 Oct 2026 08:15:00 -0400"
    message["Message-ID"] = "<api-1@globex-corp.example>"
    message.set_content("Wir hätten gern eine Jira-Integration.\n\nOn Fri, Alice wrote:\n> Hallo")
    message.add_alternative("<p>Wir hätten gern eine <b>Jira</b>-Integration.</p>", subtype="html")
    parsed = parse_email_message(message)
    assert parsed.text == "Wir hätten gern eine Jira-Integration."
    assert parsed.subject == "Jira-Integration für Überweisungen"
    assert parsed.message_id == "api-1@globex-corp.example"
    assert parsed.date == datetime(2026, 10, 3, 12, 15, tzinfo=UTC)
    assert parsed.gmail_thread_id is None
    assert parsed.automated is None
    built = build_gmail_message(
        parsed,
        sent_at=datetime(2026, 10, 3, 12, 15, 1, tzinfo=UTC),
        channel="support@acme.example",
        internal_domains=DOMAINS,
        thread_id="18f2a9c3b1d4e5f6",
        labels=["INBOX", "UNREAD"],
    )
    assert built.external_id == "api-1@globex-corp.example"
    assert built.thread_id == "18f2a9c3b1d4e5f6"
    assert built.metadata["labels"] == ["INBOX", "UNREAD"]
    assert built.customer == "Globex Corp"


def test_build_refuses_an_empty_text() -> None:
    message = EmailMessage()
    message["From"] = "alice@acme.example"
    message.set_content("Thanks,\nAlice\n")
    parsed = parse_email_message(message)
    assert parsed.text == ""
    with pytest.raises(ValueError, match="no text after removing quoted replies and signature"):
        build_gmail_message(parsed, sent_at=datetime(2026, 10, 3, tzinfo=UTC), channel=None, internal_domains=DOMAINS)


def test_thread_id_and_labels_helpers() -> None:
    assert gmail_thread_id_from_decimal("1773664405479613283") == "189d5261275de363"
    assert gmail_thread_id_from_decimal("not-a-number") is None
    assert parse_gmail_labels('Inbox,"Travel, 2023",  Category updates,Work/Clients') == (
        "Inbox",
        "Travel, 2023",
        "Category updates",
        "Work/Clients",
    )
    assert parse_gmail_labels("") == ()
    assert decode_header_value("=?utf-8?b?w6k=?=\r\n =?utf-8?b?w6k=?= and =?iso-8859-1?q?=E9?=") == "éé and é"


@pytest.mark.parametrize(
    ("data", "declared", "text", "note"),
    [
        ("Café “x”".encode("cp1252"), "iso-8859-1", "Café “x”", None),
        (
            "Café".encode(),
            "iso-8859-1",
            "Café",
            "declared charset 'iso-8859-1' did not fit the text; decoded as utf-8",
        ),
        (
            "Café".encode("cp1252"),
            "utf-8",
            "Café",
            "declared charset 'utf-8' did not fit the text; decoded as cp1252",
        ),
        ("日本語".encode("shift_jis"), "shift_jis", "日本語", None),
        (b"plain", None, "plain", None),
    ],
)
def test_decode_text_bytes(data: bytes, declared: str | None, text: str, note: str | None) -> None:
    assert decode_text_bytes(data, declared) == (text, note)


def test_html_to_text_blocks_entities_and_quotes() -> None:
    html = (
        "<div>First&#8217;s line<br/>second &lt;tag&gt;</div><table><tr><td>a</td><td>b</td></tr></table>"
        "<pre>  keep\n    indent</pre><blockquote>quoted <b>text</b></blockquote><p>after</p>"
    )
    assert html_to_text(html) == "First’s line\nsecond <tag>\n\na b\n\n  keep\n    indent\n\n> quoted text\n\nafter"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Export is slow.\n\n-----Original Message-----\nFrom: a\nSent: b\n\nold", "Export is slow."),
        ("Export is slow.\n\nSent from my iPhone", "Export is slow."),
        ("Thanks for adding SSO!", "Thanks for adding SSO!"),
        ("Need SSO.\n\nBest regards,\nBob Buyer\nGlobex Corp | +1 555 0100", "Need SSO."),
        ("Need SSO.\n> old line\nAnd SCIM.", "Need SSO.\nAnd SCIM."),
        (FORWARDED, FORWARDED),
        # No sign-off line: a contact block and a lone closing name are still the signature.
        (
            "Great, thanks for the quick help.\n\nDana\n\nDana Whitfield\nHead of BI | Globex\n"
            "+1 (555) 011-1140\nwww.globex.example",
            "Great, thanks for the quick help.",
        ),
        ("Can you send me the dashboard link?\n\nLena", "Can you send me the dashboard link?"),
        (
            "Kind regards,\nKatrin\n\nKatrin Müller\nMüller Logistik\nThis email and any attachments are confidential.",
            "",
        ),
        ("We need SSO.\n\nAudit logs matter too.", "We need SSO.\n\nAudit logs matter too."),
        ("Besoin de SSO.\n\nLe ven. 2 oct. 2026 à 09:00, Alice a écrit :\n> Bonjour", "Besoin de SSO."),
        # A sign-off only counts below the last sentence, so content after "Thanks!" stays.
        ("Hi Alice,\n\nThanks!\nAlso, we need X.\n\nBest,\nBob", "Hi Alice,\n\nThanks!\nAlso, we need X."),
        (
            "Hallo zusammen,\n\nBitte SSO.\n\nViele Grüße,\nJürgen\n\n"
            "Jürgen Müller\nHead of Ops | Müller Logistik\n+49 555 0101\nwww.mueller-logistik.example",
            "Hallo zusammen,\n\nBitte SSO.",
        ),
        (
            "Need SSO.\n\nThanks,\nBob\n\nBob Buyer\nHead of IT\nGlobex\n\n"
            "This email and any attachments are confidential and intended solely for the addressee. "
            "If you received it in error, please delete it.",
            "Need SSO.",
        ),
        (
            "CSVの文字化けを直してください。\n\nよろしくお願いいたします。\n健二\n\n佐藤 健二\nSent from my iPhone",
            "CSVの文字化けを直してください。",
        ),
        (
            "Can you look at this?\n\nThanks,\nDan\n\n---------- Forwarded message ---------\n"
            "From: Bob Buyer <bob@globex.example>\nSubject: SSO\n\n> We need SSO badly.\n>\n> Thanks,\n> Bob",
            "Can you look at this?\n\n---------- Forwarded message ---------\n"
            "From: Bob Buyer <bob@globex.example>\nSubject: SSO\n\nWe need SSO badly.",
        ),
    ],
)
def test_strip_quotes_and_signature(raw: str, expected: str) -> None:
    assert strip_quotes_and_signature(raw).text == expected


def test_html_drops_gmail_signature_block() -> None:
    html = (
        '<div dir="ltr"><div>We need SCIM.</div><div><br></div>'
        '<div dir="ltr" class="gmail_signature"><div>Bob Buyer</div><div>Globex</div></div></div>'
        "<div>after</div>"
    )
    assert html_to_text(html) == "We need SCIM.\n\nafter"


def test_forwarded_customer_mail_names_the_customer() -> None:
    message = EmailMessage()
    message["From"] = "Dan Sales <dan@acme.example>"
    message["To"] = "support@acme.example"
    message["Subject"] = "Fwd: SSO"
    message["Message-ID"] = "<fwd-1@acme.example>"
    message.set_content(
        "Can you look at this?\n\n---------- Forwarded message ---------\n"
        "From: Bob Buyer <bob@globex-corp.example>\nDate: Fri, 2 Oct 2026\nSubject: SSO\n\n"
        "We need SSO badly.\n"
    )
    parsed = parse_email_message(message)
    assert parsed.forwarded_from is not None and parsed.forwarded_from.email == "bob@globex-corp.example"
    built = build_gmail_message(
        parsed,
        sent_at=datetime(2026, 10, 3, tzinfo=UTC),
        channel="support@acme.example",
        internal_domains=DOMAINS,
    )
    assert built.author_is_internal is True
    assert built.customer == "Globex Corp"
    assert built.metadata["forwarded_from"] == "bob@globex-corp.example"
    assert built.text.endswith("We need SSO badly.")


def test_machine_sent_mail_is_kept_and_flagged() -> None:
    message = EmailMessage()
    message["From"] = "Jira <jira@tracker.example>"
    message["To"] = "support@acme.example"
    message["Auto-Submitted"] = "auto-generated"
    message["Message-ID"] = "<jira-1@tracker.example>"
    message.set_content("Dana changed the status to In Progress.")
    parsed = parse_email_message(message)
    assert parsed.automated == "auto_generated"
    built = build_gmail_message(
        parsed, sent_at=datetime(2026, 10, 3, tzinfo=UTC), channel=None, internal_domains=DOMAINS
    )
    assert built.metadata["automated"] == "auto_generated"
    assert built.author_is_internal is False
    assert built.customer is None  # tracker.example sends notifications; it is not a customer
    assert built.text == "Dana changed the status to In Progress."


def test_encoded_names_with_commas_stay_one_person() -> None:
    encoded = formataddr(("Müller, Jürgen", "J@Mueller-Logistik.example"), charset="utf-8")
    raw = f'From: {encoded}\nTo: {encoded}, bob@globex.example\nCc: "Buyer, Bob" <b@globex.example>\n\nHallo\n'
    parsed = parse_email_message(message_from_bytes(raw.encode("ascii"), policy=compat32))
    assert encoded.startswith("=?utf-8?b?")
    assert parsed.sender == Person("Müller, Jürgen", "j@mueller-logistik.example")
    assert parsed.to == (
        Person("Müller, Jürgen", "j@mueller-logistik.example"),
        Person(None, "bob@globex.example"),
    )
    assert parsed.cc == (Person("Buyer, Bob", "b@globex.example"),)


@pytest.mark.parametrize(
    ("headers", "kind", "customer"),
    [
        ({"Auto-Submitted": "auto-replied", "X-Autoreply": "yes"}, "auto_reply", "Globex Corp"),
        ({"Precedence": "bulk", "List-Unsubscribe": "<mailto:u@globex-corp.example>"}, "bulk", None),
        ({"Auto-Submitted": "no"}, None, "Globex Corp"),
    ],
)
def test_auto_replies_keep_their_customer_but_bulk_mail_does_not(
    headers: dict[str, str], kind: str | None, customer: str | None
) -> None:
    message = EmailMessage()
    message["From"] = "Bob Buyer <bob@globex-corp.example>"
    for name, value in headers.items():
        message[name] = value
    message.set_content("I am out of the office until Monday.")
    parsed = parse_email_message(message)
    assert parsed.automated == kind
    built = build_gmail_message(
        parsed, sent_at=datetime(2026, 10, 3, tzinfo=UTC), channel=None, internal_domains=DOMAINS
    )
    assert built.customer == customer
    assert built.metadata.get("automated") == kind


# --- hostile files (issue 12) --------------------------------------------------------------------

ALL_TIME = TimeWindow(datetime(1970, 1, 1, tzinfo=UTC), datetime(2200, 1, 1, tzinfo=UTC))


def mail(
    number: int,
    body: str,
    *,
    envelope: str = "Sat Oct 03 12:00:00 +0000 2026",
    date: str | None = "Sat, 03 Oct 2026 12:00:00 +0000",
    headers: str = "",
) -> bytes:
    date_line = f"Date: {date}\n" if date is not None else ""
    return (
        f"From 17736644054796{number:05d}@xxx {envelope}\n"
        f"From: bob@globex-corp.example\nTo: support@acme.example\nSubject: Mail {number}\n"
        f"{date_line}Message-ID: <h{number}@globex-corp.example>\n{headers}\n{body}\n\n"
    ).encode()


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", r"is empty \(0 bytes\)"),
        (b"\n\n  \n", r"does not start with a 'From ' envelope line"),
        (b"Subject: hi\n\nno envelope line\n", r"does not start with a 'From ' envelope line"),
        (b"From 1@xxx Sat Oct 03 12:00:00 +0000 2026\n\x00\x01\x02 binary, no headers\n", r"no mail headers"),
    ],
)
def test_empty_and_non_mbox_files_are_refused(tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "gmail.mbox"
    path.write_bytes(content)
    with pytest.raises(SourceReadError, match=rf"^Gmail mbox {re.escape(str(path))} .*{reason}"):
        read_gmail_mbox(path, ALL_TIME)


def test_implausible_date_headers_fall_back_to_the_envelope(tmp_path: Path) -> None:
    path = tmp_path / "gmail.mbox"
    path.write_bytes(
        mail(1, "Dated 1901.", date="Mon, 01 Jan 1901 00:00:00 +0000")
        + mail(2, "Dated 2300.", date="Tue, 01 Jan 2300 00:00:00 +0000")
        + mail(3, "Three days after arrival.", date="Tue, 06 Oct 2026 12:00:00 +0000")
        + mail(4, "Delayed in transit: the Date stands.", date="Fri, 02 Oct 2026 08:00:00 +0000")
        + mail(5, "Nothing plausible.", envelope="Sometime around 12:00", date="Tue, 01 Jan 2300 00:00:00 +0000")
        + mail(6, "Envelope and Date centuries away.", envelope="Tue Jan 01 00:00:00 +0000 2300", date=None)
    )
    result = read_gmail_mbox(path, ALL_TIME, internal_domains=DOMAINS)
    arrival = datetime(2026, 10, 3, 12, tzinfo=UTC)
    sent = {m.external_id: m for m in result.messages}
    for number, raw in ((1, "Mon, 01 Jan 1901 00:00:00 +0000"), (2, "Tue, 01 Jan 2300 00:00:00 +0000")):
        assert sent[f"h{number}@globex-corp.example"].sent_at == arrival
        assert sent[f"h{number}@globex-corp.example"].metadata["sent_at_source"] == "envelope"
        assert sent[f"h{number}@globex-corp.example"].metadata["date_header_rejected"] == raw
    assert sent["h3@globex-corp.example"].sent_at == arrival
    assert sent["h4@globex-corp.example"].sent_at == datetime(2026, 10, 2, 8, tzinfo=UTC)
    assert "sent_at_source" not in sent["h4@globex-corp.example"].metadata
    assert result.skipped == [
        SkippedItem(
            "gmail.mbox:message 5 <h5@globex-corp.example>",
            "Date header is implausible (before 1971, after 2100 or after the mail arrived) and the envelope "
            "'From ' line has no plausible date; the message cannot be placed in time",
        ),
        SkippedItem(
            "gmail.mbox:message 6 <h6@globex-corp.example>",
            "no parseable Date header (missing) and no date on the envelope 'From ' line; the message cannot be "
            "placed in time",
        ),
    ]


def test_invalid_base64_and_quoted_printable_bodies_are_skipped_not_stored_as_junk(tmp_path: Path) -> None:
    b64_header = "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n"
    qp_header = "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n"
    path = tmp_path / "gmail.mbox"
    path.write_bytes(
        mail(1, "Hello team we need SSO for all our users please", headers=b64_header)  # plain text, not base64
        + mail(2, "=ZZ=Q1=XY=GG garbled beyond repair =KK", headers=qp_header)
        + mail(3, "Caf=C3=A9 pricing: a=b is fine", headers=qp_header)  # one stray '=': kept, noted
        + mail(4, b64("We need audit logs."), headers=b64_header)
    )
    result = read_gmail_mbox(path, ALL_TIME, internal_domains=DOMAINS)
    assert {m.external_id: m.text for m in result.messages} == {
        "h3@globex-corp.example": "Café pricing: a=b is fine",
        "h4@globex-corp.example": "We need audit logs.",
    }
    assert result.messages[0].metadata["decode_problems"] == [
        "part 1 (text/plain): invalid quoted-printable escapes kept as text"
    ]
    assert result.skipped == [
        SkippedItem(
            "gmail.mbox:message 1 <h1@globex-corp.example>",
            "no readable text body (part 1 (text/plain): invalid base64; the decoded bytes are not text)",
        ),
        SkippedItem(
            "gmail.mbox:message 2 <h2@globex-corp.example>",
            "no readable text body (part 1 (text/plain): invalid quoted-printable; most '=' escapes are not hex)",
        ),
    ]


def test_a_message_past_the_item_limit_is_skipped_and_the_rest_land(tmp_path: Path) -> None:
    path = tmp_path / "gmail.mbox"
    path.write_bytes(mail(1, "Small.") + mail(2, "x" * 5000) + mail(3, "Also small."))
    result = read_gmail_mbox(path, ALL_TIME, limits=ExportLimits(max_item_bytes=2 * 1024))
    assert [m.text for m in result.messages] == ["Small.", "Also small."]
    assert result.skipped == [
        SkippedItem(
            "gmail.mbox:message 2 <h2@globex-corp.example>", "message is larger than 2048 bytes, the limit for one item"
        )
    ]


def test_a_file_past_the_item_limit_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "gmail.mbox"
    path.write_bytes(b"".join(mail(n, f"Request {n}.") for n in range(1, 6)))
    assert len(read_gmail_mbox(path, ALL_TIME, limits=ExportLimits(max_items=5)).messages) == 5
    with pytest.raises(SourceReadError, match=r"gmail\.mbox holds more than 4 items, the limit for one export file"):
        read_gmail_mbox(path, ALL_TIME, limits=ExportLimits(max_items=4))
