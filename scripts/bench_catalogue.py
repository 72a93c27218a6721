"""Benchmark: the incremental catalogue at scale (issue 14: 100,000 mentions).

Builds a warehouse of N synthetic feature mentions over ~2 years for two organisations (bulk
inserts straight into `messages` and `feature_mentions`; titles drawn from a vocabulary over the
demo taxonomies in config/taxonomies, so there are a few thousand distinct asks, each worded
several ways, complaints among them, one mention in six placed in a neighbouring sub-theme), then
materialises `feature_catalog` with the real resources (offline provider), as the pipeline runs it:

(a) rebuild      — `catalogue_rebuild` config over the N mentions (= the catalogue from empty):
                   wall time and the peak RSS of the process that ran it;
(d) unchanged    — a run with nothing new (should be ~0 work);
(b) add a day    — one more day of ~60 mentions added to the N-mention catalogue;
(c) day on empty — the same day added to an empty catalogue (a warehouse holding only that day),
                   for the 1.5x ratio.

Every measurement runs in a fresh subprocess (`--step`), so peak RSS is that of one run.

    .venv/bin/python scripts/bench_catalogue.py [--mentions 100000] [--day-mentions 60]
    .venv/bin/python scripts/bench_catalogue.py --rebuild-only          # (a) only: the rebuild target
    .venv/bin/python scripts/bench_catalogue.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/bench_catalogue

With `--database-url` the databases `<name>` and `<name>_empty` on that server are dropped and
recreated. `--profile` writes a cProfile of each step next to the warehouse. docs/benchmarks.md
records the figures.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import yaml  # noqa: E402
from sqlalchemy import create_engine, func, insert, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from headway_assets.core.warehouse.database import dispose_engines, migrate, write_transaction  # noqa: E402
from headway_assets.core.warehouse.schema import FeatureMention, Message, Organization  # noqa: E402

END = datetime(2026, 11, 30, tzinfo=UTC)  # the last day of the history; the added day is the next
DAYS = 730
SOURCES = ("slack", "gmail", "intercom", "gong")
CHUNK = 5000  # rows per bulk insert statement batch

# Ask frames: (feature phrasings, complaint phrasings) around a keyword `k` and a qualifier `q`.
FRAMES: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = (
    (
        ("Support {k} {q}", "Add {k} support {q}", "Please support {k} {q}", "We need {k} {q}"),
        ("No way to use {k} {q}", "Cannot use {k} {q}"),
    ),
    (
        ("Let admins configure {k} {q}", "Configurable {k} {q}", "Allow configuring {k} {q}"),
        ("{k} settings are too rigid {q}", "Stuck with default {k} {q}"),
    ),
    (
        ("Faster {k} {q}", "Speed up {k} {q}", "Make {k} quicker {q}"),
        ("{k} is painfully slow {q}", "{k} takes forever {q}"),
    ),
    (
        ("Bulk edit {k} {q}", "Edit {k} in bulk {q}", "Batch changes to {k} {q}"),
        ("Editing {k} one by one is tedious {q}", "Too many clicks to change {k} {q}"),
    ),
    (
        ("Notify us when {k} fails {q}", "Alerts on {k} failures {q}", "Email when {k} breaks {q}"),
        ("{k} fails silently {q}", "We never hear when {k} breaks {q}"),
    ),
    (
        ("Audit history of {k} changes {q}", "Track who changed {k} {q}", "Change log for {k} {q}"),
        ("No record of who changed {k} {q}", "Changes to {k} are untraceable {q}"),
    ),
    (
        ("Export {k} data {q}", "Download {k} as CSV {q}", "API access to {k} {q}"),
        ("Cannot get {k} data out {q}", "{k} data is locked in {q}"),
    ),
    (
        ("Templates for {k} {q}", "Reusable {k} presets {q}", "Save {k} as a template {q}"),
        ("Rebuilding {k} from scratch every time {q}", "Have to recreate {k} each time {q}"),
    ),
)
QUALIFIERS = (
    "for admins",
    "per workspace",
    "on mobile",
    "in the API",
    "for large teams",
    "by region",
    "for guest users",
    "across projects",
    "in the EU instance",
    "for read-only viewers",
    "on the free plan",
    "with SSO users",
    "in shared folders",
    "for external clients",
    "during onboarding",
    "at month end",
)
FILLERS = ("", "", "", "please ", "really ", "urgently ", "honestly ")
ASKS_PER_SUB_THEME = 120  # ~3,000 distinct asks over two organisations
ASKS_SEED = 14


@dataclass(frozen=True)
class Ask:
    """One synthetic ask: its place and its wordings."""

    theme: str
    sub_theme: str
    neighbours: tuple[str, ...]
    features: tuple[str, ...]
    complaints: tuple[str, ...]


def _asks(org: str, rng: random.Random) -> list[Ask]:
    taxonomy = yaml.safe_load((REPO / "config" / "taxonomies" / f"{org}.yaml").read_text())
    asks: list[Ask] = []
    for theme in taxonomy["themes"]:
        subs = theme["sub_themes"]
        for sub in subs:
            keywords = [k for k in sub.get("keywords", []) if len(k) > 2] or [sub["name"].lower()]
            combos = [(f, k, q) for f in range(len(FRAMES)) for k in keywords for q in QUALIFIERS]
            rng.shuffle(combos)
            neighbours = tuple(s["path"] for s in subs if s["path"] != sub["path"])
            for frame, keyword, qualifier in combos[:ASKS_PER_SUB_THEME]:
                features, complaints = FRAMES[frame]
                asks.append(
                    Ask(
                        theme=theme["path"],
                        sub_theme=sub["path"],
                        neighbours=neighbours,
                        features=tuple(f.format(k=keyword, q=qualifier) for f in features),
                        complaints=tuple(c.format(k=keyword, q=qualifier) for c in complaints),
                    )
                )
    return asks


def _capitalise(title: str) -> str:
    return title[:1].upper() + title[1:]


class Synthesiser:
    """Draws realistic mentions (Zipf-like ask popularity) for the benchmark's organisations."""

    def __init__(self, seed: int = 14) -> None:
        self.rng = random.Random(seed)
        vocabulary = random.Random(ASKS_SEED)  # the same asks whatever the seed of the mentions
        self.asks = {org: _asks(org, vocabulary) for org in ("acme", "northwind")}
        self.weights = {org: [1.0 / (rank + 1) ** 0.8 for rank in range(len(asks))] for org, asks in self.asks.items()}
        self.customers = {org: [f"{org.title()} customer {i:03d}" for i in range(400)] for org in self.asks}

    def rows(self, org: str, org_id: int, count: int, start: datetime, days: int, prefix: str) -> tuple[list, list]:
        """`count` messages and their mentions (one each) spread over `days` from `start`."""
        rng, asks = self.rng, self.asks[org]
        messages: list[dict[str, Any]] = []
        mentions: list[dict[str, Any]] = []
        drawn = rng.choices(asks, weights=self.weights[org], k=count)
        for index, ask in enumerate(drawn):
            complaint = rng.random() < 0.25
            title = _capitalise(rng.choice(ask.complaints if complaint else ask.features))
            wording = rng.choice(FILLERS)
            sub_theme = rng.choice(ask.neighbours) if ask.neighbours and rng.random() < 1 / 6 else ask.sub_theme
            sent = start + timedelta(seconds=rng.randrange(days * 86400))
            source = rng.choice(SOURCES)
            body = f"Hi team, {wording}{title.lower()}. It matters for our rollout this quarter."
            external = f"{prefix}-{org}-{index}"
            messages.append(
                {
                    "org_id": org_id,
                    "source": source,
                    "external_id": external,
                    "thread_id": external,
                    "channel": "feedback",
                    "author_name": "Customer",
                    "author_email": None,
                    "author_is_internal": False,
                    "customer": rng.choice(self.customers[org]),
                    "sent_at": sent,
                    "title": None,
                    "text": body,
                    "text_length": len(body),
                    "url": None,
                    "content_hash": hashlib.sha256(body.encode()).hexdigest(),
                    "record_hash": hashlib.sha256(external.encode()).hexdigest(),
                    "source_metadata": {},
                }
            )
            mentions.append(
                {
                    "org_id": org_id,
                    "ordinal": 0,
                    "source": source,
                    "sent_at": sent,
                    "title": title,
                    "description": f"{title}. It matters for our rollout this quarter.",
                    "problem_statement": title if complaint else None,
                    "desired_outcome": None if complaint else title,
                    "kind": "pain_point" if complaint else "feature_request",
                    "urgency": "medium",
                    "sentiment": "negative" if complaint else "neutral",
                    "theme": ask.theme,
                    "sub_theme": sub_theme,
                    "customer": messages[-1]["customer"],
                    "evidence_quote": f"{wording}{title.lower()}",
                    "evidence_start": 9,
                    "provider": "offline",
                    "model": "bench",
                    "prompt_version": "bench",
                }
            )
        return messages, mentions


