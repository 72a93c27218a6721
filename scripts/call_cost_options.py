"""Sizes behind the options for call intelligence's cost (docs/benchmarks.md, "Meeting issue 15's
target with call intelligence on"): on the 168 calls of the 30 demo days, what the heuristics
answer (levels, reasons, next steps), how many calls carry a cue, what a hosted model is sent, and
which cue lines tier-2's excerpts leave out. Sizes in characters and in the fake server's tokens (4
characters a token); nothing is sent anywhere.

    .venv/bin/python scripts/call_cost_options.py
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sqlalchemy import select  # noqa: E402

from headway_assets.assets.call_insights import CALL_SOURCES, DIMENSIONS, call_excerpt  # noqa: E402
from headway_assets.assets.local_model import feedback_excerpts, internal_speakers  # noqa: E402
from headway_assets.core.warehouse.database import dispose_engines, read_connection  # noqa: E402
from headway_assets.core.warehouse.schema import Message  # noqa: E402
from headway_assets.llm.tasks import CallInput  # noqa: E402
from headway_assets.offline import assess_call, signal_lines  # noqa: E402
from headway_assets.testing.demo_warehouse import prepare_raw  # noqa: E402


def tokens(chars: int) -> int:
    """The fake server's count: a token per 4 characters."""
    return -(-chars // 4)


def main() -> int:
    """Print the sizes."""
    with tempfile.TemporaryDirectory() as directory:
        url = f"sqlite:///{prepare_raw(Path(directory))}"
        with read_connection(url) as conn:
            rows = conn.execute(
                select(Message.text, Message.source, Message.source_metadata).where(Message.source.in_(CALL_SOURCES))
            ).all()
        dispose_engines()
    internal = [internal_speakers(row.source_metadata) for row in rows]
    tier2_excerpts = feedback_excerpts([row.text for row in rows], internal)
    sizes = dict.fromkeys(
        ("levels", "reasons", "next_steps", "sent", "cue_lines", "tier2_excerpt", "cue_not_in_tier2"), 0
    )
    with_level_cue = with_any_cue = 0
    for row, speakers, tier2 in zip(rows, internal, tier2_excerpts, strict=True):
        answer = assess_call(CallInput(row.text, row.source, None, None, tuple(sorted(speakers))))
        levels = {d: getattr(answer, d).level for d in DIMENSIONS}
        sizes["levels"] += len(json.dumps(levels))
        sizes["reasons"] += len(
            json.dumps({d: [r.model_dump() for r in getattr(answer, d).reasons] for d in DIMENSIONS})
        )
        sizes["next_steps"] += len(json.dumps([step.model_dump() for step in answer.next_steps]))
        with_level_cue += any(level != "low" for level in levels.values())
        with_any_cue += any(level != "low" for level in levels.values()) or bool(answer.next_steps)
        sizes["sent"] += len(call_excerpt(row.text, speakers))
        lines, kept = row.text.split("\n"), set(tier2.split("\n"))
        cues = signal_lines(row.text)
        sizes["cue_lines"] += sum(len(lines[i]) for i in cues)
        sizes["tier2_excerpt"] += len(tier2)
        # A left-out cue line would come with a line break and a gap marker around it.
        sizes["cue_not_in_tier2"] += sum(len(lines[i]) + 6 for i in cues if lines[i] not in kept)
    print(f"calls: {len(rows)}; with a risk, churn or expansion cue: {with_level_cue}; with any cue: {with_any_cue}")
    for name, chars in sizes.items():
        print(f"{name:18} {chars:>10,} characters {tokens(chars):>9,} tokens")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
