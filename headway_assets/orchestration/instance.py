"""The embedded Dagster instance used by `./dev demo` and `./dev ui` (SQLite under data/)."""

from __future__ import annotations

from pathlib import Path

from headway_assets.core.settings import export_environment, get_settings

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
    settings = get_settings()
    home = settings.orchestration.dagster_home or settings.pipeline.data_dir / "dagster-home"
    export_environment({"DAGSTER_HOME": str(home)})  # Dagster finds its instance through this variable
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(EMBEDDED_INSTANCE_YAML, encoding="utf-8")
    return home
