"""`headway model train` and `headway model show`: the trained local tier-1 model (CLI layer).

Data sets are given either in a YAML file (`--datasets FILE`, see `config/models/default.yaml`)
or on the command line, each `--csv` followed by its own `--text-column`, `--label-column` and
optionally `--mapping`, `--name` and `--weight` (one given before the first `--csv` applies to every file):

    headway model train --csv issues.csv --text-column title,body --label-column label \\
        --mapping 'bug=bug_report,feature=feature_request,question=question' --output model.joblib

An organisation's own model (its corrected labels plus the default data) goes by default to the
models folder, where the pipeline finds it (`offline/org_models.py`):

    headway model train --org acme        # writes HEADWAY_MODELS_DIR/acme/tier1.joblib
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

# Options that belong to the `--csv` before them.
_PER_FILE = ("text_column", "label_column", "mapping", "name", "weight")


def _stderr(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


class _PerFile(argparse.Action):
    """Record a per-file option against the most recent `--csv` (index -1 before any)."""

    def __call__(self, parser: Any, namespace: Any, values: Any, option_string: str | None = None) -> None:
        groups: list[dict[str, Any]] = getattr(namespace, "file_groups", None) or []
        if self.dest == "csv":
            groups.append({"csv": Path(values)})
        elif groups and self.dest not in groups[-1]:
            groups[-1][self.dest] = values
        elif groups:
            parser.error(f"--{self.dest.replace('_', '-')} given twice for --csv {groups[-1]['csv']}")
        else:
            defaults = getattr(namespace, "file_defaults", None) or {}
            defaults[self.dest] = values
            namespace.file_defaults = defaults
        namespace.file_groups = groups


def dataset_specs(args: argparse.Namespace) -> list[Any]:
    """The data sets named by `--datasets` and/or the `--csv` groups, in the order given."""
    from headway_assets.offline import DatasetSpec, load_dataset_specs

    specs = list(load_dataset_specs(args.datasets)) if args.datasets else []
    defaults: dict[str, Any] = getattr(args, "file_defaults", None) or {}
    for group in getattr(args, "file_groups", None) or []:
        options = {**defaults, **group}
        missing = [f"--{k.replace('_', '-')}" for k in ("text_column", "label_column") if k not in options]
        if missing:
            raise ValueError(f"--csv {group['csv']} needs {' and '.join(missing)}")
        specs.append(
            DatasetSpec(
                csv=options["csv"],
                text_column=options["text_column"],
                label_column=options["label_column"],
                mapping=options.get("mapping"),
                name=options.get("name"),
                weight=float(options.get("weight", 1.0)),
            )
        )
    return specs


DEFAULT_DATASETS = Path("config/models/default.yaml")  # what the shipped model is trained on
ORG_WEIGHT = 3.0  # an organisation's own corrections weigh as Headway's own B2B examples


def _org_dataset(org: str, folder: Path, weight: float) -> Any:
    """The organisation's corrected labels as a data set (a CSV in `folder`, removed after training)."""
    import csv

    from headway_assets.core.settings import get_settings
    from headway_assets.core.warehouse.database import read_connection
    from headway_assets.core.warehouse.label_corrections import corrected_examples
    from headway_assets.offline import DatasetSpec

    with read_connection(get_settings().pipeline.warehouse_url) as conn:
        examples = corrected_examples(conn, org)
    if not examples:
        raise ValueError(f"{org}: no message labelled by a person yet (PATCH /v1/messages/{{id}}/label)")
    path = folder / f"{org}-corrections.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows(examples)
    return DatasetSpec(csv=path, text_column="text", label_column="label", name=f"{org}-corrections", weight=weight)


