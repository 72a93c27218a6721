"""Hostile export files against the readers: time, peak memory and outcome of each, one child process per file.

    .venv/bin/python scripts/hostile_exports.py                 # every case
    .venv/bin/python scripts/hostile_exports.py --only gong     # cases whose name contains "gong"
    .venv/bin/python scripts/hostile_exports.py --json          # one JSON object per line

Each case writes one file in a temporary folder (deleted afterwards), then a child process reads
it exactly as `headway exports inspect` does (`inspect_export`: the pipeline's `read_export` over
all time). The parent measures the child's wall time and peak RSS (`os.wait4`, so each figure is
that child's alone) and prints its messages, skipped items (all reasons) and rejection.
The budget for any single export file is 30 s and 1 GiB RSS (issue 12).

To add a case: write a generator `def _my_case(path: Path) -> None` that writes the file at
`path`, and append `Case("gong-…", "gong", "gong-calls.json", _my_case)` to `CASES`. The Slack
cases call the builders of `scripts/hostile_exports_slack.py`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

MIB = 1024 * 1024
BUDGET_SECONDS = 30.0
BUDGET_RSS_MIB = 1024.0
TIMEOUT_SECONDS = 120.0


@dataclass(frozen=True, slots=True)
class Case:
    """One hostile input: its name, the source reader it targets, its file name and how to write it."""

    name: str
    source: str  # "slack", "gmail", "gong" or "fathom"
    filename: str
    generate: Callable[[Path], None]
    note: str = ""


# -- writing large files without holding them ---------------------------------------------------


def _write_chunks(path: Path, chunks: Iterator[bytes]) -> None:
    with path.open("wb") as handle:
        for chunk in chunks:
            handle.write(chunk)


def _json_array(handle: IO[bytes], items: Iterator[bytes]) -> None:
    handle.write(b"[")
    for number, item in enumerate(items):
        if number:
            handle.write(b",")
        handle.write(item)
    handle.write(b"]")


def _filler(size: int) -> Iterator[bytes]:
    line = b"Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.\n"
    block = line * (MIB // len(line))
    written = 0
    while written < size:
        piece = block[: size - written]
        written += len(piece)
        yield piece


# -- Gmail mbox ---------------------------------------------------------------------------------

_ENVELOPE = b"From 1773664405479613283@xxx Sat Oct 03 12:00:00 +0000 2026\n"


def _mail(number: int, body: bytes, headers: bytes = b"", date: bytes = b"Sat, 03 Oct 2026 12:00:00 +0000") -> bytes:
    return (
        _ENVELOPE
        + b"From: Bob Buyer <bob@globex.example>\nTo: support@acme.example\nSubject: Request "
        + str(number).encode()
        + b"\nDate: "
        + date
        + b"\nMessage-ID: <m"
        + str(number).encode()
        + b"@globex.example>\n"
        + headers
        + b"\n"
        + body
        + b"\n\n"
    )


def gmail_huge_message(path: Path) -> None:
    """One 1 GiB message between two small ones: skipped past max_item_bytes, the others land."""

    def chunks() -> Iterator[bytes]:
        yield _mail(1, b"We need SSO.")
        yield _mail(2, b"").rstrip(b"\n") + b"\n"
        yield from _filler(1024 * MIB)
        yield b"\n\n"
        yield _mail(3, b"Audit logs please.")

    _write_chunks(path, chunks())


def gmail_many_messages(path: Path) -> None:
    """50,000 small messages (~13 MiB): every one parsed, so the time grows with the count."""
    _write_chunks(path, (_mail(n, b"Please add a Zapier integration for our ops team.") for n in range(50_000)))


def gmail_deep_mime(path: Path) -> None:
    """A message whose multipart parts nest 50,000 levels deep, then a good one."""
    levels = 50_000
    opening = b"".join(b'--b%d\nContent-Type: multipart/mixed; boundary="b%d"\n\n' % (n, n + 1) for n in range(levels))
    closing = b"".join(b"--b%d--\n" % n for n in reversed(range(levels)))
    header = b'Content-Type: multipart/mixed; boundary="b0"\n'
    _write_chunks(path, iter([_mail(1, opening + b"deep text\n" + closing, header), _mail(2, b"We need SSO.")]))


def gmail_one_giant_header(path: Path) -> None:
    """A 200 MiB header line with no blank line after it, then a good message."""

    def chunks() -> Iterator[bytes]:
        yield _ENVELOPE + b"X-Junk: "
        for piece in _filler(200 * MIB):
            yield piece.replace(b"\n", b" ")
        yield b"\n\n"
        yield _mail(2, b"We need SSO.")

    _write_chunks(path, chunks())


def gmail_bad_bodies_and_dates(path: Path) -> None:
    """20,000 messages cycling through a bad Date, mislabelled base64 and garbled quoted-printable."""
    kinds = [
        (b"", b"Mon, 01 Jan 1901 00:00:00 +0000", b"Dated 1901, arrived 2026."),
        (b"", b"Tue, 01 Jan 2300 00:00:00 +0000", b"Dated 2300, arrived 2026."),
        (b"Content-Transfer-Encoding: base64\n", b"Sat, 03 Oct 2026 12:00:00 +0000", b"Plain text said to be base64"),
        (b"Content-Transfer-Encoding: quoted-printable\n", b"Sat, 03 Oct 2026 12:00:00 +0000", b"=ZZ=QQ=XX=YY junk"),
    ]
    _write_chunks(
        path, (_mail(n, body, headers, date) for n in range(20_000) for headers, date, body in [kinds[n % 4]])
    )


def gmail_no_separators(path: Path) -> None:
    """100 MiB of text with no 'From ' envelope line: refused."""
    _write_chunks(path, _filler(100 * MIB))


def gmail_empty(path: Path) -> None:
    """0 bytes: refused (read as 'no mail' it once deleted stored mail)."""
    path.write_bytes(b"")


# -- Gong JSON ----------------------------------------------------------------------------------


def _gong_call(number: int) -> bytes:
    call = {
        "metaData": {"id": str(number), "started": "2026-10-03T12:00:00Z", "title": f"Call {number}", "system": "Zoom"},
        "parties": [
            {"speakerId": "s1", "name": "Rita Rep", "emailAddress": "rita@acme.example", "affiliation": "Internal"},
            {"speakerId": "s2", "name": "Bob Buyer", "emailAddress": "bob@globex.example", "affiliation": "External"},
        ],
    }
    return json.dumps(call).encode()


def _gong_transcript(number: int, turns: int = 6) -> bytes:
    monologues = [
        {
            "speakerId": f"s{1 + t % 2}",
            "sentences": [{"start": t * 4000, "end": t * 4000 + 3000, "text": "We need SSO."}],
        }
        for t in range(turns)
    ]
    return json.dumps({"callId": str(number), "transcript": monologues}).encode()


def _gong_file(path: Path, calls: int, turns: int = 6, extra_call: bytes | None = None) -> None:
    with path.open("wb") as handle:
        handle.write(b'{"calls": ')
        _json_array(handle, _chain(extra_call, (_gong_call(n) for n in range(calls))))
        handle.write(b', "callTranscripts": ')
        _json_array(handle, (_gong_transcript(n, turns) for n in range(calls)))
        handle.write(b"}")


def _chain(first: bytes | None, rest: Iterator[bytes]) -> Iterator[bytes]:
    if first is not None:
        yield first
    yield from rest


def gong_over_size_limit(path: Path) -> None:
    """A 1 GiB Gong file of real calls: refused past max_json_bytes with a reason, in no time."""
    calls = (1024 * MIB) // 900
    _gong_file(path, calls)


def gong_near_size_limit(path: Path) -> None:
    """49,000 calls and their transcripts (98,000 items, just under max_items): the largest accepted file."""
    _gong_file(path, 49_000)


def gong_deep_nesting(path: Path) -> None:
    """One call nested 1,000,000 levels deep among 1,000 good ones."""
    deep = b'{"metaData": {"id": "deep", "started": "2026-10-03T12:00:00Z"}, "customData": '
    deep += b"[" * 1_000_000 + b"]" * 1_000_000 + b"}"
    _gong_file(path, 1000, extra_call=deep)


def gong_many_turns(path: Path) -> None:
    """One call with 600,000 monologues, listed in reverse time order."""
    with path.open("wb") as handle:
        handle.write(b'{"calls": [' + _gong_call(1) + b'], "callTranscripts": [{"callId": "1", "transcript": ')
        _json_array(
            handle,
            (
                b'{"speakerId": "s%d", "sentences": [{"start": %d, "text": "Turn %d."}]}' % (1 + t % 2, t * 1000, t)
                for t in reversed(range(600_000))
            ),
        )
        handle.write(b"}]}")


def gong_brackets(path: Path) -> None:
    """60 MiB of `[`: 63 million tokens of nothing, never closed."""
    _write_chunks(path, (b"[" * MIB for _ in range(60)))


def gong_token_flood(path: Path) -> None:
    """One call holding 20 million tiny JSON values (60 MiB), between two good calls."""

    def chunks() -> Iterator[bytes]:
        yield b'{"calls": [' + _gong_call(1) + b', {"metaData": {"id": "2"}, "x": [0'
        yield from (b",0" * (MIB // 2) for _ in range(38))
        yield b"]}, " + _gong_call(3) + b'], "callTranscripts": [' + _gong_transcript(1) + b"]}"

    _write_chunks(path, chunks())


def gong_truncated(path: Path) -> None:
    """A 50 MiB Gong file cut off mid-call: refused as truncated."""
    _gong_file(path, 50 * MIB // 1150)
    with path.open("r+b") as handle:
        handle.truncate(path.stat().st_size - 5000)


def gong_wrong_types(path: Path) -> None:
    """`{"calls": "x", "callTranscripts": 5}`: refused (read as 'no calls' it once deleted stored calls)."""
    path.write_bytes(b'{"calls": "x", "callTranscripts": 5}')


# -- Fathom JSON --------------------------------------------------------------------------------


def _meeting(number: int, turns: int = 8, extra: bytes = b"") -> bytes:
    meeting = {
        "recording_id": number,
        "title": f"Renewal {number}",
        "recording_start_time": "2026-10-03T12:00:00Z",
        "calendar_invitees": [{"name": "Bob Buyer", "email": "bob@globex.example", "is_external": True}],
        "transcript": [
            {
                "speaker": {"display_name": "Bob Buyer" if t % 2 else "Alice Ng"},
                "text": "We need SSO.",
                "timestamp": f"00:{t // 60 % 60:02d}:{t % 60:02d}",
            }
            for t in range(turns)
        ],
    }
    body = json.dumps(meeting).encode()
    return body[:-1] + extra + b"}" if extra else body


def fathom_over_size_limit(path: Path) -> None:
    """A 1 GiB /meetings page of real meetings: refused past max_json_bytes."""
    with path.open("wb") as handle:
        handle.write(b'{"items": ')
        _json_array(handle, (_meeting(n) for n in range((1024 * MIB) // 1000)))
        handle.write(b"}")


def fathom_near_size_limit(path: Path) -> None:
    """60 MiB of meetings (62,900) as a list of /meetings pages: just under max_json_bytes."""
    per_page, pages = 100, (60 * MIB) // (1000 * 100)
    with path.open("wb") as handle:
        _json_array(
            handle,
            (
                b'{"items": ['
                + b",".join(_meeting(p * per_page + n) for n in range(per_page))
                + b'], "next_cursor": null}'
                for p in range(pages)
            ),
        )


def fathom_deep_nesting(path: Path) -> None:
    """One meeting nested 1,000,000 levels deep among 1,000 good ones."""
    deep = _meeting(0, extra=b', "crm_matches": ' + b"[" * 1_000_000 + b"]" * 1_000_000)
    with path.open("wb") as handle:
        handle.write(b'{"items": ')
        _json_array(handle, _chain(deep, (_meeting(n) for n in range(1, 1001))))
        handle.write(b"}")


def fathom_many_turns(path: Path) -> None:
    """One meeting with 500,000 turns, a third of them with null text, listed in reverse time order."""
    turns = (
        b'{"speaker": {"display_name": "S%d"}, "text": %s, "timestamp": "%02d:%02d:%02d"}'
        % (t % 2, b"null" if t % 3 == 0 else b'"Turn %d."' % t, t // 3600, t // 60 % 60, t % 60)
        for t in reversed(range(500_000))
    )
    with path.open("wb") as handle:
        handle.write(b'{"recording_id": 1, "recording_start_time": "2026-10-03T12:00:00Z", "transcript": ')
        _json_array(handle, turns)
        handle.write(b"}")


def fathom_huge_json_line(path: Path) -> None:
    """JSON Lines: a good webhook body, one 40 MiB line (past max_item_bytes), a good one."""

    def chunks() -> Iterator[bytes]:
        yield _meeting(1) + b"\n"
        yield _meeting(2, extra=b', "default_summary": {"markdown_formatted": "')
        for piece in _filler(40 * MIB):
            yield piece.replace(b"\n", b" ")
        yield b'"}}\n'
        yield _meeting(3) + b"\n"

    _write_chunks(path, chunks())


def fathom_token_flood(path: Path) -> None:
    """A /meetings page whose second meeting holds 20 million tiny JSON values (60 MiB)."""

    def chunks() -> Iterator[bytes]:
        yield b'{"items": [' + _meeting(1) + b', {"recording_id": 2, "crm_matches": [0'
        yield from (b",0" * (MIB // 2) for _ in range(38))
        yield b"]}, " + _meeting(3) + b"]}"

    _write_chunks(path, chunks())


def fathom_top_scalar(path: Path) -> None:
    """A number at the top: refused."""
    path.write_bytes(b"12345")


# -- Slack: the Slack reader's own hostile inputs (scripts/hostile_exports_slack.py) ------------


def _slack(builder_name: str, *args: Any) -> Callable[[Path], None]:
    """A generator calling one of hostile_exports_slack's builders (imported when the case runs)."""

    def generate(path: Path) -> None:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import hostile_exports_slack

        getattr(hostile_exports_slack, builder_name)(path, *args)

    return generate


