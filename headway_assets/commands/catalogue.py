"""`headway catalogue`: the catalogue on its own, from a file or over the warehouse.

    headway catalogue --input mentions.jsonl --output requests.jsonl [--provider P]
    headway catalogue --rebuild [--org acme ...]

From a file: JSON lines, `{"type": "taxonomy", "company": "A", "themes": {"Theme": ["Sub-theme",
...]}}` gives a company's taxonomy, `{"type": "mention", "id", "company", "title", "description",
"quote", "theme", "sub_theme", "customer", "kind"}` a mention (other keys are ignored). Each
mention is linked exactly as the pipeline links it (same candidates, same batched matcher), in
canonical order (the file's order), and one line per mention is written: `{"id", "request",
"request_title"}`. Nothing is cached: the command measures the matcher as it is now.

`--rebuild` runs the `catalogue_rebuild` job on the warehouse: every organisation's catalogue (or
those named) built again from all its mentions, people's corrections kept.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from headway_assets.commands.llm import open_engine, provider_help
from headway_assets.llm.registry import provider_names

if TYPE_CHECKING:
    from headway_assets.catalog import MentionRecord, RequestState

# The catalogue package (NumPy, the warehouse schema) is imported by this command's own work, not
# here: every `headway` command imports this module to register `catalogue`, and it took ~0.4 s
# of CPU of each one's start-up (`headway classify` among them).

# Mentions of a file have no send time: the file's order is their canonical order.
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


class CatalogueInputError(ValueError):
    """A line of the input file that cannot be used (the message names the line and the reason)."""


def _text(record: dict[str, Any], key: str, *, required: bool = False) -> str:
    value = record.get(key)
    if value is None:
        if required:
            raise CatalogueInputError(f'"{key}" is missing')
        return ""
    if not isinstance(value, str):
        raise CatalogueInputError(f'"{key}" must be a string, not {type(value).__name__}')
    return value.strip()


def read_mentions(path: Path, warn: Any = None) -> tuple[list[MentionRecord], dict[int, Any], list[str]]:
    """Mentions of a `headway catalogue` input file, their original ids by record id, and skipped lines.

    Themes and sub-themes are matched to the company's taxonomy lines when there are some; a
    sub-theme is stored as `theme/sub-theme` so equal sub-theme names under two themes stay apart.
    """
    from headway_assets.catalog import MentionRecord

    companies: dict[str, int] = {}
    taxonomies: dict[str, dict[str, list[str]]] = {}
    mentions: list[MentionRecord] = []
    original_ids: dict[int, Any] = {}
    skipped: list[str] = []
    seen_ids: set[str] = set()
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                if not isinstance(record, dict):
                    raise CatalogueInputError("expected a JSON object")
                kind = record.get("type")
                if kind == "taxonomy":
                    company = _text(record, "company", required=True)
                    themes = record.get("themes")
                    if not isinstance(themes, dict):
                        raise CatalogueInputError('"themes" must be an object of theme -> [sub-themes]')
                    taxonomies[company] = {str(theme): [str(s) for s in subs or []] for theme, subs in themes.items()}
                    continue
                if kind != "mention":
                    raise CatalogueInputError(f'"type" must be "taxonomy" or "mention", not {kind!r}')
                if "id" not in record:
                    raise CatalogueInputError('"id" is missing')
                if json.dumps(record["id"]) in seen_ids:
                    raise CatalogueInputError(f"id {record['id']!r} appears twice")
                title = _text(record, "title", required=True)
                if not title:
                    raise CatalogueInputError('"title" is empty')
                company = _text(record, "company") or "default"
                org_id = companies.setdefault(company, len(companies) + 1)
                theme = _text(record, "theme") or None
                sub_theme = _text(record, "sub_theme") or None
                known = taxonomies.get(company)
                if known is not None and theme is not None and theme not in known and warn:
                    warn(f"{path}:{number}: theme {theme!r} is not in {company}'s taxonomy; kept as given")
                index = len(mentions) + 1
                mentions.append(
                    MentionRecord(
                        id=index,
                        org_id=org_id,
                        title=title,
                        description=_text(record, "description"),
                        kind=_text(record, "kind") or "feature_request",
                        theme=theme,
                        sub_theme=f"{theme}/{sub_theme}" if theme and sub_theme else sub_theme,
                        customer=_text(record, "customer") or None,
                        source="file",
                        sent_at=_EPOCH + timedelta(seconds=index),
                        external_id=str(record["id"]),
                        ordinal=0,
                        quote=_text(record, "quote"),
                    )
                )
                seen_ids.add(json.dumps(record["id"]))
                original_ids[index] = record["id"]
            except (ValueError, CatalogueInputError) as error:
                skipped.append(f"{path}:{number}: skipped: {error}")
    return mentions, original_ids, skipped


def link_file_mentions(mentions: list[MentionRecord], provider: str | None) -> tuple[list[RequestState], int]:
    """The requests of `mentions` built from nothing by the provider's matcher, and failed answers."""
    from headway_assets.catalog import Linker, engine_matcher
    from headway_assets.offline import match_predictor

    failures: list[str] = []

    async def run() -> list[RequestState]:
        async with open_engine(provider) as engine:
            # A hosted model's rounds are round trips: the offline matcher guesses its answers so
            # each round also asks what later mentions will face (docs/benchmarks.md).
            predict = match_predictor(engine.provider.name)
            result = await Linker([], engine_matcher(engine, failures), predict).link(mentions)
            return result.created

    return asyncio.run(run()), len(failures)


