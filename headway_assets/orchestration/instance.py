"""The embedded Dagster instance used by `./dev demo` and `./dev ui` (SQLite under data/)."""

from __future__ import annotations

import os
from pathlib import Path

from headway_assets.core.settings import get_settings

EMBEDDED_INSTANCE_YAML = """\
# Embedded Dagster instance of this checkout (written by `headway`; safe to edit).
# Storage defaults to SQLite files in this folder. For production on PostgreSQL see the
# repository's dagster.yaml.
telemetry:
  enabled: false
concurrency:
  pools:
    # The AI assets share the pool "llm": at most this many LLM-bound steps at once.
    default_limit: 2
"""


def ensure_embedded_instance() -> Path:
    """Point DAGSTER_HOME at `<data_dir>/dagster-home` unless set, and give it a dagster.yaml."""
    home = Path(os.environ.get("DAGSTER_HOME") or get_settings().data_dir / "dagster-home")
    os.environ["DAGSTER_HOME"] = str(home)
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(EMBEDDED_INSTANCE_YAML, encoding="utf-8")
    return home
