"""Throughput and memory of `headway classify` with the trained local model (and the lexicon, for comparison).

    .venv/bin/python scripts/bench_model.py                    # 10,000 short messages, both tier-1 models
    .venv/bin/python scripts/bench_model.py --messages 20000 --model default

Writes N distinct short B2B-style messages to a JSON-lines file: the shipped labelled set's
first 343 texts (the workload the target was first measured on; 78 characters on average with
the ticket number), each made unique with a ticket number so the engine's de-duplication by
content does not shrink the work (`--all-rows` draws from every row instead: 92 characters on
average, the set having grown by longer technical mails). It runs `headway classify --model ...`
on them as a child process pinned to one core (`taskset -c 0` when available; `--core N` picks
another), and prints the messages per second over the whole command (start-up and file I/O
included), over the classify phase (the command's own progress line, which includes loading the
model) and after the first block of 500 (start-up left out), the messages per CPU second of the
whole command (user + system: what the command costs whatever else runs on the core), plus the
child's peak resident memory (`os.wait4`'s ru_maxrss of that process).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
B2B = REPO_ROOT / "headway_assets" / "offline" / "trained" / "labelled" / "b2b_messages.csv"
# The workload the target was first measured on (ids b2b-001..343): pinned, so the figure does not
# move when rows are added to the training set.
BENCH_ROWS = 343
PROGRESS = re.compile(r"classified (\d+)/(\d+) \((\d+)/s\)")


def write_messages(path: Path, count: int, *, all_rows: bool = False) -> None:
    """`count` distinct short messages as {id, text} JSON lines."""
    with B2B.open(encoding="utf-8") as handle:
        texts = [row["text"] for row in csv.DictReader(handle)]
    if not all_rows:
        texts = texts[:BENCH_ROWS]
    with path.open("w", encoding="utf-8") as out:
        for i in range(count):
            out.write(json.dumps({"id": i, "text": f"{texts[i % len(texts)]} (ticket {i})"}) + "\n")


def run(model: str, source: Path, output: Path, core: int = 0) -> dict[str, float]:
    """One `headway classify` run in a child process on `core`; its wall and CPU time, classify rate and peak RSS."""
    headway = str(Path(sys.executable).with_name("headway"))
    command = [headway, "classify", "--model", model, "--input", str(source), "--output", str(output)]
    if shutil.which("taskset"):
        command = ["taskset", "-c", str(core), *command]
    log = output.with_suffix(".log")
    started = time.monotonic()
    with log.open("w", encoding="utf-8") as stderr:
        child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr)
        # wait4 returns this child's own resource usage: its peak RSS, not the largest child's so far.
        _, status, usage = os.wait4(child.pid, 0)
    seconds = time.monotonic() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"headway classify failed: {log.read_text(encoding='utf-8')[-2000:]}")
    stderr_text = log.read_text(encoding="utf-8")
    progress = [(int(m.group(1)), int(m.group(3))) for m in PROGRESS.finditer(stderr_text)]
    rates = [rate for _, rate in progress]
    # The progress lines are cumulative (done, done / elapsed): the rate between the first block
    # and the last leaves out start-up work in the first block (loading the model, imports).
    steady = 0
    if len(progress) >= 2 and all(rate for _, rate in progress):
        (first_done, first_rate), (last_done, last_rate) = progress[0], progress[-1]
        span = last_done / last_rate - first_done / first_rate
        steady = round((last_done - first_done) / span) if span > 0 else 0
    lines = sum(1 for _ in output.open(encoding="utf-8"))
    # CPU seconds of the child: on a shared machine the wall clock also counts others' work.
    cpu = usage.ru_utime + usage.ru_stime
    return {
        "messages": lines,
        "seconds": round(seconds, 2),
        "cpu_seconds": round(cpu, 2),
        "messages_per_second_total": round(lines / seconds),
        "messages_per_cpu_second": round(lines / cpu) if cpu else 0,
        "messages_per_second_classify": rates[-1] if rates else 0,
        "messages_per_second_after_first_block": steady,
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
    }


def main() -> int:
    """Print one line per model: throughput and peak RSS."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--model", action="append", help="default, lexicon or an artefact path (repeatable)")
    parser.add_argument("--all-rows", action="store_true", help="draw texts from every B2B row, not the first 343")
    parser.add_argument("--core", type=int, default=0, help="the core the command is pinned to (default 0)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "messages.jsonl"
        write_messages(source, args.messages, all_rows=args.all_rows)
        for model in args.model or ["lexicon", "default"]:
            figures = run(model, source, Path(folder) / f"labels-{len(model)}.jsonl", args.core)
            print(json.dumps({"model": model, **figures}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
