"""Deterministic demo corpus: two fictional organisations' Slack, Gmail, Gong and Fathom data.

This module is the demo's one public entry: code outside `headway_assets/demo/` imports from
here, never from its submodules, and no product code path imports the demo at all.

`build_demo_corpus()` makes the in-memory model (vendor API shapes), `write_demo_exports()`
writes it as export files plus `manifest.json`, `generate_demo()` does both, and `seed_demo()`
registers the written organisations in the warehouse. Run
`python -m headway_assets.demo --out data/demo` to write the corpus from the command line.

Inside the package imports point one way: `seed` -> `writers` -> `build` -> generators
(`_slack`, `_gmail`, `_calls`) -> `_plan` -> (`content`, `corpus`).
"""

from headway_assets.demo.build import build_demo_corpus
from headway_assets.demo.corpus import (
    DEFAULT_DAYS,
    DEFAULT_SEED,
    DEFAULT_START,
    DemoAsk,
    DemoCompany,
    DemoCorpus,
    DemoOrg,
    DemoOrgCorpus,
    DemoPerson,
    ExpectedItem,
    FathomData,
    GmailMailbox,
    GmailMessage,
    GongData,
    SlackWorkspace,
)
from headway_assets.demo.seed import seed_demo
from headway_assets.demo.writers import (
    DemoManifest,
    DemoManifestError,
    ManifestConnection,
    ManifestOrg,
    generate_demo,
    load_manifest,
    mbox_bytes,
    slack_export_bytes,
    write_demo_exports,
)

__all__ = [
    "DEFAULT_DAYS",
    "DEFAULT_SEED",
    "DEFAULT_START",
    "DemoAsk",
    "DemoCompany",
    "DemoCorpus",
    "DemoManifest",
    "DemoManifestError",
    "DemoOrg",
    "DemoOrgCorpus",
    "DemoPerson",
    "ExpectedItem",
    "FathomData",
    "GmailMailbox",
    "GmailMessage",
    "GongData",
    "ManifestConnection",
    "ManifestOrg",
    "SlackWorkspace",
    "build_demo_corpus",
    "generate_demo",
    "load_manifest",
    "mbox_bytes",
    "seed_demo",
    "slack_export_bytes",
    "write_demo_exports",
]
