"""Time and peak memory of the Slack export reader on hostile exports (issue 12, docs/reliability.md).

Builds each hostile input in a scratch folder, reads it in a fresh child process (so the peak
RSS is the reader's alone, from `resource.getrusage`) and prints one line per input:

    .venv/bin/python scripts/hostile_exports_slack.py [--workdir DIR] [--bomb-gib 4]

Inputs: a zip bomb (one day file of N GiB of zeros, honest header), the same kind of member
with a header that lies (declares 1,000 bytes), a day file of 60 MiB of unclosed `[`, the
slowest token-dense input the limits accept (three day files of 7.5 MiB of `[`), the most
messages they let one read keep (3 x 66,660 in the window), and the largest export of
real-looking messages under the item cap (three day files of ~25 MiB; the middle one kept).
`measure_slack()` is the entry point a shared hostile-exports script can call.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

WINDOW_START = datetime(2026, 10, 3, tzinfo=UTC)
LISTS = {
    "channels.json": json.dumps([{"id": "C0GENERAL", "name": "general"}]),
    "users.json": json.dumps([{"id": "U0BOB0001", "team_id": "T0ACME", "profile": {"real_name": "Bob"}}]),
}
DAY = "general/2026-10-03.json"
MIB = 1024 * 1024


def _zeros_member(archive: zipfile.ZipFile, name: str, mebibytes: int) -> None:
    """Stream `mebibytes` MiB of zeros into one member: a few MB on disk, never held in memory."""
    with archive.open(name, "w", force_zip64=mebibytes >= 2048) as member:
        chunk = bytes(MIB)
        for _ in range(mebibytes):
            member.write(chunk)


def build_bomb(path: Path, gib: int) -> Path:
    """An export whose day file inflates to `gib` GiB of zeros; its header says so honestly."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for name, data in LISTS.items():
            archive.writestr(name, data)
        _zeros_member(archive, DAY, gib * 1024)
    return path


def build_liar(path: Path) -> Path:
    """An export whose 1 GiB day file declares 1,000 bytes in both of its ZIP headers."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for name, data in LISTS.items():
            archive.writestr(name, data)
        _zeros_member(archive, DAY, 1024)
    raw = bytearray(path.read_bytes())
    member = DAY.encode()
    central = raw.rindex(b"PK\x01\x02", 0, raw.rindex(member))
    raw[central + 24 : central + 28] = (1000).to_bytes(4, "little")
    local = raw.rindex(b"PK\x03\x04", 0, raw.index(member))
    raw[local + 22 : local + 26] = (1000).to_bytes(4, "little")
    path.write_bytes(bytes(raw))
    return path


def build_deep(path: Path) -> Path:
    """An export whose day file is 60 MiB of `[` (stored, so no compression ratio gives it away)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        for name, data in LISTS.items():
            archive.writestr(name, data)
        archive.writestr(DAY, b"[" * (60 * MIB))
    return path


def build_deep_under_budget(path: Path) -> Path:
    """The slowest input the token budget lets through: three day files of 7.5 MiB of `[` each."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        for name, data in LISTS.items():
            archive.writestr(name, data)
        for offset in (-1, 0, 1):
            day = (WINDOW_START + timedelta(days=offset)).date().isoformat()
            archive.writestr(f"general/{day}.json", b"[" * (15 * MIB // 2))
    return path


def build_many(path: Path) -> Path:
    """The most messages the item cap lets one read keep: 3 x 66,660, every one inside the window."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for name, data in LISTS.items():
            archive.writestr(name, data)
        for offset in (-1, 0, 1):
            day = (WINDOW_START + timedelta(days=offset)).date().isoformat()
            base = int(WINDOW_START.timestamp()) + 3600 * (offset + 1)
            messages = [
                {"type": "message", "user": "U0BOB0001", "text": f"ping {i}", "ts": f"{base + i % 3600}.{i:06d}"}
                for i in range(66_660)
            ]
            archive.writestr(f"general/{day}.json", json.dumps(messages))
    return path


def build_dense(path: Path) -> Path:
    """A large export of real-looking messages under the item cap: three ~25 MiB day files."""
    rng = random.Random(12)
    words = [f"{w}{i}" for i, w in enumerate(("renewal", "SSO", "invoice", "latency", "export", "pricing") * 400)]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for name, data in LISTS.items():
            archive.writestr(name, data)
        for offset in (-1, 0, 1):
            day = WINDOW_START + timedelta(days=offset)
            messages: list[dict[str, Any]] = []
            size = 0
            index = 0
            while size < 25 * MIB:
                ts = f"{int(day.timestamp()) + index % 86_000}.{index:06d}"
                text = " ".join(rng.choice(words) for _ in range(40))
                messages.append({"type": "message", "user": "U0BOB0001", "text": text, "ts": ts})
                size += len(text) + 80
                index += 1
            archive.writestr(f"general/{day.date().isoformat()}.json", json.dumps(messages))
    return path


def _child(path: Path) -> None:
    """Read one export as the pipeline would and print the outcome, elapsed time and peak RSS."""
    from headway_assets.core.message import SourceReadError, TimeWindow
    from headway_assets.sources.slack.export import read_slack_export

    started = time.monotonic()
    outcome: dict[str, Any]
    try:
        result = read_slack_export(path, TimeWindow(WINDOW_START, WINDOW_START + timedelta(days=1)))
        outcome = {"outcome": "read", "messages": len(result.messages), "skipped": len(result.skipped)}
        if result.skipped:
            outcome["first_skip"] = result.skipped[0].reason[:90]
    except SourceReadError as error:
        outcome = {"outcome": f"refused ({type(error).__name__})", "reason": str(error).split(" refused: ")[-1][:90]}
    outcome["elapsed_s"] = round(time.monotonic() - started, 2)
    outcome["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)  # KiB on Linux
    print(json.dumps(outcome))


def measure_slack(workdir: Path, bomb_gib: int = 4) -> list[dict[str, Any]]:
    """Build every hostile Slack input in `workdir`, read each in a child process, return the figures."""
    builders = {
        f"zip bomb ({bomb_gib} GiB of zeros)": lambda p: build_bomb(p, bomb_gib),
        "lying header (declares 1,000 bytes, inflates to 1 GiB)": build_liar,
        "60 MiB of unclosed '[' (stored)": build_deep,
        "3 day files of 7.5 MiB of '[' (stored, just under the token budget)": build_deep_under_budget,
        "3 day files of 66,660 messages all in the window (just under the item cap)": build_many,
        "3 day files of ~25 MiB of messages": build_dense,
    }
    rows = []
    for index, (label, build) in enumerate(builders.items()):
        path = workdir / f"slack-hostile-{index}.zip"
        if not path.exists():
            build(path)
        child = subprocess.run(
            [sys.executable, __file__, "--child", str(path)], capture_output=True, text=True, check=True
        )
        row = {"input": label, "zip_mib": round(path.stat().st_size / MIB, 1), **json.loads(child.stdout)}
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def main() -> None:
    """Parse the arguments and measure (or, with --child, read one export)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", type=Path, help="where to build the inputs (kept; default: a temp dir)")
    parser.add_argument("--bomb-gib", type=int, default=4, help="GiB of zeros in the zip bomb's day file")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child)
    elif args.workdir:
        args.workdir.mkdir(parents=True, exist_ok=True)
        measure_slack(args.workdir, args.bomb_gib)
    else:
        with tempfile.TemporaryDirectory() as scratch:
            measure_slack(Path(scratch), args.bomb_gib)


if __name__ == "__main__":
    main()
