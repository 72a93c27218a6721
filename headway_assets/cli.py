"""`headway`: the command line of the pipeline (demo, migrations, organisations, connections, AI tools)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from headway_assets.core.settings import get_settings
from headway_assets.sources.registry import source_names

if TYPE_CHECKING:
    from headway_assets.core.warehouse.org_settings import SettingsActor

Handler = Callable[[argparse.Namespace], int]


def _say(text: str) -> None:
    print(text, flush=True)


def _step(text: str) -> None:
    print(f"\033[1m==> {text}\033[0m", flush=True)


# -- demo ------------------------------------------------------------------------------------


def cmd_demo(args: argparse.Namespace) -> int:
    """Generate the demo corpus, load it, run every asset over the demo window, print what landed."""
    started = time.monotonic()
    settings = get_settings().pipeline
    from headway_assets.core.warehouse.customer_import import import_customers, read_customer_file
    from headway_assets.core.warehouse.database import migrate, redact_database_url, write_transaction
    from headway_assets.demo import generate_demo, seed_demo

    _step(f"Warehouse: {redact_database_url(settings.warehouse_url)}")
    migrate(settings.warehouse_url)
    _step(f"Demo corpus: two organisations, {args.days} days from {args.start} -> {settings.demo_dir}")
    manifest = generate_demo(settings.demo_dir, seed=args.seed, start=args.start, days=args.days)
    for org in manifest.orgs:
        _say(f"  {org.name}: " + ", ".join(f"{c.source} {c.items}" for c in org.connections))
    with write_transaction(settings.warehouse_url) as conn:
        org_ids = seed_demo(conn, manifest, data_dir=settings.data_dir)
    _step("Customers: each organisation's CRM export (what `headway customers import FILE.csv` does)")
    for org in manifest.orgs:
        # Before the pipeline, so the author resolution maps messages onto the imported accounts.
        frame = read_customer_file(manifest.path_of(org.customers_path))
        with write_transaction(settings.warehouse_url) as conn:
            imported = import_customers(conn, org_ids[org.slug], frame)
        _say(
            f"  {org.name}: {imported.imported} of {imported.rows} rows from {org.customers_path} ({imported.created}"
            f" new, {imported.updated} updated, {len(imported.rejected)} refused)"
        )
    if args.no_pipeline:
        _say("Skipping the pipeline (--no-pipeline).")
        return 0
    first = args.start.isoformat()
    last = (args.start + timedelta(days=args.days - 1)).isoformat()
    from headway_assets.orchestration.instance import ensure_embedded_instance

    home = ensure_embedded_instance()
    _step(f"Pipeline: every asset for {first}...{last} in one run (Dagster instance {home})")
    import dagster as dg

    from headway_assets.definitions import defs
    from headway_assets.orchestration.runner import run_pipeline

    with dg.DagsterInstance.get() as instance:
        # The demo shows what the code does now: outcomes an earlier model, prompt or offline
        # version made are redone (unchanged ones come from the answer cache).
        report = run_pipeline(
            defs, instance, first_partition=first, last_partition=last, refresh_stale=True, progress=_say
        )
    _say(f"  run {report.run_id} {'succeeded' if report.success else 'FAILED'} in {report.seconds:.1f} s")
    for check in report.failed_checks:
        _say(f"  check not passing: {check}")
    _print_summary(settings.warehouse_url)
    _say("")
    _say(f"Done in {time.monotonic() - started:.0f} s. Next:")
    _say("  ./dev ui     # Dagster UI at http://127.0.0.1:3000 : assets, partitions, checks, this run")
    _say("  ./dev api    # read API at http://127.0.0.1:8000/docs (headway users create ... for a login)")
    return 0 if report.success else 1


def _print_summary(url: str) -> None:
    from headway_assets.core.warehouse.summary import warehouse_summary

    summary = warehouse_summary(url)
    _step("What landed in the warehouse")
    for line in summary:
        _say(f"  {line}")


# -- warehouse and tenants ---------------------------------------------------------------------


def cmd_instance_init(_args: argparse.Namespace) -> int:
    """Prepare the embedded Dagster instance folder (used by `./dev ui`)."""
    from headway_assets.orchestration.instance import ensure_embedded_instance

    _say(str(ensure_embedded_instance()))
    return 0


def cmd_migrate(_args: argparse.Namespace) -> int:
    """Bring the warehouse schema up to date."""
    from headway_assets.core.warehouse.database import migrate, redact_database_url

    url = get_settings().pipeline.warehouse_url
    migrate(url)
    _say(f"warehouse at {redact_database_url(url)} is up to date")
    return 0


def cmd_generate_demo(args: argparse.Namespace) -> int:
    """Write the demo corpus only."""
    from headway_assets.demo import generate_demo

    out = args.out or get_settings().pipeline.demo_dir
    manifest = generate_demo(out, seed=args.seed, start=args.start, days=args.days)
    for org in manifest.orgs:
        _say(f"{org.slug}: " + ", ".join(f"{c.source} {c.items}" for c in org.connections))
    _say(f"wrote {out / 'manifest.json'}")
    return 0


def _cli_actor() -> SettingsActor:
    """Who a settings change of a `headway` command is audited as: `cli:LOGIN`, the operator's login
    on the machine (the OS account, not a customer's data), or `cli` when there is none."""
    import getpass

    from headway_assets.core.warehouse.org_settings import VIA_CLI, SettingsActor

    try:
        login = getpass.getuser()
    except (OSError, KeyError):  # no login name in the environment nor a passwd entry (containers)
        return SettingsActor(actor=VIA_CLI, via=VIA_CLI)
    return SettingsActor(actor=f"cli:{login}"[:320], via=VIA_CLI)


def cmd_org_budget(args: argparse.Namespace) -> int:
    """Show, set or clear an organisation's monthly LLM budget, with what it spent this month."""
    from sqlalchemy import select

    from headway_assets.core.org_settings import BUDGET_SETTING
    from headway_assets.core.warehouse.database import write_transaction
    from headway_assets.core.warehouse.llm_spend import month_to_date_spend, monthly_budgets
    from headway_assets.core.warehouse.org_settings import change_org_settings
    from headway_assets.core.warehouse.schema import Organization

    if args.monthly_usd is not None and args.monthly_usd < 0:
        _say("--monthly-usd must be 0 (no limit) or more")
        return 2
    default = get_settings().pipeline.llm_monthly_budget_usd
    with write_transaction(get_settings().pipeline.warehouse_url) as conn:
        org_id = conn.execute(select(Organization.id).where(Organization.slug == args.org)).scalar_one_or_none()
        if org_id is None:
            _say(f"no organisation with slug {args.org!r}; create it with `headway orgs create` first")
            return 2
        if args.clear or args.monthly_usd is not None:
            value = None if args.clear else float(args.monthly_usd)
            change_org_settings(conn, org_id, {BUDGET_SETTING: value}, _cli_actor())
        budget = monthly_budgets(conn, [org_id], default)[org_id]
        spent = month_to_date_spend(conn, [org_id])[org_id]
    limit = f"${budget:g} a month" if budget > 0 else "no limit"
    _say(f"{args.org}: {limit}; spent ${spent:.4f} this month (UTC, list prices)")
    return 0


def cmd_org_call_model(args: argparse.Namespace) -> int:
    """Show, set or clear what assesses an organisation's calls: the local heuristics or a model."""
    from sqlalchemy import select

    from headway_assets.core.org_settings import NOT_OFFERED
    from headway_assets.core.warehouse.database import write_transaction
    from headway_assets.core.warehouse.org_settings import change_org_settings
    from headway_assets.core.warehouse.schema import Organization
    from headway_assets.resources.llm import CALL_MODEL_SETTING, LlmResource

    llm = LlmResource()
    if args.model is not None:
        try:
            llm.checked_call_model(args.model)
        except ValueError as error:
            _say(str(error))
            return 2
    changing = args.clear or args.model is not None
    with write_transaction(get_settings().pipeline.warehouse_url) as conn:
        org_id = conn.execute(select(Organization.id).where(Organization.slug == args.org)).scalar_one_or_none()
        if org_id is None:
            _say(f"no organisation with slug {args.org!r}; create it with `headway orgs create` first")
            return 2
        if changing:
            change_org_settings(conn, org_id, {CALL_MODEL_SETTING: None if args.clear else args.model}, _cli_actor())
        settings = conn.execute(select(Organization.settings).where(Organization.id == org_id)).scalar_one()
    own = (settings or {}).get(CALL_MODEL_SETTING)
    # The kernel's rule, the one call_insights follows and GET /v1/organization/settings shows.
    applied = llm.applied_call_model(settings)
    if applied.reason is not None and applied.reason.code == NOT_OFFERED:
        _say(f"{args.org}: its call_model {own!r} does not apply: {applied.reason.message}")
        return 2
    model = applied.value
    whose = "its own setting" if own == model else "the deployment default, HEADWAY_CALL_MODEL"
    _say(f"{args.org}: calls assessed by {model} ({whose}; provider {llm.provider_name})")
    if applied.reason is not None:
        _say(f"{args.org}: its call_model {own!r} does not apply: {applied.reason.message}")
    if changing:
        _say("calls already assessed by the other assessor change on a run with the tag headway/refresh_stale=true")
    return 0


def cmd_set_taxonomy(args: argparse.Namespace) -> int:
    """Load an organisation's taxonomy from a YAML file."""
    from sqlalchemy import select

    from headway_assets.core.taxonomy import load_taxonomy_file, store_org_taxonomy
    from headway_assets.core.warehouse.database import write_transaction
    from headway_assets.core.warehouse.schema import Organization

    taxonomy = load_taxonomy_file(args.file)
    with write_transaction(get_settings().pipeline.warehouse_url) as conn:
        org_id = conn.execute(select(Organization.id).where(Organization.slug == args.org)).scalar_one_or_none()
        if org_id is None:
            _say(f"no organisation with slug {args.org!r}; create it with `headway orgs create` first")
            return 2
        # An operator's choice: marked edited, so a demo re-seed keeps it.
        store_org_taxonomy(conn, org_id=org_id, taxonomy=taxonomy, source="edited")
    _say(f"{args.org}: {len(taxonomy.themes)} themes, {len(taxonomy.sub_themes)} sub-themes")
    return 0


def cmd_create_org(args: argparse.Namespace) -> int:
    """Create (or rename) an organisation; the settings given are audited like any other change."""
    from headway_assets.core.warehouse.database import write_transaction
    from headway_assets.core.warehouse.org_settings import change_org_settings
    from headway_assets.core.warehouse.tenants import upsert_organization

    with write_transaction(get_settings().pipeline.warehouse_url) as conn:
        settings: dict[str, Any] = {}
        if args.internal_domain is not None:
            settings["internal_domains"] = args.internal_domain
        if args.pii_redaction is not None:
            settings["pii_redaction"] = args.pii_redaction
        org_id = upsert_organization(conn, slug=args.slug, name=args.name)
        change_org_settings(conn, org_id, settings, _cli_actor())
    _say(f"organisation {args.slug} has id {org_id}")
    return 0


def cmd_add_connection(args: argparse.Namespace) -> int:
    """Add or update a source connection; credentials (JSON) are read from stdin and encrypted."""
    from sqlalchemy import select

    from headway_assets.core.warehouse.database import write_transaction
    from headway_assets.core.warehouse.schema import ConnectionKind, Organization
    from headway_assets.core.warehouse.tenants import store_credentials, upsert_connection

    config: dict[str, Any] = json.loads(args.config) if args.config else {}
    if args.path:
        config["path"] = args.path
    if args.base_url:
        config["base_url"] = args.base_url
    credentials = None
    if args.credentials_stdin:
        try:
            credentials = json.loads(sys.stdin.read())
        except json.JSONDecodeError:
            _say('credentials on stdin must be a JSON object, e.g. {"api_key": "..."}')
            return 2
    with write_transaction(get_settings().pipeline.warehouse_url) as conn:
        org_id = conn.execute(select(Organization.id).where(Organization.slug == args.org)).scalar_one_or_none()
        if org_id is None:
            _say(f"no organisation with slug {args.org!r}; create it with `headway orgs create` first")
            return 2
        connection_id = upsert_connection(
            conn,
            org_id=org_id,
            source=args.source,
            name=args.name,
            kind=ConnectionKind(args.kind),
            config=config,
        )
        if credentials is not None:
            store_credentials(conn, connection_id=connection_id, values=credentials)
    _say(f"connection {connection_id}: {args.org}/{args.source}/{args.name} ({args.kind})")
    return 0


def cmd_inspect_export(args: argparse.Namespace) -> int:
    """Print what the pipeline would make of one export file, as one JSON object; writes nothing."""
    from headway_assets.sources.dispatch import ExportOptions
    from headway_assets.sources.inspect import inspect_export

    options = ExportOptions(
        internal_domains=tuple(args.internal_domain or ()), workspace_url=args.workspace_url, mailbox=args.mailbox
    )
    inspection = inspect_export(args.source, args.file, options)
    print(json.dumps(inspection.as_json(), ensure_ascii=False), flush=True)
    return 2 if inspection.rejected is not None else 0


def parse_day_range(value: str) -> tuple[date, date]:
    """`2026-10-07` or `2026-10-03..2026-10-05` as (first, last) UTC days, inclusive."""
    first_text, _, last_text = value.partition("..")
    try:
        first = date.fromisoformat(first_text)
        last = date.fromisoformat(last_text) if last_text else first
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a day (YYYY-MM-DD) or a range (DAY..DAY)") from None
    if last < first:
        raise argparse.ArgumentTypeError(f"{value!r}: the last day is before the first")
    return first, last


def cmd_restore_messages(args: argparse.Namespace) -> int:
    """Put messages a sync removed back into the warehouse (their original ids when free)."""
    from datetime import UTC, datetime, time

    from headway_assets.core.message import TimeWindow
    from headway_assets.core.warehouse.database import write_transaction
    from headway_assets.core.warehouse.removals import restore_removed_messages

    if args.run is None and args.connection is None and args.window is None:
        _say("say which removals to restore: --run RUN_ID, --connection ID and/or --window DAY[..DAY]")
        return 2
    window = None
    if args.window is not None:
        first, last = args.window
        window = TimeWindow(
            datetime.combine(first, time(0), tzinfo=UTC),
            datetime.combine(last + timedelta(days=1), time(0), tzinfo=UTC),
        )
    with write_transaction(get_settings().pipeline.warehouse_url) as conn:
        stats = restore_removed_messages(conn, dagster_run_id=args.run, connection_id=args.connection, window=window)
    _say(
        f"restored {stats.restored} message(s) ({stats.new_ids} under a new id because the original was taken); "
        f"{stats.already_present} were already back in the warehouse"
    )
    if stats.days:
        span = stats.days[0].isoformat() + ("" if len(stats.days) == 1 else f"...{stats.days[-1].isoformat()}")
        # Labels and mentions cascaded away with the removal; cached LLM answers make them free again.
        _say(
            f"re-run the AI assets for {span} to label them again (answers come from the LLM cache), and fix "
            "the source first: a sync whose read still lacks them removes them again"
        )
    return 0


def cmd_new_credentials_key(_args: argparse.Namespace) -> int:
    """Print a new key for HEADWAY_CREDENTIALS_KEY."""
    from cryptography.fernet import Fernet

    _say(Fernet.generate_key().decode())
    return 0


# -- parser ----------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The `headway` argument parser with every subcommand."""
    parser = argparse.ArgumentParser(prog="headway", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = commands.add_parser("demo", help="build the demo corpus and run the whole pipeline on it")
    demo.add_argument("--start", type=date.fromisoformat, default=date(2026, 10, 1), help="first day (UTC)")
    demo.add_argument("--days", type=int, default=30, help="number of days")
    demo.add_argument("--seed", type=int, default=7, help="random seed of the generator")
    demo.add_argument("--no-pipeline", action="store_true", help="only generate and register the corpus")
    demo.set_defaults(handler=cmd_demo)

    commands.add_parser("migrate", help="bring the warehouse schema up to date").set_defaults(handler=cmd_migrate)
    commands.add_parser("instance-init", help="prepare the embedded Dagster instance folder").set_defaults(
        handler=cmd_instance_init
    )

    generate = commands.add_parser("generate-demo", help="only write the demo corpus files")
    generate.add_argument("--out", type=Path, default=None)
    generate.add_argument("--start", type=date.fromisoformat, default=date(2026, 10, 1))
    generate.add_argument("--days", type=int, default=30)
    generate.add_argument("--seed", type=int, default=7)
    generate.set_defaults(handler=cmd_generate_demo)

    orgs = commands.add_parser("orgs", help="organisations").add_subparsers(dest="orgs_command", required=True)
    create = orgs.add_parser(
        "create",
        help="create or rename an organisation (an existing one keeps every setting this command is not given)",
    )
    create.add_argument("--slug", required=True)
    create.add_argument("--name", required=True)
    create.add_argument(
        "--internal-domain", action="append", help="your own email domain (repeatable; replaces the stored list)"
    )
    redaction = create.add_mutually_exclusive_group()
    redaction.add_argument(
        "--no-pii-redaction",
        dest="pii_redaction",
        action="store_const",
        const=False,
        default=None,
        help="send message text to LLM providers as it is (default: HEADWAY_PII_REDACTION, on unless turned off)",
    )
    redaction.add_argument(
        "--pii-redaction",
        dest="pii_redaction",
        action="store_const",
        const=True,
        help="replace personal data by placeholders before any LLM call, whatever the deployment default",
    )
    create.set_defaults(handler=cmd_create_org)
    taxonomy = orgs.add_parser("set-taxonomy", help="load an organisation's taxonomy from YAML")
    taxonomy.add_argument("--org", required=True)
    taxonomy.add_argument("--file", type=Path, required=True)
    taxonomy.set_defaults(handler=cmd_set_taxonomy)
    budget = orgs.add_parser(
        "budget",
        help="show or set an organisation's monthly LLM budget (over it, its AI work waits for next month)",
    )
    budget.add_argument("--org", required=True)
    setting = budget.add_mutually_exclusive_group()
    setting.add_argument("--monthly-usd", type=float, default=None, help="USD at list prices; 0 = no limit")
    setting.add_argument("--clear", action="store_true", help="use HEADWAY_LLM_MONTHLY_BUDGET_USD again")
    budget.set_defaults(handler=cmd_org_budget)
    call_model = orgs.add_parser(
        "call-model",
        help="show or set what assesses an organisation's calls: the local heuristics (default) or a provider model",
    )
    call_model.add_argument("--org", required=True)
    choice = call_model.add_mutually_exclusive_group()
    choice.add_argument("--model", help="headway-call-cues-1 (local heuristics, no LLM call) or a provider model")
    choice.add_argument("--clear", action="store_true", help="use HEADWAY_CALL_MODEL again")
    call_model.set_defaults(handler=cmd_org_call_model)

    connections = commands.add_parser("connections", help="source connections").add_subparsers(
        dest="connections_command", required=True
    )
    add = connections.add_parser("add", help="add or update a connection")
    add.add_argument("--org", required=True)
    add.add_argument("--source", required=True, choices=source_names())
    add.add_argument("--name", required=True)
    add.add_argument("--kind", default="api", choices=["api", "export"])
    add.add_argument("--path", help="export file (kind export)")
    add.add_argument("--base-url", help="vendor API base URL (e.g. a Gong tenant URL)")
    add.add_argument("--config", help='extra JSON config, e.g. \'{"channels": ["C123"]}\'')
    add.add_argument("--credentials-stdin", action="store_true", help="read credentials JSON from stdin")
    add.set_defaults(handler=cmd_add_connection)

    exports = commands.add_parser("exports", help="export files").add_subparsers(dest="exports_command", required=True)
    inspect = exports.add_parser(
        "inspect",
        help="read an export file as the pipeline would and print one JSON summary; writes nothing",
        description="Prints {messages, turns, skipped, rejected}; exit 0 when the file is read, 2 when it is refused.",
    )
    inspect.add_argument("--source", required=True, choices=source_names())
    inspect.add_argument("file", type=Path, help="the export file (Slack ZIP, .mbox, Gong or Fathom JSON)")
    inspect.add_argument("--internal-domain", action="append", help="your own email domain (repeatable)")
    inspect.add_argument("--mailbox", help="the address an mbox belongs to")
    inspect.add_argument("--workspace-url", help="Slack workspace URL, e.g. https://acme.slack.com")
    inspect.set_defaults(handler=cmd_inspect_export)

    messages = commands.add_parser("messages", help="stored messages").add_subparsers(
        dest="messages_command", required=True
    )
    restore = messages.add_parser(
        "restore", help="put messages a sync removed back (original ids when free); filters combine"
    )
    restore.add_argument("--run", help="the Dagster run id that removed them")
    restore.add_argument("--connection", type=int, help="the source connection id")
    restore.add_argument("--window", type=parse_day_range, help="UTC day sent, or DAY..DAY (inclusive)")
    restore.set_defaults(handler=cmd_restore_messages)

    from headway_assets.commands.llm import register_commands as register_llm_commands

    register_llm_commands(commands)
    from headway_assets.commands.catalogue import register_commands as register_catalogue_commands

    register_catalogue_commands(commands)
    from headway_assets.commands.model import register_commands as register_model_commands

    register_model_commands(commands)
    from headway_assets.commands.customers import register_commands as register_customer_commands

    register_customer_commands(commands)
    # Other packages (the read API: users, tokens) add theirs through an entry-point group, so
    # the pipeline never imports headway_api: the dependency points from the API to the CLI.
    for register in _registered_commands():
        register(commands)

    credentials = commands.add_parser("credentials", help="credential encryption").add_subparsers(
        dest="credentials_command", required=True
    )
    credentials.add_parser("new-key", help="print a new HEADWAY_CREDENTIALS_KEY").set_defaults(
        handler=cmd_new_credentials_key
    )
    return parser


COMMANDS_GROUP = "headway.commands"


def _registered_commands() -> list[Callable[[Any], None]]:
    """The `register_commands(subparsers)` functions installed under the `headway.commands` group.

    Sorted by entry-point name so the help text lists them in a stable order. The package must
    be installed (`./dev setup` installs it editable) for its entry points to be visible.
    """
    from importlib.metadata import entry_points

    return [point.load() for point in sorted(entry_points(group=COMMANDS_GROUP), key=lambda p: p.name)]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `headway` command."""
    parser = build_parser()
    args = parser.parse_args(argv)
    # The read API's commands name their handler `func`.
    handler: Handler = getattr(args, "handler", None) or args.func
    try:
        return handler(args)
    except KeyboardInterrupt:
        _say("interrupted; finished work is committed, re-run to continue")
        return 130


if __name__ == "__main__":
    sys.exit(main())
