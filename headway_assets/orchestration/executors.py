"""Which executor runs the steps of a run: in-process/multiprocess by default, Celery to scale out.

Set HEADWAY_EXECUTOR=celery to send every step to Celery workers through a broker
(Redis or RabbitMQ). Start workers on as many machines as needed, each with this repository
installed and the same DAGSTER_HOME instance configuration (PostgreSQL):

    dagster-celery worker start -A dagster_celery.app -y config/celery.yaml

Broker and result backend come from HEADWAY_CELERY_BROKER_URL and HEADWAY_CELERY_BACKEND_URL
(defaults: the local Redis, databases 0 and 1).
"""

from __future__ import annotations

import os

import dagster as dg

EXECUTOR_ENV = "HEADWAY_EXECUTOR"
BROKER_ENV = "HEADWAY_CELERY_BROKER_URL"
BACKEND_ENV = "HEADWAY_CELERY_BACKEND_URL"
DEFAULT_BROKER = "redis://127.0.0.1:6379/0"
DEFAULT_BACKEND = "redis://127.0.0.1:6379/1"


def pipeline_executor() -> dg.ExecutorDefinition | None:
    """The executor the environment asks for (None: Dagster's default multiprocess executor)."""
    choice = os.environ.get(EXECUTOR_ENV, "").strip().lower()
    if choice in ("", "default", "multiprocess"):
        return None
    if choice == "celery":
        from dagster_celery import celery_executor

        os.environ.setdefault(BROKER_ENV, DEFAULT_BROKER)
        os.environ.setdefault(BACKEND_ENV, DEFAULT_BACKEND)
        configured: dg.ExecutorDefinition = celery_executor.configured(
            {"broker": {"env": BROKER_ENV}, "backend": {"env": BACKEND_ENV}}, name="celery"
        )
        return configured
    raise ValueError(f"{EXECUTOR_ENV}={choice!r} is not supported; use 'multiprocess' (default) or 'celery'")