def _org_ids(url: str) -> dict[str, int]:
    with write_transaction(url) as conn:
        existing = dict(conn.execute(select(Organization.slug, Organization.id)).tuples().all())
        for slug in ("acme", "northwind"):
            if slug not in existing:
                existing[slug] = conn.execute(
                    insert(Organization).values(slug=slug, name=slug.title(), settings={}).returning(Organization.id)
                ).scalar_one()
    return existing


def add_mentions(url: str, synth: Synthesiser, total: int, start: datetime, days: int, prefix: str) -> None:
    """Bulk-insert `total` messages and mentions (split ~60/40 between the two orgs)."""
    orgs = _org_ids(url)
    split = {"acme": round(total * 0.6), "northwind": total - round(total * 0.6)}
    for org, count in split.items():
        messages, mentions = synth.rows(org, orgs[org], count, start, days, prefix)
        with write_transaction(url) as conn:
            for offset in range(0, len(messages), CHUNK):
                batch = messages[offset : offset + CHUNK]
                ids = conn.execute(insert(Message).returning(Message.id, sort_by_parameter_order=True), batch)
                rows = mentions[offset : offset + CHUNK]
                for row, message_id in zip(rows, ids.scalars(), strict=True):
                    row["message_id"] = message_id
                conn.execute(insert(FeatureMention), rows)


