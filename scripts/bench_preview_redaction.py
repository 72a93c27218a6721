"""Time of one redacted preview cell when a run holds many people (a backfill's authors).

Every preview cell of run metadata is redacted with the names of the run's people
(`assets/metadata.py`); this measures one cell of a 1,700-character message with N invented names,
looking for all of them and only for those that share a word with the text (what the assets do).

    .venv/bin/python scripts/bench_preview_redaction.py --names 3000 --cells 70
"""

from __future__ import annotations

import argparse
import random
import string
import time

from headway_assets.assets.metadata import preview_redaction, redacted_excerpt

TEXT = "Hi team, Jane here: can you add SSO with Okta? Reach me at jdoe@acme.com or +44 20 7946 0958. " * 20


def _names(count: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    word = lambda: "".join(rng.choice(string.ascii_lowercase) for _ in range(6)).capitalize()  # noqa: E731
    return [f"{word()} {word()}" for _ in range(count)] + ["Jane Doe"]


def _per_cell(names: list[str], cells: int, *, filtered: bool) -> float:
    started = time.perf_counter()
    for _ in range(cells):
        redaction = preview_redaction(names=names, texts=[TEXT] if filtered else None)
        shown = redacted_excerpt(TEXT, redaction)
        assert "Jane" not in shown and "jdoe@" not in shown
    return (time.perf_counter() - started) / cells


def main() -> None:
    """Print milliseconds per preview cell, all names looked for vs only those sharing a word."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--names", type=int, default=3000)
    parser.add_argument("--cells", type=int, default=70)
    args = parser.parse_args()
    names = _names(args.names)
    every = _per_cell(names, args.cells, filtered=False)
    sharing = _per_cell(names, args.cells, filtered=True)
    print(
        f"{args.names} names: {every * 1000:.1f} ms a cell looking for all, "
        f"{sharing * 1000:.1f} ms for those sharing a word"
    )


if __name__ == "__main__":
    main()