CASES: list[Case] = [
    Case("gmail-huge-message", "gmail", "gmail.mbox", gmail_huge_message),
    Case("gmail-many-messages", "gmail", "gmail.mbox", gmail_many_messages),
    Case("gmail-deep-mime", "gmail", "gmail.mbox", gmail_deep_mime),
    Case("gmail-giant-header", "gmail", "gmail.mbox", gmail_one_giant_header),
    Case("gmail-bad-bodies-and-dates", "gmail", "gmail.mbox", gmail_bad_bodies_and_dates),
    Case("gmail-no-separators", "gmail", "gmail.mbox", gmail_no_separators),
    Case("gmail-empty", "gmail", "gmail.mbox", gmail_empty),
    Case("gong-over-size-limit", "gong", "gong-calls.json", gong_over_size_limit),
    Case("gong-near-size-limit", "gong", "gong-calls.json", gong_near_size_limit),
    Case("gong-deep-nesting", "gong", "gong-calls.json", gong_deep_nesting),
    Case("gong-many-turns", "gong", "gong-calls.json", gong_many_turns),
    Case("gong-brackets", "gong", "gong-calls.json", gong_brackets),
    Case("gong-token-flood", "gong", "gong-calls.json", gong_token_flood),
    Case("gong-truncated", "gong", "gong-calls.json", gong_truncated),
    Case("gong-wrong-types", "gong", "gong-calls.json", gong_wrong_types),
    Case("fathom-over-size-limit", "fathom", "fathom-meetings.json", fathom_over_size_limit),
    Case("fathom-near-size-limit", "fathom", "fathom-meetings.json", fathom_near_size_limit),
    Case("fathom-deep-nesting", "fathom", "fathom-meetings.json", fathom_deep_nesting),
    Case("fathom-many-turns", "fathom", "fathom-meetings.json", fathom_many_turns),
    Case("fathom-huge-json-line", "fathom", "fathom-meetings.jsonl", fathom_huge_json_line),
    Case("fathom-token-flood", "fathom", "fathom-meetings.json", fathom_token_flood),
    Case("fathom-top-scalar", "fathom", "fathom-meetings.json", fathom_top_scalar),
    Case("slack-zip-bomb-2gib", "slack", "slack-export.zip", _slack("build_bomb", 2)),
    Case("slack-lying-header", "slack", "slack-export.zip", _slack("build_liar")),
    Case("slack-brackets", "slack", "slack-export.zip", _slack("build_deep")),
    Case("slack-brackets-under-budget", "slack", "slack-export.zip", _slack("build_deep_under_budget")),
    Case("slack-many-messages", "slack", "slack-export.zip", _slack("build_many")),
    Case("slack-dense-day-files", "slack", "slack-export.zip", _slack("build_dense")),
]


