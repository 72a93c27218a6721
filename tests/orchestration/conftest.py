"""A production-like Dagster deployment for orchestration tests: PostgreSQL instance, daemon, webserver.

The fixture starts `dagster-daemon run` and `dagster-webserver` as real processes against a
temporary DAGSTER_HOME holding this repository's `dagster.yaml` (Dagster's storage on a
throwaway PostgreSQL database), with the warehouse on another throwaway PostgreSQL database
seeded with three demo days.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import httpx
import psycopg
import pytest
from cryptography.fernet import Fernet

from headway_assets.core.warehouse.database import dispose_engines, migrate, write_transaction
from headway_assets.demo import generate_demo, seed_demo
from headway_assets.testing.processes import (
    PROCESS_MARKER,
    assert_no_leftover_processes,
    free_port,
    stop_process,
)
from tests.conftest import POSTGRES_SERVER_URL, REPO_ROOT, _server_unavailable

VENV_BIN = Path(sys.executable).parent
DEMO_START = date(2026, 10, 1)
DEMO_DAYS = 3


def _create_database(prefix: str) -> tuple[str, str]:
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(POSTGRES_SERVER_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    return name, POSTGRES_SERVER_URL.rsplit("/", 1)[0] + f"/{name}"


def _drop_database(name: str) -> None:
    with psycopg.connect(POSTGRES_SERVER_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class Deployment:
    """What a test needs to talk to the running deployment."""

    env: dict[str, str]
    dagster_home: Path
    webserver_url: str
    warehouse_url: str
    workdir: Path
    logs: dict[str, Path]

    def log_tail(self, chars: int = 4000) -> str:
        """The end of every process log, for assertion messages."""
        return "\n".join(f"--- {name}\n{path.read_text()[-chars:]}" for name, path in self.logs.items())


@pytest.fixture(scope="session")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """Dagster daemon and webserver on a PostgreSQL instance, with a seeded PostgreSQL warehouse."""
    try:
        psycopg.connect(POSTGRES_SERVER_URL, connect_timeout=5).close()
    except psycopg.OperationalError as error:
        _server_unavailable(f"connecting to {POSTGRES_SERVER_URL} failed: {error}")
    workdir = tmp_path_factory.mktemp("deployment")
    dagster_db, dagster_url = _create_database("headway_test_dagster")
    warehouse_db, warehouse_url = _create_database("headway_test_warehouse")
    dagster_home = workdir / "dagster-home"
    dagster_home.mkdir()
    shutil.copy(REPO_ROOT / "dagster.yaml", dagster_home / "dagster.yaml")
    migrate(warehouse_url)
    manifest = generate_demo(workdir / "demo", start=DEMO_START, days=DEMO_DAYS)
    with write_transaction(warehouse_url) as conn:
        seed_demo(conn, manifest, data_dir=workdir)
    dispose_engines()
    port = free_port()
    marker = f"deployment-{os.getpid()}-{uuid.uuid4().hex}"
    env = os.environ | {
        PROCESS_MARKER: marker,
        "DAGSTER_HOME": str(dagster_home),
        "DAGSTER_PG_URL": dagster_url,
        "HEADWAY_DATABASE_URL": warehouse_url,
        "HEADWAY_DATA_DIR": str(workdir),
        "HEADWAY_PERIODIC_SYNC_CRON": "* * * * *",
        # Shared with the test process, which stores connection credentials the runs decrypt.
        "HEADWAY_CREDENTIALS_KEY": Fernet.generate_key().decode(),  # a tick every minute, so the test sees one
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    logs = {name: workdir / f"{name}.log" for name in ("daemon", "webserver")}
    processes: list[subprocess.Popen[bytes]] = []
    handles = [logs[name].open("w") for name in logs]
    try:
        commands = {
            "daemon": [str(VENV_BIN / "dagster-daemon"), "run", "-w", "workspace.yaml"],
            "webserver": [
                str(VENV_BIN / "dagster-webserver"),
                "-w",
                "workspace.yaml",
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
            ],
        }
        for handle, (_, command) in zip(handles, commands.items(), strict=True):
            processes.append(
                subprocess.Popen(
                    command, cwd=REPO_ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
                )
            )
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert all(p.poll() is None for p in processes), "\n".join(
                path.read_text()[-3000:] for path in logs.values()
            )
            try:
                if httpx.get(f"{url}/server_info", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(1)
        else:
            pytest.fail("dagster-webserver did not come up in 120 s")
        yield Deployment(
            env=env,
            dagster_home=dagster_home,
            webserver_url=url,
            warehouse_url=warehouse_url,
            workdir=workdir,
            logs=logs,
        )
    finally:
        try:
            for process in processes:
                stop_process(process)
            # Code servers and run workers the daemon and webserver started must be gone too.
            assert_no_leftover_processes(PROCESS_MARKER, marker)
        finally:
            for handle in handles:
                handle.close()
            dispose_engines()
            _drop_database(dagster_db)
            _drop_database(warehouse_db)
