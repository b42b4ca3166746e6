"""Start-up cost of the ``wattline`` command, from launch (median of --repeat runs).

- import: wall time of ``python -c "import wattline.cli.main"``;
- ``wattline --help`` and ``wattline version --short``: wall time to exit;
- ``wattline up --demo``: wall time from launch until the API lists a demo device
  with a reading, and until it lists all six with readings (what the e2e test waits for).

Prints a Markdown table, as every benchmark here does (``benchmarks/run.py`` records it).

    python benchmarks/startup.py --repeat 3
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

TOKEN = "bench-Zq3vT8mWn5Lr2Hc7Kp4Yb9Xd6Fj1Gs0Aw"
DEMO_DEVICES = 6
GIVE_UP_S = 120.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def run_to_exit_s(*args: str) -> float:
    started = time.monotonic()
    subprocess.run([sys.executable, *args], check=True, stdout=subprocess.DEVNULL)
    return time.monotonic() - started


def demo_fleet_s(broker: str) -> tuple[float, float]:
    """Seconds from launch to the first demo device with a reading, and to all six."""
    http_port, mqtt_port = free_port(), free_port()
    with tempfile.TemporaryDirectory() as data_dir:
        command = [
            sys.executable,
            "-m",
            "wattline",
            "up",
            "--demo",
            "--broker",
            broker,
            "--sim-interval-s",
            "0.5",
            "--http-port",
            str(http_port),
            "--mqtt-port",
            str(mqtt_port),
            "--data-dir",
            data_dir,
        ]
        env = {**os.environ, "WATTLINE_ADMIN_TOKEN": TOKEN}
        started = time.monotonic()
        proc = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        first_s: float | None = None
        try:
            while time.monotonic() - started < GIVE_UP_S:
                if proc.poll() is not None:
                    raise SystemExit(f"wattline up exited with {proc.returncode}")
                reporting = _reporting(http_port)
                if reporting and first_s is None:
                    first_s = time.monotonic() - started
                if reporting == DEMO_DEVICES and first_s is not None:
                    return first_s, time.monotonic() - started
                time.sleep(0.05)
            raise SystemExit(f"no demo fleet after {GIVE_UP_S} s")
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _reporting(http_port: int) -> int:
    try:
        response = httpx.get(
            f"http://127.0.0.1:{http_port}/api/v1/devices",
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=1,
        )
    except httpx.HTTPError:
        return 0
    if response.status_code != httpx.codes.OK:
        return 0
    return sum(1 for device in response.json()["devices"] if device["latest"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--broker", default="mosquitto", choices=["mosquitto", "amqtt"])
    args = parser.parse_args()
    src = Path(__file__).resolve().parent.parent / "src"
    os.environ["PYTHONPATH"] = os.pathsep.join(
        part for part in (str(src), os.environ.get("PYTHONPATH", "")) if part
    )
    rows: list[tuple[str, list[float]]] = [
        ("import wattline.cli.main", []),
        ("wattline --help", []),
        ("wattline version --short", []),
        (f"up --demo ({args.broker}): first demo device with a reading", []),
        (f"up --demo ({args.broker}): all {DEMO_DEVICES} demo devices with readings", []),
    ]
    for _ in range(args.repeat):
        rows[0][1].append(run_to_exit_s("-c", "import wattline.cli.main"))
        rows[1][1].append(run_to_exit_s("-m", "wattline", "--help"))
        rows[2][1].append(run_to_exit_s("-m", "wattline", "version", "--short"))
        first_s, all_s = demo_fleet_s(args.broker)
        rows[3][1].append(first_s)
        rows[4][1].append(all_s)
    load_1, load_5, _ = os.getloadavg()
    print(f"load average after the runs: {load_1:.2f} (1 min), {load_5:.2f} (5 min)\n")
    print(f"| from launch to | median s (of {args.repeat}) | runs s |")
    print("|---|---:|---|")
    for name, values in rows:
        runs = ", ".join(f"{value:.2f}" for value in values)
        print(f"| {name} | {statistics.median(values):.2f} | {runs} |")


if __name__ == "__main__":
    main()