# -- measuring ----------------------------------------------------------------------------------


def _child(source: str, path: str) -> int:
    """Runs in the child process: read the file as `headway exports inspect` does, print the summary."""
    from headway_assets.sources.inspect import inspect_export

    print(json.dumps(inspect_export(source, Path(path)).as_json()))
    return 0


def measure(case: Case, folder: Path) -> dict[str, Any]:
    """Write the case's file, read it in a child process, and return the figures."""
    path = folder / case.filename
    case.generate(path)
    size = path.stat().st_size
    with tempfile.TemporaryFile() as errors:
        started = time.monotonic()
        child = subprocess.Popen(
            [sys.executable, __file__, "--child", case.source, str(path)], stdout=subprocess.PIPE, stderr=errors
        )
        timer = threading.Timer(TIMEOUT_SECONDS, child.kill)
        timer.start()
        assert child.stdout is not None
        out = child.stdout.read()
        # wait4 reaps this child and returns its own rusage: ru_maxrss is its peak RSS in KiB.
        _, status, usage = os.wait4(child.pid, 0)
        elapsed = time.monotonic() - started
        timer.cancel()
        child.returncode = os.waitstatus_to_exitcode(status)
        child.stdout.close()
        errors.seek(0)
        stderr = errors.read().decode(errors="replace").strip().splitlines()
    path.unlink()
    row: dict[str, Any] = {
        "case": case.name,
        "source": case.source,
        "file_mib": round(size / MIB, 1),
        "seconds": round(elapsed, 2),
        "peak_rss_mib": round(usage.ru_maxrss / 1024, 1),
    }
    row["over_budget"] = elapsed > BUDGET_SECONDS or row["peak_rss_mib"] > BUDGET_RSS_MIB
    if child.returncode != 0:
        row["error"] = (stderr[-1] if stderr else f"exit {child.returncode} (killed after {TIMEOUT_SECONDS:.0f} s?)")[
            :200
        ]
        return row
    report = json.loads(out)
    row.update(
        messages=report["messages"],
        turns=report["turns"],
        skipped=sum(report["skipped"].values()),
        skipped_by_reason=report["skipped"],
        # The temporary folder says nothing: name the file as the case does.
        rejected=report["rejected"] and report["rejected"].replace(str(path), case.filename),
    )
    return row