def fresh_database(url: str) -> None:
    """Drop and recreate a PostgreSQL database (SQLite: remove the file), then migrate it."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        Path(parsed.database or "").unlink(missing_ok=True)
    else:
        admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{parsed.database}"'))
        admin.dispose()
    migrate(url)


# --- one measured run, in its own process -------------------------------------------------------


def step(url: str, rebuild: bool, profile: str | None) -> dict[str, Any]:
    """Materialise `feature_catalog` once (the pipeline's resources, offline provider)."""
    import dagster as dg

    from headway_assets.assets.feature_catalog import feature_catalog
    from headway_assets.resources.llm import LlmResource
    from headway_assets.resources.warehouse import WarehouseResource

    run_config = {"ops": {"feature_catalog": {"config": {"rebuild": rebuild, "orgs": []}}}}
    resources = {"warehouse": WarehouseResource(database_url=url), "llm": LlmResource(provider="offline")}
    instance = dg.DagsterInstance.ephemeral()
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    started, cpu_started = time.perf_counter(), time.process_time()
    result = dg.materialize([feature_catalog], resources=resources, run_config=run_config, instance=instance)
    seconds = time.perf_counter() - started
    # This process's CPU (every thread; not the database server's): steadier than wall time when
    # other jobs share the machine.
    cpu_seconds = time.process_time() - cpu_started
    if profiler is not None and profile:
        profiler.disable()
        profiler.dump_stats(profile)
    metadata = result.asset_materializations_for_node("feature_catalog")[0].metadata
    wanted = (
        "mentions_placed",
        "requests_created",
        "requests_joined",
        "requests_refreshed",
        "links_written",
        "match_methods",
        "llm_calls",
        "llm_cache_hits",
        "llm_catalog_match",
    )
    checks = [c.passed for c in result.get_asset_check_evaluations()]
    return {
        "seconds": round(seconds, 3),
        "cpu_seconds": round(cpu_seconds, 3),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "checks_passed": all(checks) and bool(checks),
        **{k: getattr(metadata[k], "value", metadata[k]) for k in wanted if k in metadata},
    }


def measure(name: str, url: str, *, rebuild: bool = False, profile_dir: Path | None = None) -> dict[str, Any]:
    """Run one step in a subprocess and return its figures."""
    command = [sys.executable, __file__, "--step", url]
    if rebuild:
        command.append("--rebuild")
    if profile_dir is not None:
        command += ["--profile-out", str(profile_dir / f"{name}.prof")]
    print(f"[{time.strftime('%H:%M:%S')}] {name} ...", flush=True)
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"    {name}: {json.dumps(figures, default=str)}", flush=True)
    return figures


