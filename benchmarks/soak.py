"""The collector's memory: peak RSS under the 100,000-reading burst, then a steady soak.

``wattline collect`` into SQLite against a private Mosquitto (``ingest.py``'s
configuration, which drops nothing). First the ingest benchmark's burst (10
``mosquitto_pub`` processes, 100,000 readings of 5 metrics as fast as they go),
with the collector's RSS (with its MQTT receiver child) sampled every 100 ms;
then a steady stream (``--rate`` readings/s round-robin over ``--devices``
devices, one ``mosquitto_pub -l`` each, paced from here) for ``--minutes``,
RSS sampled every 10 s. At the end every reading sent must be stored.

"Flat" is judged on the steady phase after its first five minutes (caches and
SQLite's page cache warm up before that): the least-squares slope of RSS
against time, in MB per 10 minutes, and the growth from the first to the last
sample of that window.

    python benchmarks/soak.py --minutes 30 --rate 2000
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import orjson
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest import (
    METRICS,
    collector_env,
    line_publishers,
    private_mosquitto,
    publish_all,
    rss_sampler,
    sqlite_counter,
    wait_for,
)

BURST_READINGS = 100_000
BURST_DEVICES = 10
WARM_UP_S = 300.0
SAMPLE_EVERY_S = 10.0
# the steady phase's sequence numbers start above the burst's
STEADY_SEQ0 = 1_000_000


@dataclass
class Soak:
    burst_peak_mb: float
    burst_per_s: float
    samples: list[tuple[float, float]]  # (seconds since the steady phase began, MB)
    sent: int
    stored: int
    # CPU seconds of the collector (with its child) per second of the steady phase
    cpu_share: float = float("nan")

    def window(self) -> list[tuple[float, float]]:
        return [(t, mb) for t, mb in self.samples if t >= WARM_UP_S] or self.samples

    def slope_mb_per_10_min(self) -> float:
        points = self.window()
        if len(points) < 2:
            return float("nan")
        slope, _ = statistics.linear_regression([t for t, _ in points], [mb for _, mb in points])
        return slope * 600


def collector_rss_mb(pid: int) -> float:
    total = 0
    with suppress(psutil.Error):
        process = psutil.Process(pid)
        for member in (process, *process.children(recursive=True)):
            total += member.memory_info().rss
    return total / 2**20


def collector_cpu_s(pid: int) -> float:
    total = 0.0
    with suppress(psutil.Error):
        process = psutil.Process(pid)
        for member in (process, *process.children(recursive=True)):
            times = member.cpu_times()
            total += times.user + times.system
    return total


def steady_publish(  # noqa: PLR0913, PLR0917 - where, what and how fast
    host: str, port: int, prefix: str, devices: int, rate_per_s: float, seconds: float
) -> int:
    """Readings round-robin at ``rate_per_s`` for ``seconds``; returns how many were sent."""
    topics = [f"{prefix}/soak{device}/telemetry" for device in range(devices)]
    publishers = line_publishers(host, port, topics, "soak")
    pipes = [p.stdin for p in publishers if p.stdin is not None]
    time.sleep(1)  # every publisher connected
    started = time.perf_counter()
    count = 0
    last_ts = [0] * devices
    # lines are written in slices of 10 ms: pacing to the millisecond costs more
    # CPU here than the collector spends on them
    while (now := time.perf_counter()) - started < seconds:
        due = int((now - started) * rate_per_s)
        while count < due:
            device, turn = count % devices, count // devices
            value = float(turn % 1000)
            # strictly increasing per device even when a slice writes several
            last_ts[device] = max(time.time_ns() // 1_000_000, last_ts[device] + 1)
            body = {
                "seq": STEADY_SEQ0 + turn,
                # now, as a live device stamps it: today's rows, not a closed day's
                "ts": last_ts[device],
                "metrics": dict.fromkeys(METRICS, value),
            }
            pipes[device].write(orjson.dumps(body) + b"\n")
            count += 1
        for pipe in pipes:
            pipe.flush()
        time.sleep(0.01)
    for pipe in pipes:
        pipe.close()
    for proc in publishers:
        proc.wait(60)
    return count


def soak(broker: str, minutes: float, rate: float, devices: int) -> Soak:
    host, port_text = broker.split(":")
    port = int(port_text)
    prefix = f"soak{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory() as data_dir:
        env = collector_env(prefix, data_dir, broker)
        command = [sys.executable, "-m", "wattline", "collect", "--client-id", f"{prefix}-c"]
        proc = subprocess.Popen(command, env=env)
        count = sqlite_counter(Path(data_dir) / "wattline.db")
        try:
            time.sleep(3)  # connect and subscribe
            with rss_sampler(lambda: [proc.pid]) as peak:
                started = publish_all(host, port, prefix, BURST_DEVICES, BURST_READINGS // 10)
                done = wait_for(count, BURST_READINGS, 900)
            samples: list[tuple[float, float]] = []
            stop = threading.Event()
            steady_started = time.monotonic()

            def sample() -> None:
                while not stop.is_set():
                    samples.append((time.monotonic() - steady_started, collector_rss_mb(proc.pid)))
                    stop.wait(SAMPLE_EVERY_S)

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            cpu_before, wall_before = collector_cpu_s(proc.pid), time.monotonic()
            sent = steady_publish(host, port, prefix, devices, rate, minutes * 60)
            cpu_share = (collector_cpu_s(proc.pid) - cpu_before) / (time.monotonic() - wall_before)
            with suppress(TimeoutError):  # a shortfall is reported, not raised
                wait_for(count, BURST_READINGS + sent, 300)
            stored = count() - BURST_READINGS
            stop.set()
            sampler.join()
        finally:
            count.close()
            proc.terminate()
            proc.wait(30)
    return Soak(peak[0], BURST_READINGS / (done - started), samples, sent, stored, cpu_share)


def report(result: Soak, minutes: float, rate: float, devices: int) -> str:
    window = result.window()
    every = [mb for _, mb in result.samples]
    warm = f"steady, after the first {WARM_UP_S / 60:.0f} min"
    rows = [
        (
            "burst, 10 mosquitto_pub as fast as they go",
            f"{BURST_READINGS:,}",
            "peak RSS MB",
            f"{result.burst_peak_mb:.0f}",
        ),
        ("burst", "", "readings/s", f"{result.burst_per_s:,.0f}"),
        (
            f"steady, {rate:,.0f} readings/s over {devices} devices, {minutes:.0f} min",
            f"{result.sent:,} sent, {result.stored:,} stored",
            "RSS MB at start / max / end",
            f"{every[0]:.0f} / {max(every):.0f} / {every[-1]:.0f}",
        ),
        (warm, "", "RSS MB first / last", f"{window[0][1]:.0f} / {window[-1][1]:.0f}"),
        (warm, "", "slope, MB per 10 min", f"{result.slope_mb_per_10_min():+.2f}"),
        ("steady", "", "collector CPU, share of one core", f"{result.cpu_share:.0%}"),
    ]
    lines = [
        "`wattline collect` into SQLite, private Mosquitto; RSS of the collector with its",
        "MQTT receiver child.",
        "",
        "| phase | readings | measure | value |",
        "|---|---:|---|---:|",
        *(f"| {phase} | {count} | {measure} | {value} |" for phase, count, measure, value in rows),
        "",
        "RSS at each minute of the steady phase (MB):",
        "",
        " ".join(f"{mb:.0f}" for t, mb in result.samples if round(t) % 60 < SAMPLE_EVERY_S),
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--broker", default=None, help="host:port; default: a private Mosquitto")
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--rate", type=float, default=2_000.0, help="readings/s while soaking")
    parser.add_argument("--devices", type=int, default=50)
    args = parser.parse_args()

    def run(broker: str) -> None:
        result = soak(broker, args.minutes, args.rate, args.devices)
        print(report(result, args.minutes, args.rate, args.devices))

    if args.broker is None:
        with private_mosquitto() as broker:
            run(broker)
    else:
        run(args.broker)


if __name__ == "__main__":
    main()
