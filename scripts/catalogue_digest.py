"""Digest of the catalogue a run wrote: to check that a change leaves the catalogue the same, byte for byte.

Prints one line per part, its row count and a SHA-256 (first 16 hex digits) over its rows in a fixed
order: the requests (every column but `updated_at`, by id), the links (request, mention, method,
score, pinned; by mention) and the cached match answers (task, prompt version, model, content hash,
answer, tokens; by content hash). Run it on the warehouses two versions of the code rebuilt from
copies of one warehouse (`scripts/bench_catalogue.py --step URL --rebuild`) and compare the lines.

    .venv/bin/python scripts/catalogue_digest.py sqlite:////tmp/rb/before.db
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, select

from headway_assets.core.warehouse.schema import FeatureRequest, FeatureRequestMention, LlmCacheEntry


def digest(url: str) -> dict[str, tuple[int, str]]:
    """(rows, digest) of the requests, links and cached match answers at `url`."""
    request_columns = [column for column in FeatureRequest.__table__.columns if column.name != "updated_at"]
    queries = {
        "requests": select(*request_columns).order_by(FeatureRequest.id),
        "links": select(
            FeatureRequestMention.feature_request_id,
            FeatureRequestMention.mention_id,
            FeatureRequestMention.match_method,
            FeatureRequestMention.match_score,
            FeatureRequestMention.pinned,
        ).order_by(FeatureRequestMention.mention_id),
        "match_answers": select(
            LlmCacheEntry.task,
            LlmCacheEntry.prompt_version,
            LlmCacheEntry.model,
            LlmCacheEntry.content_hash,
            LlmCacheEntry.response,
            LlmCacheEntry.input_tokens,
            LlmCacheEntry.output_tokens,
        )
        .where(LlmCacheEntry.task == "match")
        .order_by(LlmCacheEntry.content_hash),
    }
    engine = create_engine(url)
    result: dict[str, tuple[int, str]] = {}
    with engine.connect() as conn:
        for name, query in queries.items():
            hashed, rows = hashlib.sha256(), 0
            for row in conn.execute(query):
                hashed.update(repr(tuple(row)).encode())
                rows += 1
            result[name] = (rows, hashed.hexdigest()[:16])
    engine.dispose()
    return result


def main() -> None:
    """Print the digest of the warehouse at the given URL."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url", help="SQLAlchemy URL of the warehouse")
    for name, (rows, hashed) in digest(parser.parse_args().url).items():
        print(f"{name} {rows} {hashed}")


if __name__ == "__main__":
    main()
