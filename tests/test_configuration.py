"""One configuration: the settings tree is the only reader of the environment, and reads it late."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from pydantic import ValidationError

from headway_assets.core.settings import (
    HeadwaySettings,
    Settings,
    SlackSettings,
    TracingSettings,
    export_environment,
    get_settings,
    section_from_variables,
)
from headway_assets.orchestration.schedules import build_schedules, periodic_sync_schedule

REPO_ROOT = Path(__file__).resolve().parents[1]
PRODUCT_PACKAGES = ("headway_assets", "headway_api")
SETTINGS_MODULE = "headway_assets/core/settings.py"
# Test support (fake vendor servers run as subprocesses with their own environment).
TEST_SUPPORT = "headway_assets/testing/"
# Still reading the environment on this branch: llm/tracing.py is being rewritten against
# `get_settings().tracing` in a parallel change; delete the entry when that lands.
ENVIRONMENT_NAMES = frozenset({"environ", "environb", "getenv", "getenvb", "putenv", "unsetenv"})


def _environment_uses(source: str) -> list[int]:
    """Lines of `source` that touch the process environment: `os.environ`, `os.getenv`, `from os import environ`."""
    tree = ast.parse(source)
    os_aliases = {"os"}
    lines: list[int] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            os_aliases |= {alias.asname for alias in node.names if alias.name == "os" and alias.asname}
        elif isinstance(node, ast.ImportFrom) and node.module == "os":
            lines += [node.lineno for alias in node.names if alias.name in ENVIRONMENT_NAMES]
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in ENVIRONMENT_NAMES:
            if isinstance(node.value, ast.Name) and node.value.id in os_aliases:
                lines.append(node.lineno)
        elif isinstance(node, ast.Name) and node.id in ENVIRONMENT_NAMES:
            lines.append(node.lineno)
    return sorted(set(lines))


def _product_modules() -> list[str]:
    paths = (path for package in PRODUCT_PACKAGES for path in (REPO_ROOT / package).rglob("*.py"))
    relative = (path.relative_to(REPO_ROOT).as_posix() for path in paths)
    return sorted(path for path in relative if not path.startswith(TEST_SUPPORT))


def test_the_scan_sees_every_way_of_reading_the_environment() -> None:
    source = (
        "import os\nimport os as system\nfrom os import getenv\n"
        "a = os.environ['A']\nb = os.getenv('B')\nc = system.environ.get('C')\nd = getenv('D')\n"
        "environ = {}\nos.putenv('E', '1')\ne = os.path.join('x')\n"
    )
    assert _environment_uses(source) == [3, 4, 5, 6, 7, 8, 9]


def test_no_product_module_but_the_settings_reads_the_environment() -> None:
    modules = _product_modules()
    assert SETTINGS_MODULE in modules and len(modules) > 50
    offenders = {
        path: lines
        for path in modules
        if path != SETTINGS_MODULE
        if (lines := _environment_uses((REPO_ROOT / path).read_text(encoding="utf-8")))
    }
    assert not offenders, f"read the environment through headway_assets.core.settings instead: {offenders}"
    assert _environment_uses((REPO_ROOT / SETTINGS_MODULE).read_text(encoding="utf-8"))


def test_the_periodic_sync_cron_is_read_when_the_schedules_are_built(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEADWAY_PERIODIC_SYNC_CRON", "*/5 * * * *")
    schedules = {schedule.name: schedule for schedule in build_schedules()}
    assert schedules["periodic_sync"].cron_schedule == "*/5 * * * *"
    assert "*/5 * * * *" in (schedules["periodic_sync"].description or "")
    assert schedules["daily_close"].cron_schedule == "30 0 * * *"
    monkeypatch.delenv("HEADWAY_PERIODIC_SYNC_CRON")
    assert periodic_sync_schedule().cron_schedule == "*/15 * * * *", "the system Headway replaces polled every 15 min"
    assert periodic_sync_schedule("0 * * * *").cron_schedule == "0 * * * *"


def test_every_section_reads_its_variables_by_their_documented_names(monkeypatch: pytest.MonkeyPatch) -> None:
    variables = {
        "HEADWAY_DATA_DIR": "/srv/headway",
        "HEADWAY_LLM_PROVIDER": "anthropic",
        "HEADWAY_CREDENTIALS_KEY": "fernet-key",
        "HEADWAY_LLM_PRICES": '{"m": [1, 2, 3, 4]}',
        "JWT_ISSUER": "issuer",
        "CORS_ORIGINS": "https://a.example, https://b.example",
        "HEADWAY_EXECUTOR": "celery",
        "HEADWAY_CELERY_BROKER_URL": "amqp://broker",
        "DAGSTER_HOME": "/srv/dagster",
        "HEADWAY_PERIODIC_SYNC_CRON": "0 * * * *",
        "HEADWAY_ALERT_SLACK_WEBHOOK_URL": "https://hooks.example/T/B/X",
        "SLACK_CLIENT_ID": "1111.2222",
        "SLACK_CLIENT_SECRET": "slack-secret",
        "HEADWAY_SLACK_STATE_TTL_SECONDS": "60",
        "GOOGLE_CLIENT_ID": "google-id",
        "GOOGLE_CLIENT_SECRET": "google-secret",
        "LANGFUSE_PUBLIC_KEY": "pk-lf",
        "LANGFUSE_SECRET_KEY": "sk-lf",
        "LANGFUSE_HOST": "https://langfuse.example",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector/v1/traces",
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector",
    }
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    settings = get_settings()
    assert settings.pipeline.data_dir == Path("/srv/headway") and settings.pipeline.llm_provider == "anthropic"
    assert settings.pipeline.credentials_key and settings.pipeline.credentials_key.get_secret_value() == "fernet-key"
    assert settings.pipeline.llm_prices == '{"m": [1, 2, 3, 4]}'
    assert settings.api.jwt_issuer == "issuer"
    assert settings.api.cors_origins == ["https://a.example", "https://b.example"]
    orchestration = settings.orchestration
    assert (orchestration.executor, orchestration.celery_broker_url) == ("celery", "amqp://broker")
    assert orchestration.celery_backend_url == "redis://127.0.0.1:6379/1"
    assert orchestration.dagster_home == Path("/srv/dagster") and orchestration.periodic_sync_cron == "0 * * * *"
    assert orchestration.alert_slack_webhook_url is not None
    assert settings.slack.client_id == "1111.2222" and settings.slack.state_ttl_seconds == "60"
    assert settings.gmail.client_secret and settings.gmail.client_secret.get_secret_value() == "google-secret"
    tracing = settings.tracing
    assert tracing.langfuse_public_key and tracing.langfuse_public_key.get_secret_value() == "pk-lf"
    assert tracing.langfuse_secret_key and tracing.langfuse_secret_key.get_secret_value() == "sk-lf"
    assert tracing.langfuse_base_url == "https://langfuse.example", "LANGFUSE_HOST is the older name"
    assert tracing.otlp_traces_endpoint == "http://collector/v1/traces"
    assert tracing.otlp_endpoint == "http://collector"
    monkeypatch.setenv("LANGFUSE_BASE_URL", "https://cloud.langfuse.example")
    assert get_settings().tracing.langfuse_base_url == "https://cloud.langfuse.example", "the current name wins"
    assert "slack-secret" not in repr(get_settings().slack), "secrets never show in a repr"


def test_the_env_file_fills_what_the_environment_leaves_unset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("HEADWAY_TIER1_MODEL=from-dotenv\nHEADWAY_TIER2_MODEL=from-dotenv\nLANGFUSE_HOST=https://lf\n")
    monkeypatch.setenv("HEADWAY_TIER2_MODEL", "from-environment")
    monkeypatch.delenv("HEADWAY_TIER1_MODEL", raising=False)
    monkeypatch.delenv("LANGFUSE_BASE_URL", raising=False)
    monkeypatch.delenv("LANGFUSE_HOST", raising=False)
    pipeline = HeadwaySettings(_env_file=env_file)
    assert (pipeline.tier1_model, pipeline.tier2_model) == ("from-dotenv", "from-environment")
    assert TracingSettings(_env_file=env_file).langfuse_base_url == "https://lf"


def test_the_tree_is_kept_until_the_environment_changes(monkeypatch: pytest.MonkeyPatch) -> None:
    first = get_settings()
    assert get_settings() is first and get_settings().pipeline is first.pipeline
    monkeypatch.setenv("HEADWAY_TIER1_MODEL", "changed")
    assert get_settings() is not first and get_settings().pipeline.tier1_model == "changed"
    kept = get_settings()
    get_settings.cache_clear()
    assert get_settings() is not kept, "cache_clear drops the tree (after editing .env, say)"


def test_a_section_is_validated_when_it_is_first_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JWT_ALGORITHM", "RS256")  # without JWT_PUBLIC_KEY: the API cannot start
    monkeypatch.delenv("JWT_PUBLIC_KEY", raising=False)
    settings = Settings()
    assert settings.pipeline.max_removal_share == 0.5, "the pipeline never reads the API's section"
    with pytest.raises(ValidationError, match="JWT_PUBLIC_KEY"):
        _ = settings.api


def test_the_api_accessor_is_the_trees_api_section(monkeypatch: pytest.MonkeyPatch) -> None:
    from headway_api.core.config import ApiSettings, get_api_settings

    monkeypatch.setenv("JWT_AUDIENCE", "audience-from-env")
    assert isinstance(get_api_settings(), ApiSettings)
    assert get_api_settings() is get_settings().api and get_api_settings().jwt_audience == "audience-from-env"


def test_a_section_from_given_variables_ignores_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_CLIENT_SECRET", "from-environment")
    monkeypatch.setenv("SLACK_REDIRECT_URI", "https://from-environment")
    app = section_from_variables(SlackSettings, {"SLACK_CLIENT_ID": "1111.2222", "SLACK_REDIRECT_URI": ""})
    assert (app.client_id, app.client_secret, app.redirect_uri) == ("1111.2222", None, None)
    tracing = section_from_variables(TracingSettings, {"LANGFUSE_HOST": "https://lf"})
    assert tracing.langfuse_base_url == "https://lf"
    pipeline = section_from_variables(HeadwaySettings, {"HEADWAY_LLM_MAX_IN_FLIGHT": "3"})
    assert (pipeline.llm_max_in_flight, pipeline.tier1_batch_items) == (3, 100)


def test_exported_values_reach_the_environment_and_the_tree(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEADWAY_CELERY_BACKEND_URL", "redis://before/1")  # monkeypatch restores it afterwards
    export_environment({"HEADWAY_CELERY_BACKEND_URL": "redis://after/1"})
    assert get_settings().orchestration.celery_backend_url == "redis://after/1"


def test_prices_and_the_credentials_key_come_from_their_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cryptography.fernet import Fernet

    from headway_assets.core.credentials import credentials_key
    from headway_assets.llm.pricing import DEFAULT_PRICES, ModelPrice, price_list

    monkeypatch.setenv("HEADWAY_LLM_PRICES", '{"house-model": [1, 2, 0.5, 1.5]}')
    prices = price_list()
    assert prices["house-model"] == ModelPrice(1.0, 2.0, 0.5, 1.5) and prices.keys() > DEFAULT_PRICES.keys()
    monkeypatch.setenv("HEADWAY_LLM_PRICES", "not json")
    with pytest.raises(ValueError, match="HEADWAY_LLM_PRICES must be JSON"):
        price_list()

    key = Fernet.generate_key()
    monkeypatch.setenv("HEADWAY_CREDENTIALS_KEY", key.decode())
    assert credentials_key() == key
    monkeypatch.delenv("HEADWAY_CREDENTIALS_KEY")
    monkeypatch.setenv("HEADWAY_DATA_DIR", str(tmp_path))
    generated = credentials_key()
    assert (tmp_path / "credentials.key").read_bytes() == generated and credentials_key() == generated