def cmd_catalogue(args: argparse.Namespace) -> int:
    """`headway catalogue`: link a file's mentions, or rebuild the warehouse's catalogue."""
    if args.rebuild:
        return _rebuild(args.org)
    if args.input is None or args.output is None:
        print("give --input and --output (a file's mentions), or --rebuild (the warehouse)", file=sys.stderr)
        return 2
    if not args.input.is_file():
        print(f"{args.input}: no such file", file=sys.stderr)
        return 2
    mentions, original_ids, skipped = read_mentions(args.input, warn=lambda text: print(text, file=sys.stderr))
    for line in skipped:
        print(line, file=sys.stderr)
    started = time.monotonic()
    print(f"linking {len(mentions)} mentions ...", file=sys.stderr, flush=True)
    requests, failed = link_file_mentions(mentions, args.provider)
    placed: dict[int, RequestState] = {m.id: request for request in requests for m in request.mentions}
    with args.output.open("w", encoding="utf-8") as output:
        for mention in mentions:
            request = placed[mention.id]
            row = {"id": original_ids[mention.id], "request": request.key, "request_title": request.title}
            output.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(
        f"wrote {len(mentions)} mentions in {len(requests)} requests to {args.output} in "
        f"{time.monotonic() - started:.1f} s ({failed} match answers failed, {len(skipped)} input lines skipped)",
        file=sys.stderr,
    )
    return 0 if not (failed or skipped) else 1


def _rebuild(orgs: list[str] | None) -> int:
    import dagster as dg

    from headway_assets.definitions import defs
    from headway_assets.orchestration.instance import ensure_embedded_instance
    from headway_assets.orchestration.runner import run_catalogue_rebuild

    ensure_embedded_instance()
    with dg.DagsterInstance.get() as instance:
        report = run_catalogue_rebuild(defs, instance, orgs=orgs or [], progress=lambda text: print(text, flush=True))
    print(f"run {report.run_id} {'succeeded' if report.success else 'FAILED'} in {report.seconds:.1f} s")
    for check in report.failed_checks:
        print(f"check not passing: {check}")
    return 0 if report.success else 1


def register_commands(commands: Any) -> None:
    """Add `catalogue` to the `headway` command line."""
    catalogue = commands.add_parser(
        "catalogue",
        help="link a file of mentions into requests (--input/--output), or rebuild the warehouse's catalogue",
    )
    catalogue.add_argument("--input", type=Path, help="JSON lines of taxonomy and mention records")
    catalogue.add_argument("--output", type=Path, help="where to write {id, request, request_title} lines")
    catalogue.add_argument("--provider", choices=provider_names(), default=None, help=provider_help())
    catalogue.add_argument(
        "--rebuild", action="store_true", help="run the catalogue_rebuild job on the warehouse (corrections kept)"
    )
    catalogue.add_argument("--org", action="append", help="with --rebuild: only this organisation (repeatable)")
    catalogue.set_defaults(handler=cmd_catalogue)
