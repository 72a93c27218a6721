"""Scale-out: a run's steps executed by a real Celery worker through the local Redis broker."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

from headway_assets.core.warehouse.database import migrate, read_connection, write_transaction
from headway_assets.core.warehouse.schema import Message
from headway_assets.demo import generate_demo, seed_demo
from headway_assets.testing.processes import PROCESS_MARKER, assert_no_leftover_processes, stop_process
from tests.conftest import IN_CI, REPO_ROOT

REDIS = ("127.0.0.1", 6379)
VENV_BIN = Path(sys.executable).parent


def _redis_available() -> bool:
    try:
        with socket.create_connection(REDIS, timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture
def celery_environment(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A persistent Dagster instance, a seeded SQLite warehouse and a running Celery worker."""
    if not _redis_available():
        if IN_CI:
            pytest.fail("Redis at 127.0.0.1:6379 is required under CI=true", pytrace=False)
        pytest.skip("Redis is not running at 127.0.0.1:6379")
    dagster_home = tmp_path / "dagster-home"
    dagster_home.mkdir()
    database_url = f"sqlite:///{tmp_path / 'warehouse.db'}"
    migrate(database_url)
    manifest = generate_demo(tmp_path / "demo", start=date(2026, 10, 1), days=3)
    with write_transaction(database_url) as conn:
        seed_demo(conn, manifest, data_dir=tmp_path)
    marker = f"celery-{os.getpid()}-{uuid.uuid4().hex}"
    env = os.environ | {
        PROCESS_MARKER: marker,  # the worker's and the materialisation's processes, for the check below
        "DAGSTER_HOME": str(dagster_home),
        "HEADWAY_DATABASE_URL": database_url,
        "HEADWAY_DATA_DIR": str(tmp_path),
        "HEADWAY_EXECUTOR": "celery",
        "HEADWAY_CELERY_BROKER_URL": "redis://127.0.0.1:6379/14",
        "HEADWAY_CELERY_BACKEND_URL": "redis://127.0.0.1:6379/15",
        # dagster-celery starts `celery` by name: the virtualenv's bin must be on PATH.
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    (dagster_home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    log = (tmp_path / "worker.log").open("w")
    worker = subprocess.Popen(
        [
            str(VENV_BIN / "dagster-celery"),
            "worker",
            "start",
            "-A",
            "dagster_celery.app",
            "-y",
            str(REPO_ROOT / "config" / "celery.yaml"),
            "-q",
            "dagster",
            "-n",
            f"headway-test-{os.getpid()}",
            "-l",
            "info",
        ],
        cwd=REPO_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while "ready." not in (tmp_path / "worker.log").read_text() and time.monotonic() < deadline:
            assert worker.poll() is None, (tmp_path / "worker.log").read_text()
            time.sleep(0.5)
        yield env | {"WORKER_LOG": str(tmp_path / "worker.log")}
    finally:
        try:
            stop_process(worker)
            assert_no_leftover_processes(PROCESS_MARKER, marker)  # the worker's pool processes too
        finally:
            log.close()


@pytest.mark.slow
def test_steps_run_on_a_celery_worker(celery_environment: dict[str, str]) -> None:
    result = subprocess.run(
        [
            str(VENV_BIN / "dagster"),
            "asset",
            "materialize",
            "-m",
            "headway_assets.definitions",
            "--select",
            "raw_slack_messages,raw_gmail_messages",
            "--partition",
            "2026-10-02",
        ],
        cwd=REPO_ROOT,
        env=celery_environment,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    worker_log = Path(celery_environment["WORKER_LOG"]).read_text()
    assert worker_log.count("succeeded in") >= 2, worker_log[-3000:]
    assert "celery" in (result.stdout + result.stderr).lower()
    with read_connection(celery_environment["HEADWAY_DATABASE_URL"]) as conn:
        by_source = dict(conn.execute(select(Message.source, func.count()).group_by(Message.source)).all())
    assert set(by_source) == {"slack", "gmail"} and min(by_source.values()) > 0