def _count(url: str) -> int:
    with write_transaction(url) as conn:
        return int(conn.execute(text("SELECT count(*) FROM feature_mentions")).scalar_one())


def components(url: str) -> None:
    """In process, without linking: what loading the work, indexing the live requests and the
    candidate search of the pending mentions cost (the in-process index against pg_trgm)."""
    from headway_assets.catalog import Linker
    from headway_assets.catalog.store import load_work
    from headway_assets.core.warehouse.database import read_connection

    started = time.perf_counter()
    with read_connection(url) as conn:
        work = load_work(conn)
    loaded = time.perf_counter()
    linker = Linker(work.requests, matcher=None)  # type: ignore[arg-type]  # only the index is used
    indexed = time.perf_counter()
    for mention in work.mentions:
        linker.indexes[mention.org_id].search(mention, lambda request: request)
    searched = time.perf_counter()
    texts = sum(len(index.entries) for index in linker.indexes.values())
    print(
        f"    components: load_work {1000 * (loaded - started):.0f} ms ({len(work.mentions)} mentions, "
        f"{len(work.requests)} live requests); index {1000 * (indexed - loaded):.0f} ms ({texts} texts); "
        f"search {1000 * (searched - indexed):.0f} ms",
        flush=True,
    )


def _analyze(url: str) -> None:
    """PostgreSQL: refresh the planner's statistics after a bulk load, as autovacuum soon would."""
    if make_url(url).get_backend_name() == "postgresql":
        with write_transaction(url) as conn:
            conn.execute(text("ANALYZE"))


def _next_day(url: str) -> datetime:
    """Midnight after the warehouse's latest mention."""
    with write_transaction(url) as conn:
        latest = conn.execute(select(func.max(FeatureMention.sent_at))).scalar_one()
    day = datetime(latest.year, latest.month, latest.day, tzinfo=UTC)
    return day + timedelta(days=1)


