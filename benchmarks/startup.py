"""Start-up cost of the ``wattline`` command, from launch (median of --repeat runs).

- import: wall time of ``python -c "import wattline.cli.main"``;
- ``wattline --help`` and ``wattline version --short``: wall time to exit;
- ``wattline up --demo``: wall time from launch until the API lists a demo device
  with a reading, and until it lists all six with readings (what the e2e test waits for),
  and the CPU time the ``wattline`` process had used by then (Linux: /proc).

CPU seconds change less than wall seconds when the machine is shared. ``--src``
measures another checkout's ``src`` folder (e.g. the previous commit's, unpacked
with ``git archive``); runs of several ``--src`` alternate, so they share the load.
Prints a Markdown table, as every benchmark here does (``benchmarks/run.py`` records it).

    python benchmarks/startup.py --repeat 3
    python benchmarks/startup.py --src /tmp/before/src --src src
"""

from __future__ import annotations

import argparse
import os
import resource
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


def run_to_exit_s(src: Path, *args: str) -> tuple[float, float]:
    """Wall and CPU (user + system) seconds of one command run to its exit."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    subprocess.run([sys.executable, *args], check=True, stdout=subprocess.DEVNULL, env=_env(src))
    wall_s = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall_s, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _env(src: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(src), "WATTLINE_ADMIN_TOKEN": TOKEN}


def _cpu_s(pid: int) -> float:
    """User + system seconds the process has used (its own, not its children's)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def demo_fleet_s(src: Path, broker: str) -> tuple[float, float, float]:
    """Seconds from launch to the first demo device with a reading, to all six, and
    the CPU seconds the process had used when all six were there."""
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
        started = time.monotonic()
        proc = subprocess.Popen(
            command, env=_env(src), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
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
                    return first_s, time.monotonic() - started, _cpu_s(proc.pid)
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
    parser.add_argument("--src", type=Path, action="append", help="default: this checkout's")
    args = parser.parse_args()
    sources = [path.resolve() for path in args.src or [Path(__file__).parent.parent / "src"]]
    rows: dict[tuple[str, Path], list[float]] = {}

    def add(name: str, src: Path, value: float) -> None:
        rows.setdefault((name, src), []).append(value)

    for _ in range(args.repeat):
        for src in sources:
            for name, command in (
                ("import wattline.cli.main", ("-c", "import wattline.cli.main")),
                ("wattline --help", ("-m", "wattline", "--help")),
                ("wattline version --short", ("-m", "wattline", "version", "--short")),
            ):
                wall_s, cpu_s = run_to_exit_s(src, *command)
                add(f"{name}: wall s", src, wall_s)
                add(f"{name}: CPU s", src, cpu_s)
            first_s, all_s, cpu_s = demo_fleet_s(src, args.broker)
            add(
                f"up --demo ({args.broker}): first demo device with a reading, wall s", src, first_s
            )
            add(f"up --demo ({args.broker}): all {DEMO_DEVICES} with readings, wall s", src, all_s)
            add(f"up --demo ({args.broker}): CPU s of the process by then", src, cpu_s)
    load_1, load_5, _ = os.getloadavg()
    print(f"load average after the runs: {load_1:.2f} (1 min), {load_5:.2f} (5 min)\n")
    print(f"| measure | src | median (of {args.repeat}) | runs |")
    print("|---|---|---:|---|")
    for (name, src), values in rows.items():
        runs = ", ".join(f"{value:.2f}" for value in values)
        print(f"| {name} | {src} | {statistics.median(values):.2f} | {runs} |")


if __name__ == "__main__":
    main()
