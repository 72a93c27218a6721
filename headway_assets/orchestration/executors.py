"""Which executor runs the steps of a run: in-process/multiprocess by default, Celery to scale out.

Set HEADWAY_EXECUTOR=celery to send every step to Celery workers through a broker
(Redis or RabbitMQ). Start workers on as many machines as needed, each with this repository
installed and the same DAGSTER_HOME instance configuration (PostgreSQL):

    dagster-celery worker start -A dagster_celery.app -y config/celery.yaml

Broker and result backend come from HEADWAY_CELERY_BROKER_URL and HEADWAY_CELERY_BACKEND_URL
(defaults: the local Redis, databases 0 and 1).
"""

from __future__ import annotations

import dagster as dg

from headway_assets.core.settings import OrchestrationSettings, export_environment, get_settings

EXECUTOR_ENV = "HEADWAY_EXECUTOR"
BROKER_ENV = "HEADWAY_CELERY_BROKER_URL"
BACKEND_ENV = "HEADWAY_CELERY_BACKEND_URL"


def pipeline_executor(settings: OrchestrationSettings | None = None) -> dg.ExecutorDefinition | None:
    """The executor the settings ask for (None: Dagster's default multiprocess executor)."""
    settings = settings or get_settings().orchestration
    choice = settings.executor.strip().lower()
    if choice in ("", "default", "multiprocess"):
        return None
    if choice == "celery":
        from dagster_celery import celery_executor

        # The executor's config names the variables rather than the URLs, so a broker password
        # never shows in the run config; make sure they hold the settings' values (or defaults).
        export_environment({BROKER_ENV: settings.celery_broker_url, BACKEND_ENV: settings.celery_backend_url})
        configured: dg.ExecutorDefinition = celery_executor.configured(
            {"broker": {"env": BROKER_ENV}, "backend": {"env": BACKEND_ENV}}, name="celery"
        )
        return configured
    raise ValueError(f"{EXECUTOR_ENV}={choice!r} is not supported; use 'multiprocess' (default) or 'celery'")
