"""`python -m headway_assets.demo`: write the demo corpus to a folder."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

from headway_assets.demo.corpus import DEFAULT_DAYS, DEFAULT_SEED, DEFAULT_START
from headway_assets.demo.writers import generate_demo


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, generate the corpus, print where it went."""
    parser = argparse.ArgumentParser(prog="python -m headway_assets.demo", description=__doc__)
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: the settings' demo_dir)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--start", type=date.fromisoformat, default=DEFAULT_START, help="first day, YYYY-MM-DD")
    parser.add_argument("--days", type=int, default=DEFAULT_DAYS)
    args = parser.parse_args(argv)
    out = args.out
    if out is None:
        from headway_assets.core.settings import get_settings

        out = get_settings().pipeline.demo_dir
    manifest = generate_demo(out, seed=args.seed, start=args.start, days=args.days)
    for org in manifest.orgs:
        counts = ", ".join(f"{c.source} {c.items}" for c in org.connections)
        print(f"{org.slug}: {counts}")
    print(f"wrote {out / 'manifest.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
