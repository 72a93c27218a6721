"""Deterministic demo corpus: two fictional organisations' Slack, Gmail, Gong and Fathom data.

`build_demo_corpus()` makes the in-memory model (vendor API shapes), `write_demo_exports()`
writes it as export files plus `manifest.json`, and `generate_demo()` does both. Run
`python -m headway_assets.demo --out data/demo` to write the corpus from the command line.
"""

from headway_assets.demo.corpus import (
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
    build_demo_corpus,
)
from headway_assets.demo.writers import (
    DemoManifest,
    DemoManifestError,
    ManifestConnection,
    ManifestOrg,
    generate_demo,
    load_manifest,
    write_demo_exports,
)

__all__ = [
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
    "write_demo_exports",
]
