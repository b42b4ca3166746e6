"""Start the real ``wattline`` command as a user would, on free ports."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
import pytest

from tests.conftest import free_port

# Long and random-looking: outside demo mode a short or placeholder token is refused.
TOKEN = "e2e-Zq3vT8mWn5Lr2Hc7Kp4Yb9Xd6Fj1Gs0Aw"


@dataclass
class RunningWattline:
    proc: subprocess.Popen[bytes]
    api_url: str
    mqtt_host: str
    mqtt_port: int
    topic_prefix: str
    data_dir: Path
    stderr_path: Path
    client: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        _STARTED.append(self)
        self.client = httpx.Client(
            base_url=self.api_url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
        )

    def get(self, path: str, **params: Any) -> Any:
        response = self.client.get(path, params=params)
        response.raise_for_status()
        return response.json()

    def stop(self) -> tuple[int, str]:
        """Ctrl-C, as a user would; return the exit code and what was printed to stderr."""
        self.client.close()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode, self.stderr_path.read_text()


# Every Wattline a test started, so one that fails half-way leaves no process behind.
_STARTED: list[RunningWattline] = []


@pytest.fixture(autouse=True)
def _stop_what_the_test_started() -> Iterator[None]:
    """Stop the Wattlines started inside this test (not a module's shared one) it left running."""
    already = len(_STARTED)
    yield
    for running in _STARTED[already:]:
        if running.proc.poll() is None:
            running.stop()
    del _STARTED[already:]


def wait_until(predicate: Any, timeout_s: float, what: str | Callable[[], str]) -> None:
    """Poll until predicate() is true; what (or what(), read at the timeout) names it."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    pytest.fail(
        f"timed out after {timeout_s} s waiting for {what if isinstance(what, str) else what()}"
    )


def start_wattline(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None, healthy_within_s: float = 60
) -> RunningWattline:
    http_port, mqtt_port = free_port(), free_port()
    prefix = f"e2e{uuid.uuid4().hex[:8]}"
    stderr_path = tmp_path / "wattline.stderr"
    full_env = {
        **os.environ,
        "WATTLINE_TOPIC_PREFIX": prefix,
        "WATTLINE_ADMIN_TOKEN": TOKEN,
        "WATTLINE_MQTT_CLIENT_ID": f"wattline-{prefix}",
        **(env or {}),
    }
    command = [
        sys.executable,
        "-m",
        "wattline",
        "up",
        "--http-port",
        str(http_port),
        "--mqtt-port",
        str(mqtt_port),
        "--data-dir",
        str(tmp_path / "data"),
        *args,
    ]
    with stderr_path.open("wb") as stderr:
        proc = subprocess.Popen(command, env=full_env, stdout=subprocess.DEVNULL, stderr=stderr)
    mqtt_url = full_env.get("WATTLINE_MQTT_URL", f"mqtt://127.0.0.1:{mqtt_port}")
    host, port = mqtt_url.removeprefix("mqtt://").split(":")
    running = RunningWattline(
        proc,
        f"http://127.0.0.1:{http_port}",
        host,
        int(port),
        prefix,
        tmp_path / "data",
        stderr_path,
    )

    def healthy() -> bool:
        if proc.poll() is not None:
            pytest.fail(f"wattline up exited early:\n{stderr_path.read_text()}")
        try:
            body = httpx.get(f"{running.api_url}/health", timeout=1).json()
        except httpx.HTTPError:
            return False
        return bool(body["components"].get("mqtt", {}).get("status") == "ok")

    # 20-27 s on this 2-core machine while other test runs shared it, before start-up
    # imports were cut (measured 2026-12-02; docs/benchmarks.md, startup): twice that.
    try:
        wait_until(healthy, healthy_within_s, "wattline up to report healthy")
    except BaseException:
        running.stop()  # never left running behind a failed start
        raise
    return running


# Both embedded brokers: Mosquitto as a child process (what auto picks when it is
# installed, as it is here and in CI) and the amqtt fallback.
EMBEDDED_BROKERS = ["mosquitto", "amqtt"]


@pytest.fixture(params=EMBEDDED_BROKERS)
def wattline_embedded(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[RunningWattline]:
    running = start_wattline(tmp_path, "--auto-register", "--broker", request.param)
    yield running
    running.stop()


def forget_session(host: str, port: int, client_id: str) -> None:
    """Drop a persistent session so the broker keeps nothing of this test."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True)
    client.connect(host, port)
    client.disconnect()
