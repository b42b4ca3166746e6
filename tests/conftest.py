"""Shared test helpers: free ports and reachability of real servers."""

from __future__ import annotations

import asyncio
import os
import random
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from wattline.broker.mosquitto import find_mosquitto

# No per-example deadline: speed is measured in benchmarks/, never in tests, and
# the suite runs on two workers sharing two cores with the servers the tests use,
# where Hypothesis's 200 ms would fail a correct test that was only made to wait.
# pytest-timeout still ends a test that hangs.
settings.register_profile("wattline", deadline=None)
settings.load_profile("wattline")

# Linux hands out source ports of outgoing connections from this range; a port
# picked from it can be taken by one (a test's database client, say) in the
# seconds before the server that was to use it binds: `wattline up` once failed
# to start so ("address already in use"). Ports below it are only ever bound on purpose.
_EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
_LOWEST_PICKED = 10_000


def free_port() -> int:
    """A port free now, below the kernel's ephemeral range where there is room."""
    try:
        ephemeral_low = int(_EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        ephemeral_low = 0
    for _ in range(50 if ephemeral_low > _LOWEST_PICKED else 0):
        port = random.randrange(_LOWEST_PICKED, ephemeral_low)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        picked: int = sock.getsockname()[1]
        return picked


def port_open(host: str, port: int, timeout_s: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def unavailable(reason: str) -> None:
    """Skip locally, fail in CI: CI must never pass by skipping a real-server test."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"required server unavailable in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def mosquitto_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The Mosquitto already running on this machine, else one started for the session."""
    if port_open("127.0.0.1", 1883):
        yield "mqtt://127.0.0.1:1883"
        return
    binary = find_mosquitto()
    if binary is None:
        unavailable("no Mosquitto on 127.0.0.1:1883 and no mosquitto binary to start one")
    assert binary is not None
    port = free_port()
    config = tmp_path_factory.mktemp("mosquitto") / "mosquitto.conf"
    config.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\n")
    proc = subprocess.Popen([binary, "-c", str(config)], stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while not port_open("127.0.0.1", port) and time.monotonic() < deadline:
        time.sleep(0.1)
    yield f"mqtt://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(10)


# -- markers by folder ---------------------------------------------------------

_FOLDER_MARKERS = {"unit": "unit", "integration": "integration", "e2e": "e2e"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test by where it lives: tests/unit -> unit, tests/integration ->
    integration (and chaos under integration/chaos), tests/e2e -> e2e."""
    for item in items:
        parts = item.path.relative_to(_TESTS_DIR).parts
        marker = _FOLDER_MARKERS.get(parts[0]) if len(parts) > 1 else None
        if marker is not None:
            item.add_marker(marker)
        if parts[:2] == ("integration", "chaos"):
            item.add_marker("chaos")


_TESTS_DIR = Path(__file__).parent


# -- nothing left running ------------------------------------------------------

# Threads a test may leave behind: they belong to libraries or to session
# fixtures and live on (pytest-timeout's watchdog, idle pool workers of asyncio,
# concurrent.futures and AnyIO, which exit on their own; the session's S3 server).
_LONG_LIVED_THREADS = (
    "pytest_timeout",
    "ThreadPoolExecutor",
    "asyncio_",
    "AnyIO worker thread",
    "session-",
)
_GRACE_S = 5.0


@pytest.fixture(autouse=True)
def _nothing_left_running(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fail a test that leaves a thread, a child process or an asyncio task running.

    Collector, sources, retention, the S3 uploader and the simulator all run
    threads or processes; a test that forgets to stop one hides a shutdown bug
    and slows every test after it. asyncio.run cancels the tasks still pending
    when its main coroutine returns, silently: those are recorded and reported.
    """
    threads_before = set(threading.enumerate())
    children_before = _child_pids()
    orphan_tasks: list[str] = []
    cancel_all_tasks = asyncio.runners._cancel_all_tasks  # type: ignore[attr-defined]

    def recording(loop: asyncio.AbstractEventLoop) -> None:
        orphan_tasks.extend(t.get_name() for t in asyncio.all_tasks(loop) if not t.done())
        cancel_all_tasks(loop)

    monkeypatch.setattr(asyncio.runners, "_cancel_all_tasks", recording)
    yield
    if orphan_tasks:
        pytest.fail(f"asyncio tasks left pending: {sorted(orphan_tasks)}", pytrace=False)
    deadline = time.monotonic() + _GRACE_S
    while True:
        leaked_threads = [
            t
            for t in threading.enumerate()
            if t not in threads_before and t.is_alive() and not _long_lived(t)
        ]
        leaked_children = _child_pids() - children_before
        if not leaked_threads and not leaked_children:
            return
        if time.monotonic() > deadline:
            break
        time.sleep(0.05)
    names = sorted(t.name for t in leaked_threads)
    pytest.fail(
        f"test left running: threads {names}, child processes {sorted(leaked_children)}",
        pytrace=False,
    )


def _long_lived(thread: threading.Thread) -> bool:
    return thread.name.startswith(_LONG_LIVED_THREADS)


def _child_pids() -> set[int]:
    """Live child processes of this one (zombies are reaped, not running)."""
    pids: set[int] = set()
    for task in Path("/proc/self/task").iterdir():
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        for pid in children:
            try:
                state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            except (OSError, IndexError):
                continue
            if state != "Z":
                pids.add(int(pid))
    return pids