def cmd_model_train(args: argparse.Namespace) -> int:
    """Fit the local tier-1 model on the given data sets and write the artefact and its manifest."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="headway-train-") as folder:
        return _train(args, Path(folder))


def _train(args: argparse.Namespace, scratch: Path) -> int:
    from headway_assets.llm.evaluation import EvaluationDataError
    from headway_assets.offline import (
        cross_validation_metrics,
        fit_local_model,
        load_dataset_specs,
        load_training_rows,
        save_local_model,
    )

    if args.output is None:
        if not args.org:
            _stderr("give the artefact to write: --output PATH (or --org SLUG for the organisation's own model)")
            return 2
        from headway_assets.offline import org_artefact_path

        try:
            args.output = org_artefact_path(args.org)
        except ValueError as error:
            _stderr(str(error))
            return 2
    try:
        specs = dataset_specs(args)
        if args.org:
            if not specs:  # an organisation's model: its corrections plus the default data
                if not DEFAULT_DATASETS.is_file():
                    raise ValueError(
                        f"--org {args.org} adds the organisation's corrections to the default data, {DEFAULT_DATASETS} "
                        "(run from the repository), which is not here: give the data with --datasets or --csv"
                    )
                specs = list(load_dataset_specs(DEFAULT_DATASETS))
            # Their texts are the organisation's messages: the CSV lives in a temporary folder only.
            specs.append(_org_dataset(args.org, scratch, args.org_weight))
        if not specs:
            _stderr(
                "give the training data: --datasets FILE.yaml and/or --csv FILE --text-column ... --label-column ..."
            )
            return 2
        rows = load_training_rows(specs)
    except (ValueError, LookupError, EvaluationDataError, OSError) as error:
        _stderr(f"cannot read the training data: {error}")
        return 2
    for dataset in rows.datasets:
        _stderr(f"{dataset['name']}: {dataset['rows']} rows {dataset['labels']}")
    started = time.monotonic()
    metrics = None
    if args.cv_folds:
        _stderr(f"cross-validating ({args.cv_folds} folds) ...")
        metrics = {"cross_validation": cross_validation_metrics(rows, seed=args.seed, folds=args.cv_folds)}
    model = fit_local_model(rows, seed=args.seed)
    manifest = save_local_model(model, args.output, metrics=metrics)
    size = args.output.stat().st_size
    _stderr(
        f"wrote {args.output} ({size / 1e6:.1f} MB) and {manifest.name}: version {model.version}, "
        f"threshold {model.threshold}, {time.monotonic() - started:.0f} s"
    )
    if args.org:
        from headway_assets.offline import org_artefact_path, org_model_name

        if args.output.resolve() == org_artefact_path(args.org).resolve():
            _stderr(
                f"{args.org}'s messages are labelled with it as {org_model_name(args.org)} when "
                "HEADWAY_TIER1_MODEL=headway-local-2; re-label stored days with a run tagged headway/refresh_stale=true"
            )
    if metrics:
        print(json.dumps(metrics, indent=2))
    return 0


def cmd_model_show(args: argparse.Namespace) -> int:
    """Print an artefact's manifest (the shipped model's without a path)."""
    from headway_assets.offline import ArtefactError, default_artefact_path, read_manifest

    try:
        print(json.dumps(read_manifest(args.path or default_artefact_path()), indent=2))
    except ArtefactError as error:
        _stderr(str(error))
        return 2
    return 0


def register_commands(commands: Any) -> None:
    """Add `model train` and `model show` to the `headway` command line."""
    model = commands.add_parser("model", help="the trained local tier-1 model").add_subparsers(
        dest="model_command", required=True
    )
    train = model.add_parser(
        "train",
        help="fit the local tier-1 model on labelled CSV files and write a versioned artefact",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    train.add_argument("--datasets", type=Path, help="YAML list of data sets (csv, text_column, label_column, ...)")
    train.add_argument("--csv", action=_PerFile, help="a labelled CSV (repeatable; options after it apply to it)")
    train.add_argument("--text-column", action=_PerFile, help="column(s) with the text, e.g. title,body")
    train.add_argument("--label-column", action=_PerFile, help="column with the label")
    train.add_argument("--mapping", action=_PerFile, help="raw label -> category: a CSV or inline 'bug=bug_report,...'")
    train.add_argument("--name", action=_PerFile, help="name of the data set in the manifest (default: folder)")
    train.add_argument("--weight", action=_PerFile, help="weight of each of its rows (default 1)")
    train.add_argument(
        "--output",
        type=Path,
        help="the artefact to write (NAME.joblib + NAME.json); with --org, by default the organisation's model "
        "in the models folder (HEADWAY_MODELS_DIR/ORG/tier1.joblib), which the pipeline then uses for its messages",
    )
    train.add_argument("--seed", type=int, default=0, help="seed of every random step (default 0)")
    train.add_argument(
        "--org",
        help="also train on the messages people of this organisation labelled (PATCH /v1/messages/{id}/label); "
        f"without --datasets/--csv, on top of {DEFAULT_DATASETS}",
    )
    train.add_argument(
        "--org-weight",
        type=float,
        default=ORG_WEIGHT,
        help=f"weight of each corrected message (default {ORG_WEIGHT:g})",
    )
    train.add_argument(
        "--cv-folds",
        type=int,
        default=5,
        help="cross-validate the recipe first and store per-data-set figures in the manifest (0: skip)",
    )
    train.set_defaults(handler=cmd_model_train, file_groups=[], file_defaults={})

    show = model.add_parser("show", help="print a model artefact's manifest")
    show.add_argument("path", type=Path, nargs="?", default=None, help="the .joblib file (default: the shipped model)")
    show.set_defaults(handler=cmd_model_show)
