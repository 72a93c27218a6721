"""Helpers for tests and benchmarks that run real servers as child processes.

A server started here (`start_new_session=True`) starts children of its own: `dagster-daemon` and
`dagster-webserver` start `dagster api grpc` code servers, which start run workers. Killing the
process group alone is not enough: a member that outlives its group leader is reparented to init
and never signalled again, and a grandchild may start a session of its own. So `stop_process`
stops the whole tree, found in /proc before anything is signalled, and `leftover_processes` finds
what still carries a marker in its environment, for a fixture to assert that nothing escaped.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
# Set in the environment of every process a fixture starts, which their children inherit: names
# that fixture's processes (and no one else's) when it checks that none outlived it.
PROCESS_MARKER = "HEADWAY_TEST_PROCESS_MARKER"


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class ProcessInfo:
    """One line of /proc/PID/stat that matters here."""

    pid: int
    ppid: int
    session: int
    start_ticks: int  # with the pid, names the process: a pid can be reused once it is reaped
    zombie: bool


def _read_stat(pid: int) -> ProcessInfo | None:
    try:
        raw = (PROC / str(pid) / "stat").read_text()
    except OSError:  # gone, or not ours to read
        return None
    # The command name (field 2) is in parentheses and may hold spaces or parentheses itself.
    fields = raw[raw.rindex(")") + 2 :].split()
    return ProcessInfo(
        pid=pid,
        ppid=int(fields[1]),
        session=int(fields[3]),
        start_ticks=int(fields[19]),
        zombie=fields[0] in ("Z", "X"),
    )


def process_table() -> dict[int, ProcessInfo]:
    """Every process on the machine now."""
    table = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit() and (info := _read_stat(int(entry.name))) is not None:
            table[info.pid] = info
    return table


def process_tree(root: int) -> dict[int, ProcessInfo]:
    """`root`, its descendants, and the members of the session it leads (its orphans among them)."""
    table = process_table()
    children: dict[int, list[int]] = {}
    for info in table.values():
        children.setdefault(info.ppid, []).append(info.pid)
    found: dict[int, ProcessInfo] = {}
    pending = [root, *(info.pid for info in table.values() if info.session == root)]
    while pending:
        pid = pending.pop()
        if pid in found or pid not in table:
            continue
        found[pid] = table[pid]
        pending.extend(children.get(pid, []))
    return found


def _alive(info: ProcessInfo) -> bool:
    now = _read_stat(info.pid)
    return now is not None and now.start_ticks == info.start_ticks and not now.zombie


def _signal(info: ProcessInfo, sig: signal.Signals) -> None:
    if _alive(info):  # the same process, not a new one that got its pid
        with contextlib.suppress(ProcessLookupError):
            os.kill(info.pid, sig)


def stop_process(process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    """SIGTERM `process` (started with `start_new_session=True`) and everything it started, then
    SIGKILL what is left after `timeout` seconds.

    The tree is collected before any signal: once a parent dies its children are reparented to
    init and can no longer be told from anyone else's processes by ancestry.
    """
    tree = process_tree(process.pid)
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
    for info in tree.values():
        _signal(info, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(_alive(info) for info in tree.values()):
        process.poll()  # reaps our own child, which would otherwise stay a zombie
        time.sleep(0.2)
        # A process started while the tree shuts down (a daemon restarting a code server it saw
        # die) is in the session or below a member: it is stopped too.
        for pid, info in process_tree(process.pid).items():
            if pid not in tree:
                tree[pid] = info
                _signal(info, signal.SIGTERM)
    for info in tree.values():
        _signal(info, signal.SIGKILL)
    process.wait(timeout=10)
    deadline = time.monotonic() + 10  # SIGKILL is delivered asynchronously
    while time.monotonic() < deadline and any(_alive(info) for info in tree.values()):
        time.sleep(0.05)


def environment_of(pid: int) -> dict[str, str]:
    """The environment `pid` was started with (empty when it is gone or not readable)."""
    try:
        raw = (PROC / str(pid) / "environ").read_bytes()
    except OSError:
        return {}
    pairs = (item.split(b"=", 1) for item in raw.split(b"\0") if b"=" in item)
    return {key.decode(errors="replace"): value.decode(errors="replace") for key, value in pairs}


def command_line(pid: int) -> str:
    """`pid`'s command line, for messages ("" when it is gone)."""
    try:
        return (PROC / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def leftover_processes(marker: str, value: str) -> dict[int, str]:
    """Live processes whose environment has `marker=value` (pid -> command line), other than this one.

    Every process a fixture starts inherits the environment it is given, and so do their
    children, whatever session they end up in: a marker unique to the fixture names its processes
    and no one else's on a machine shared with other test runs.
    """
    return {
        info.pid: command_line(info.pid)
        for info in process_table().values()
        if info.pid != os.getpid() and not info.zombie and environment_of(info.pid).get(marker) == value
    }


def assert_no_leftover_processes(marker: str, value: str, *, grace: float = 10) -> None:
    """Fail if a process marked `marker=value` outlives `grace` seconds; kill them first, so a
    failing test leaks nothing either."""
    deadline = time.monotonic() + grace
    left = leftover_processes(marker, value)
    while left and time.monotonic() < deadline:
        time.sleep(0.5)
        left = leftover_processes(marker, value)
    if not left:
        return
    table = process_table()
    for pid in left:
        if pid in table:
            _signal(table[pid], signal.SIGKILL)
    listing = "\n".join(f"  {pid}: {command[:200]}" for pid, command in sorted(left.items()))
    raise AssertionError(f"processes started under {marker}={value} outlived their fixture:\n{listing}")
