"""``wattline up --demo`` on a machine whose ports are taken, as Debian's mosquitto takes 1883."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import port_open
from tests.e2e.conftest import TOKEN, wait_until

pytestmark = pytest.mark.e2e

PORT_VARIABLES = ("WATTLINE_HTTP_PORT", "WATTLINE_MQTT_PORT", "WATTLINE_MQTT_URL")


@contextlib.contextmanager
def port_1883_taken() -> Iterator[None]:
    """The machine's Mosquitto holds 1883 already; else this test holds it."""
    if port_open("127.0.0.1", 1883):
        yield
        return
    with socket.socket() as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.bind(("127.0.0.1", 1883))
        holder.listen()
        yield


def user_env(**extra: str) -> dict[str, str]:
    """The environment of a user who chose no port."""
    env = {k: v for k, v in os.environ.items() if k not in PORT_VARIABLES}
    return {**env, "WATTLINE_ADMIN_TOKEN": TOKEN, **extra}


def up(data_dir: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "wattline", "up", "--data-dir", str(data_dir), *args]


def test_demo_moves_off_a_taken_default_port_and_says_where(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    stderr_path = tmp_path / "stderr"
    with port_1883_taken(), stderr_path.open("wb") as stderr:
        proc = subprocess.Popen(
            up(data_dir, "--demo", "--sim-interval-s", "0.5"),
            env=user_env(),
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
        try:
            wait_until(
                lambda: proc.poll() is not None or "Ctrl-C stops" in stderr_path.read_text(),
                30,
                "the banner",
            )
            banner = stderr_path.read_text()
            assert proc.poll() is None, banner
            api_url = (data_dir / "api-url").read_text().strip()
            mqtt_url = (data_dir / "mqtt-url").read_text().strip()
            mqtt_port = int(mqtt_url.rsplit(":", 1)[1])
            assert mqtt_port != 1883
            assert re.search(rf"MQTT broker  {re.escape(mqtt_url)}\s", banner)
            assert f"API          {api_url} " in banner
            assert "port 1883 was taken" in banner

            def demo_devices() -> int:
                response = httpx.get(
                    f"{api_url}/api/v1/devices",
                    headers={"Authorization": f"Bearer {TOKEN}"},
                    timeout=5,
                )
                return int(response.json()["count"])

            # The demo fleet found the broker on its new port.
            wait_until(lambda: demo_devices() == 6, 20, "the demo fleet")
        finally:
            proc.send_signal(signal.SIGINT)
            code = proc.wait(30)
    assert code == 0, stderr_path.read_text()


@pytest.mark.parametrize("how", ["flag", "env"])
def test_a_chosen_taken_port_is_an_error_naming_every_way_to_choose(
    tmp_path: Path, how: str
) -> None:
    with port_1883_taken():
        args = ["--demo", "--mqtt-port", "1883"] if how == "flag" else ["--demo"]
        extra = {"WATTLINE_MQTT_PORT": "1883"} if how == "env" else {}
        result = subprocess.run(
            up(tmp_path / "data", *args),
            env=user_env(**extra),
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert "port 1883" in line
    assert "--mqtt-port" in line
    assert "WATTLINE_MQTT_PORT" in line
    assert "make run WATTLINE_MQTT_PORT=" in line
