"""A private PostgreSQL cluster for tests that restart the server under a running pipeline.

The shared server at 127.0.0.1:5432 must never be restarted by a test, so `private_postgres`
runs `initdb` into a temporary folder and starts its own `postgres` on a free port (as the
`postgres` user when the tests run as root: PostgreSQL refuses to run as root). Without the
binaries (HEADWAY_TEST_PG_BINDIR, default /usr/lib/postgresql/15/bin) the test is skipped,
except under CI=true, where it fails.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from headway_assets.core.warehouse.database import dispose_engines
from tests.conftest import IN_CI
from tests.faults.support import free_port

PG_BINDIR = Path(os.environ.get("HEADWAY_TEST_PG_BINDIR", "/usr/lib/postgresql/15/bin"))


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"a private PostgreSQL cluster is required under CI=true but {reason}", pytrace=False)
    pytest.skip(f"private PostgreSQL cluster not available ({reason}); set HEADWAY_TEST_PG_BINDIR")


@dataclass
class PrivateCluster:
    """A throwaway PostgreSQL server this test may stop, crash and restart at will."""

    datadir: Path
    port: int
    log: Path
    as_user: list[str]  # `runuser -u postgres --` when we are root, else nothing

    def url(self, database: str = "postgres") -> str:
        """A URL of `database` on this cluster (trust authentication, user postgres)."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def pg_ctl(self, *args: str, timeout: float = 60) -> None:
        """Run `pg_ctl` on this cluster; fails with its output when it fails."""
        command = [*self.as_user, str(PG_BINDIR / "pg_ctl"), "-D", str(self.datadir), "-l", str(self.log), *args]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
        assert done.returncode == 0, f"{' '.join(args)} failed: {done.stdout}{done.stderr}\n{self.log.read_text()}"

    def restart(self, mode: str = "immediate") -> None:
        """Restart the server (`immediate`: a crash and recovery, every session cut)."""
        self.pg_ctl("restart", "-m", mode, "-w")

    def create_database(self, prefix: str) -> str:
        """A new empty database; its URL."""
        name = f"{prefix}_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(self.url(), autocommit=True, connect_timeout=10) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


@pytest.fixture(scope="module")
def private_postgres() -> Iterator[PrivateCluster]:
    """A private PostgreSQL cluster on a free port (one per test module, each test makes its own
    databases), stopped and deleted afterwards."""
    if not (PG_BINDIR / "initdb").exists() or not (PG_BINDIR / "pg_ctl").exists():
        _unavailable(f"no initdb/pg_ctl in {PG_BINDIR}")
    as_user: list[str] = []
    owner: pwd.struct_passwd | None = None
    if os.geteuid() == 0:  # initdb and postgres refuse to run as root
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            _unavailable("running as root and there is no 'postgres' user to run the server as")
        runuser = shutil.which("runuser")
        if owner is None or runuser is None:
            _unavailable("running as root without runuser")
        as_user = [str(runuser), "-u", "postgres", "--"]
    root = Path(tempfile.mkdtemp(prefix="headway-pg-"))
    if owner is not None:
        os.chown(root, owner.pw_uid, owner.pw_gid)
    datadir, log = root / "data", root / "server.log"
    cluster = PrivateCluster(datadir=datadir, port=free_port(), log=log, as_user=as_user)
    try:
        done = subprocess.run(
            [*as_user, str(PG_BINDIR / "initdb"), "-D", str(datadir), "-U", "postgres", "-A", "trust", "--no-sync"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, f"initdb failed: {done.stdout}{done.stderr}"
        # fsync off: an immediate restart kills the server's processes, not the machine, so
        # nothing the server wrote is lost, and the test does not wait on the disk.
        options = f"-p {cluster.port} -c listen_addresses=127.0.0.1 -k {root} -c fsync=off"
        cluster.pg_ctl("start", "-w", "-o", options)
        yield cluster
    finally:
        dispose_engines()  # pooled connections to this cluster must not outlive it
        if (datadir / "postmaster.pid").exists():
            subprocess.run(
                [*as_user, str(PG_BINDIR / "pg_ctl"), "-D", str(datadir), "stop", "-m", "immediate"],
                capture_output=True,
                timeout=60,
                check=False,
            )
        shutil.rmtree(root, ignore_errors=True)