def _line(row: dict[str, Any]) -> str:
    """One human-readable line of figures."""
    rejected = (row.get("rejected") or "").split("; ")[0]
    outcome = f"rejected: {rejected[:110]}" if rejected else "read"
    if "error" in row:
        outcome = f"ERROR {row['error']}"
    return (
        f"{row['case']:<27} {row['file_mib']:>7.1f} MiB {row['seconds']:>6.2f} s {row['peak_rss_mib']:>6.0f} MiB RSS"
        f"  messages={row.get('messages', '-')} turns={row.get('turns', '-')} skipped={row.get('skipped', '-')}"
        f"  {outcome}{'  OVER BUDGET' if row['over_budget'] else ''}"
    )


def main(argv: list[str] | None = None) -> int:
    """Run the cases (or, with --child, read one file) and print one line per case."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default="", help="run the cases whose name contains this text")
    parser.add_argument("--json", action="store_true", help="print one JSON object per case")
    parser.add_argument("--child", nargs=2, metavar=("SOURCE", "FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return _child(*args.child)
    over = 0
    with tempfile.TemporaryDirectory(prefix="hostile-exports-") as folder:
        for case in [c for c in CASES if args.only in c.name]:
            row = measure(case, Path(folder))
            over += row["over_budget"]
            if args.json:
                print(json.dumps(row), flush=True)
            else:
                print(_line(row), flush=True)
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