def _median(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run of median wall time."""
    return sorted(runs, key=lambda run: run["seconds"])[len(runs) // 2]


def main() -> None:
    """Build the warehouses, measure (a)-(d), print the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mentions", type=int, default=100_000)
    parser.add_argument("--day-mentions", type=int, default=60)
    parser.add_argument("--database-url", default=None, help="PostgreSQL URL (default: SQLite files in a temp dir)")
    parser.add_argument("--workdir", default=None, help="where the SQLite files and profiles go")
    parser.add_argument("--profile", action="store_true", help="write a cProfile of each step")
    parser.add_argument("--components", action="store_true", help="time loading, indexing, search of each day")
    parser.add_argument(
        "--reuse", action="store_true", help="skip building and rebuilding: add days to an earlier run's"
    )
    parser.add_argument("--days", type=int, default=1, help="days added one after another; (b) and (c) show the median")
    parser.add_argument(
        "--rebuild-only", action="store_true", help="stop after (a): build the warehouse, time its rebuild, print it"
    )
    parser.add_argument("--step", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--rebuild", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--profile-out", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:
        print(json.dumps(step(args.step, args.rebuild, args.profile_out), default=str))
        return

    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="bench-catalogue-"))
    workdir.mkdir(parents=True, exist_ok=True)
    if args.database_url:
        big = args.database_url
        empty = str(make_url(big).set(database=f"{make_url(big).database}_empty").render_as_string(hide_password=False))
    else:
        big, empty = f"sqlite:///{workdir / 'big.db'}", f"sqlite:///{workdir / 'empty.db'}"
    backend = make_url(big).get_backend_name()
    print(f"backend {backend}, {args.mentions} mentions, workdir {workdir}", flush=True)

    profile_dir = workdir if args.profile else None
    results: dict[str, dict[str, Any]] = {}
    if args.reuse:
        migrate(big)  # an earlier run's warehouse, brought to the current schema
        _analyze(big)
    else:
        started = time.perf_counter()
        fresh_database(big)
        add_mentions(big, Synthesiser(), args.mentions, END - timedelta(days=DAYS - 1), DAYS, "hist")
        dispose_engines()
        print(f"    synthesised {_count(big)} mentions in {time.perf_counter() - started:.1f} s", flush=True)
        _analyze(big)
        results["(a) rebuild"] = measure("rebuild", big, rebuild=True, profile_dir=profile_dir)
        if args.rebuild_only:
            rebuild = results["(a) rebuild"]
            print(
                f"\nbackend {backend}: rebuild of {args.mentions} mentions {rebuild['seconds']:.1f} s, "
                f"peak RSS {rebuild['peak_rss_mib']:.0f} MiB (target < 60 s, < 1024 MiB); "
                f"checks passed {rebuild['checks_passed']}"
            )
            return
        _analyze(big)
    results["(d) nothing new"] = measure("unchanged", big, profile_dir=profile_dir)
    added: list[dict[str, Any]] = []
    on_empty: list[dict[str, Any]] = []
    for _ in range(args.days):
        day = _next_day(big)
        seed = day.toordinal()  # the same day's mentions in both warehouses; ids unique per day
        add_mentions(big, Synthesiser(seed), args.day_mentions, day, 1, f"day{day:%Y%m%d}")
        fresh_database(empty)
        add_mentions(empty, Synthesiser(seed), args.day_mentions, day, 1, f"day{day:%Y%m%d}")
        dispose_engines()
        if args.components:
            components(big)
        added.append(measure("add_day", big, profile_dir=profile_dir))
        on_empty.append(measure("day_on_empty", empty, profile_dir=profile_dir))
    results["(b) add a day"] = _median(added)
    results["(c) day on empty"] = _median(on_empty)
    if args.days > 1:
        print(f"    add a day, each: {[r['seconds'] for r in added]}; on empty: {[r['seconds'] for r in on_empty]}")
        cpu_added, cpu_empty = (sorted(r["cpu_seconds"] for r in runs) for runs in (added, on_empty))
        print(
            f"    CPU seconds, add a day: {cpu_added}; on empty: {cpu_empty}; "
            f"ratio of medians {cpu_added[len(cpu_added) // 2] / cpu_empty[len(cpu_empty) // 2]:.2f}x"
        )

    print(f"\nbackend {backend}, history {args.mentions} mentions, day {args.day_mentions} mentions")
    header = (
        f"{'run':<18} {'seconds':>8} {'peak RSS MiB':>13} {'placed':>7} {'created':>8} {'refreshed':>9} "
        f"{'llm calls':>9}"
    )
    print(header)
    print("-" * len(header))
    for name, figures in results.items():
        print(
            f"{name:<18} {figures['seconds']:>8.2f} {figures['peak_rss_mib']:>13.0f} "
            f"{figures.get('mentions_placed', 0):>7} {figures.get('requests_created', 0):>8} "
            f"{figures.get('requests_refreshed', 0):>9} {figures.get('llm_calls', 0):>9}"
        )
    ratio = results["(b) add a day"]["seconds"] / results["(c) day on empty"]["seconds"]
    print(f"\nadd a day / day on empty: {ratio:.2f}x (target <= 1.5x); add a day <= 2 s; rebuild < 60 s, < 1024 MiB")
    for name, figures in results.items():
        print(f"{name}: match methods {figures.get('match_methods')}, checks passed {figures['checks_passed']}")


if __name__ == "__main__":
    main()
