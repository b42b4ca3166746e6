"""``wattline up --demo`` with broker security on: the demo fleet's data arrives,
and a client without credentials cannot connect."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import unavailable
from tests.e2e.conftest import start_wattline, wait_until
from wattline.broker.dynsec import find_plugin

pytestmark = pytest.mark.e2e


def test_demo_with_security_on(tmp_path: Path) -> None:
    if find_plugin() is None:
        unavailable("Mosquitto's dynamic-security plugin is not installed")
    running = start_wattline(
        tmp_path, "--demo", env={"WATTLINE_SECURITY": "on", "WATTLINE_SIM_INTERVAL_S": "0.5"}
    )
    try:
        wait_until(
            lambda: any(d["latest"] for d in running.get("/api/v1/devices")["devices"]),
            30,
            "the demo fleet's readings",
        )
        anonymous = subprocess.run(
            [
                "mosquitto_pub",
                "-h",
                running.mqtt_host,
                "-p",
                str(running.mqtt_port),
                "-t",
                f"{running.topic_prefix}/plug-1/telemetry",
                "-m",
                "{}",
                "-q",
                "1",
            ],
            capture_output=True,
            timeout=10,
            check=False,
        )
        assert anonymous.returncode != 0
        assert b"not authori" in anonymous.stderr.lower() + anonymous.stdout.lower()
    finally:
        code, stderr = running.stop()
    assert code == 0, stderr
