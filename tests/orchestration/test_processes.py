"""`stop_process` stops a server's whole process tree, and the leftover guard names what escaped.

The tree mimics `dagster-daemon`: a leader that exits promptly on SIGTERM, a child in the same
group that ignores SIGTERM (a code server busy shutting down), and a grandchild that started a
session of its own. The group kill alone leaves the last two behind, reparented to init.
"""

from __future__ import annotations

import contextlib
import os
import select
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

# The leader starts a SIGTERM-ignoring child and a grandchild in a new session, prints their pids;
# each child prints "ready" once it ignores SIGTERM. The leader itself takes SIGTERM's default
# action, unblocked: a disposition or mask it inherited from the test worker (both survive exec)
# would otherwise keep it alive, and the tree would not be the one these tests mean.
LEADER = """
import os, signal, subprocess, sys, time
signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
signal.signal(signal.SIGTERM, signal.SIG_DFL)
stubborn = (  # one write(2) per line, so the two children's lines never interleave
    "import os, signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN);"
    " os.write(1, b'ready\\\\n'); time.sleep(600)"
)
child = subprocess.Popen([sys.executable, "-c", stubborn])
escaped = subprocess.Popen([sys.executable, "-c", stubborn], start_new_session=True)
os.write(1, f"{child.pid} {escaped.pid}\\n".encode())
time.sleep(600)
"""


def _read_lines(fd: int, count: int, timeout: float) -> list[bytes]:
    """The first `count` lines written to `fd`, waiting at most `timeout` seconds in all (a child that
    died before its line must fail the test, not hang the suite)."""
    data, deadline = b"", time.monotonic() + timeout
    while data.count(b"\n") < count:
        remaining = deadline - time.monotonic()
        assert remaining > 0 and select.select([fd], [], [], remaining)[0], f"only {data!r} within {timeout} s"
        chunk = os.read(fd, 4096)
        assert chunk, f"the process tree closed its output after {data!r}"
        data += chunk
    return data.split(b"\n")[:count]


def _start(marker: str) -> tuple[subprocess.Popen[bytes], list[int]]:
    leader = subprocess.Popen(
        [sys.executable, "-c", LEADER],
        env=os.environ | {PROCESS_MARKER: marker},
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    assert leader.stdout is not None
    # Three lines in any order: the pids, and "ready" from each child once it ignores SIGTERM (a
    # fixed sleep was not enough on a loaded machine).
    lines = [line.split() for line in _read_lines(leader.stdout.fileno(), 3, timeout=30)]
    assert sorted(lines).count([b"ready"]) == 2, lines
    pids = next([int(pid) for pid in line] for line in lines if line != [b"ready"])
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
