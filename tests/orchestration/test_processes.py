"""`stop_process` stops a server's whole process tree, and the leftover guard names what escaped.

The tree mimics `dagster-daemon`: a leader that exits promptly on SIGTERM, a child in the same
group that ignores SIGTERM (a code server busy shutting down), and a grandchild that started a
session of its own. The group kill alone leaves the last two behind, reparented to init.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import uuid

import pytest

from headway_assets.testing.processes import (
    PROCESS_MARKER,
    assert_no_leftover_processes,
    leftover_processes,
    process_tree,
    stop_process,
)

# The leader starts a SIGTERM-ignoring child and a grandchild in a new session, prints their pids.
LEADER = """
import os, signal, subprocess, sys, time
stubborn = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)"
child = subprocess.Popen([sys.executable, "-c", stubborn])
escaped = subprocess.Popen([sys.executable, "-c", stubborn], start_new_session=True)
print(child.pid, escaped.pid, flush=True)
time.sleep(600)
"""


def _start(marker: str) -> tuple[subprocess.Popen[bytes], list[int]]:
    leader = subprocess.Popen(
        [sys.executable, "-c", LEADER],
        env=os.environ | {PROCESS_MARKER: marker},
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    assert leader.stdout is not None
    pids = [int(pid) for pid in leader.stdout.readline().split()]
    time.sleep(0.5)  # both children have set their SIGTERM handler
    return leader, pids


def test_stop_process_stops_children_that_ignore_sigterm_or_left_the_session() -> None:
    marker = f"test-{uuid.uuid4().hex}"
    leader, pids = _start(marker)
    try:
        assert set(pids) <= set(process_tree(leader.pid))
        assert set(leftover_processes(PROCESS_MARKER, marker)) == {leader.pid, *pids}
        stop_process(leader, timeout=3)
        assert leader.returncode is not None
        assert leftover_processes(PROCESS_MARKER, marker) == {}
        assert_no_leftover_processes(PROCESS_MARKER, marker, grace=0)
    finally:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, 9)


def test_the_guard_fails_loudly_and_kills_what_a_group_kill_left_behind() -> None:
    marker = f"test-{uuid.uuid4().hex}"
    leader, pids = _start(marker)
    os.killpg(leader.pid, 15)  # what `stop_process` used to do: the leader goes, the rest stays
    leader.wait(timeout=10)
    with pytest.raises(AssertionError, match="outlived their fixture") as failure:
        assert_no_leftover_processes(PROCESS_MARKER, marker, grace=1)
    assert all(str(pid) in str(failure.value) for pid in pids)
    deadline = time.monotonic() + 10
    while leftover_processes(PROCESS_MARKER, marker) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert leftover_processes(PROCESS_MARKER, marker) == {}


def test_another_runs_processes_are_not_counted() -> None:
    mine, theirs = f"test-{uuid.uuid4().hex}", f"test-{uuid.uuid4().hex}"
    leader, _pids = _start(theirs)
    try:
        assert leftover_processes(PROCESS_MARKER, mine) == {}
        assert_no_leftover_processes(PROCESS_MARKER, mine, grace=0)
    finally:
        stop_process(leader, timeout=3)
    assert leftover_processes(PROCESS_MARKER, theirs) == {}
