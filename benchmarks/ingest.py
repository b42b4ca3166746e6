"""Sustained ingest throughput: readings/s from an external publisher until durably committed.

Runs, on one machine, against a real Mosquitto started for the run on a free
port (or ``--broker host:port``), configured not to drop messages: Mosquitto's
default ``max_queued_messages`` (1000) silently drops QoS 1 messages for a
subscriber that falls behind, which would turn a throughput run into a loss run.

* floors: ``mosquitto_sub`` writing the stream to a file, and a bare paho-mqtt
  QoS 1 subscriber that only counts;
* ``wattline collect`` (a separate process) into SQLite, into PostgreSQL, and
  two collectors sharing one PostgreSQL through an MQTT 5 shared subscription;
* ``wattline up`` with each embedded broker (Mosquitto child process, amqtt) into SQLite.

The publisher is Debian's ``mosquitto_pub -l`` (C), one process per device, so
it is not the bottleneck. Each reading carries 5 metrics. Results go to stdout
as a Markdown table; ``benchmarks/run.py`` writes them to docs/benchmarks.md.

    python benchmarks/ingest.py --readings 100000 --devices 10
"""

from __future__ import annotations

import argparse
import os
import secrets
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import orjson
import paho.mqtt.client as mqtt
import psutil

from wattline.broker.mosquitto import find_mosquitto

# Recent enough that raw retention (7 days) keeps it, old enough to stay clear of
# the future-skew rule; readings are 10 ms apart per device.
DAY_MS = 86_400_000
# The latency phases' readings are dated this long after the first throughput reading:
# after every throughput reading (300,000 readings of 10 devices span 5 minutes).
LATER_MS = 20 * 60_000


def first_reading_ms(now_ms: int) -> int:
    """The first reading's time: three hours ago, but not before today's UTC midnight
    when today has room for every reading in the past.

    A reading of a day already over makes each commit look for compacted blocks of
    that day to reopen (three statements more), a path live data never takes; three
    hours ago alone put every run between 00:00 and 03:00 UTC on it. In the first
    half hour of a day there is no such room, and the runs stay on yesterday.
    """
    three_hours_ago = now_ms - 3 * 3_600_000
    midnight_ms = now_ms - now_ms % DAY_MS
    if three_hours_ago >= midnight_ms or now_ms - midnight_ms < LATER_MS + 10 * 60_000:
        return three_hours_ago
    return midnight_ms + 60_000


T0_MS = first_reading_ms(int(time.time() * 1000))
METRICS = ("voltage_v", "current_a", "power_w", "energy_wh", "frequency_hz")


@dataclass
class Result:
    name: str
    readings: int
    seconds: float
    peak_rss_mb: float | None = None
    p50_ms: float | None = None
    p99_ms: float | None = None

    @property
    def rate(self) -> float:
        return self.readings / self.seconds


def free_port() -> int:
    import socket  # noqa: PLC0415

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def payload_lines(device_index: int, count: int) -> bytes:
    rows = []
    for seq in range(count):
        value = float(seq % 1000)
        rows.append(
            orjson.dumps(
                {
                    "seq": seq,
                    "ts": T0_MS + seq * 10 + device_index,
                    "metrics": dict.fromkeys(METRICS, value),
                }
            )
        )
    return b"\n".join(rows) + b"\n"


def line_publishers(
    host: str, port: int, topics: Sequence[str], client_prefix: str
) -> list[subprocess.Popen[bytes]]:
    """One ``mosquitto_pub -l`` per topic: each publishes (QoS 1) every line written
    to its stdin, so a Python process can pace a stream without an MQTT client of
    its own (paho takes more than half a core at a few thousand messages a second)."""
    return [
        subprocess.Popen(
            [
                "mosquitto_pub",
                *("-h", host, "-p", str(port), "-q", "1", "-l", "-t", topic),
                *("-i", f"{client_prefix}-{uuid.uuid4().hex[:8]}"),
            ],
            stdin=subprocess.PIPE,
        )
        for topic in topics
    ]


def publish_all(  # noqa: PLR0913, PLR0917 - where, what, and as whom
    host: str,
    port: int,
    prefix: str,
    devices: int,
    per_device: int,
    passwords: dict[str, str] | None = None,
    payload: Callable[[int, int], bytes] = payload_lines,
) -> float:
    """Publish with one mosquitto_pub per device; return when the last one finished.

    With ``passwords`` each device's connection logs in as that device; ``payload``
    writes a device's lines (by default ``payload_lines``)."""
    files = []
    for index in range(devices):
        tmp = tempfile.NamedTemporaryFile(delete=False, suffix=".jsonl")  # noqa: SIM115
        tmp.write(payload(index, per_device))
        tmp.close()
        files.append(tmp.name)
    started = time.perf_counter()
    procs = [
        subprocess.Popen(
            [
                "mosquitto_pub",
                "-h",
                host,
                "-p",
                str(port),
                "-q",
                "1",
                "-l",
                "-t",
                f"{prefix}/dev{index}/telemetry",
                "-i",
                f"bench-pub-{uuid.uuid4().hex[:8]}",
                *login(passwords, f"dev{index}"),
            ],
            stdin=Path(name).open("rb"),  # noqa: SIM115 - closed when the child exits
        )
        for index, name in enumerate(files)
    ]
    for proc in procs:
        proc.wait()
    for name in files:
        Path(name).unlink()
    return started


def login(passwords: dict[str, str] | None, device_id: str) -> list[str]:
    if passwords is None:
        return []
    return ["-u", device_id, "-P", passwords[device_id]]


def wait_for(count: Callable[[], int], target: int, timeout_s: float) -> float:
    """The moment ``count`` reached ``target``.

    A ``StoreCounter`` is polled by its cheap estimate while the subject works and
    counted exactly once the estimate is there: a full count of a growing samples
    table every 20 ms took a third of a core from the collector it measured."""
    deadline = time.monotonic() + timeout_s
    estimate = count.estimate if isinstance(count, StoreCounter) else count
    while time.monotonic() < deadline:
        if estimate() >= target:
            reached = time.perf_counter()
            if estimate is count or count() >= target:
                return reached
            estimate = count  # readings held back beyond a seq gap: count exactly from here
            continue
        time.sleep(0.02)
    raise TimeoutError(f"only {count()} of {target} after {timeout_s} s")


# -- floors -----------------------------------------------------------------


def floor_mosquitto_sub(host: str, port: int, devices: int, per_device: int) -> Result:
    prefix = f"bench{uuid.uuid4().hex[:8]}"
    total = devices * per_device
    with tempfile.NamedTemporaryFile() as out:
        sub = subprocess.Popen(
            [
                "mosquitto_sub",
                "-h",
                host,
                "-p",
                str(port),
                "-q",
                "1",
                "-t",
                f"{prefix}/#",
                "-C",
                str(total),
            ],
            stdout=out,
        )
        time.sleep(0.5)
        started = publish_all(host, port, prefix, devices, per_device)
        sub.wait(600)
        done = time.perf_counter()
    return Result("floor: mosquitto_sub → file", total, done - started)


def floor_paho(host: str, port: int, devices: int, per_device: int) -> Result:
    prefix = f"bench{uuid.uuid4().hex[:8]}"
    total = devices * per_device
    received = 0
    lock = threading.Lock()

    def on_message(_c: object, _u: object, _m: object) -> None:
        nonlocal received
        with lock:
            received += 1

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.on_message = on_message
    client.connect(host, port)
    client.subscribe(f"{prefix}/#", qos=1)
    client.loop_start()
    time.sleep(0.5)
    started = publish_all(host, port, prefix, devices, per_device)
    done = wait_for(lambda: received, total, 600)
    client.disconnect()
    client.loop_stop()
    return Result("floor: bare paho subscriber (counts only)", total, done - started)


# -- wattline ---------------------------------------------------------------


@contextmanager
def rss_sampler(pids: Callable[[], list[int]]) -> Iterator[list[float]]:
    peak = [0.0]
    stop = threading.Event()

    def members() -> list[psutil.Process]:
        found = []
        for pid in pids():
            with suppress(psutil.Error):
                process = psutil.Process(pid)
                # with its children: the MQTT 5 receiver is a process of its own
                found += [process, *process.children(recursive=True)]
        return found

    def sample() -> None:
        # Finding the children reads every process of the machine (1.4 ms a collector,
        # every 0.1 s: a seventieth of a core each, taken from the subject), so once a
        # second; they change only when a receiver is restarted.
        sampled: list[psutil.Process] = []
        found_at = -1.0
        while not stop.is_set():
            if time.monotonic() - found_at >= 1.0:
                sampled, found_at = members(), time.monotonic()
            total = 0
            for member in sampled:
                with suppress(psutil.Error):
                    total += member.memory_info().rss
            peak[0] = max(peak[0], total / 2**20)
            stop.wait(0.1)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield peak
    finally:
        stop.set()
        thread.join()


@dataclass(frozen=True)
class StoreCounter:
    """Readings a store holds. Calling it counts them exactly (a scan of samples);
    ``estimate`` reads each device's next expected sequence number instead (a row per
    device), which equals the exact count once every device's stream is in, and
    ``of_device`` counts one device's samples through the primary key's prefix."""

    exact: Callable[[], int]
    estimate: Callable[[], int]
    of_device: Callable[[str], int]
    # what the counter holds open (a connection), released once the run is over
    close: Callable[[], None] = lambda: None

    def __call__(self) -> int:
        return self.exact()


def store_counter(scalar: Callable[..., int], mark: str, metrics_per_reading: int) -> StoreCounter:
    """The counter's three questions through ``scalar(sql, *params)``; ``mark`` is the
    driver's placeholder."""
    return StoreCounter(
        exact=lambda: scalar("SELECT count(*) FROM samples") // metrics_per_reading,
        estimate=lambda: scalar("SELECT sum(next_seq) FROM seq_state"),
        of_device=lambda device: (
            scalar(f"SELECT count(*) FROM samples WHERE device_id = {mark}", device)
            // metrics_per_reading
        ),
    )


def closer(held: list[Any]) -> Callable[[], None]:
    """A counter's ``close``: the connections it holds closed and forgotten (it opens
    another if asked again)."""

    def close() -> None:
        for conn in held:
            conn.close()
        held.clear()

    return close


def sqlite_counter(path: Path, metrics_per_reading: int = len(METRICS)) -> StoreCounter:
    """Readings stored in a SQLite store, as samples over the metrics each reading carries,
    asked over one connection once the file is there (opening one and reading the
    schema cost 0.45 ms of CPU, every 20 ms while polling)."""
    held: list[sqlite3.Connection] = []

    def scalar(sql: str, *params: object) -> int:
        if not held:
            if not path.exists():
                return 0  # connecting would create it
            held.append(sqlite3.connect(path, timeout=5, check_same_thread=False))
        try:
            # fetchall steps the statement to its end, which ends its read transaction
            return int(held[0].execute(sql, params).fetchall()[0][0] or 0)
        except sqlite3.OperationalError:
            return 0  # not created yet

    return replace(store_counter(scalar, "?", metrics_per_reading), close=closer(held))


def postgres_counter(url: str, metrics_per_reading: int = len(METRICS)) -> StoreCounter:
    """Readings stored in a PostgreSQL store, asked over one connection held for the run.

    A connection per question (every 20 ms while polling, every 2 ms in the latency
    phase) cost the machine about 4 ms of CPU each, a server process forked and
    authenticated: about a twelfth of two cores, taken from the collectors and the
    PostgreSQL it measured, which the floor's run never paid (docs/benchmarks.md)."""
    import psycopg  # noqa: PLC0415

    held: list[psycopg.Connection[tuple[Any, ...]]] = []

    def scalar(sql: str, *params: object) -> int:
        if not held or held[0].closed or held[0].broken:
            held[:] = [psycopg.connect(url, autocommit=True)]
        row = held[0].execute(sql, params).fetchone()  # type: ignore[arg-type] - our constants
        return int(row[0] or 0) if row else 0

    return replace(store_counter(scalar, "%s", metrics_per_reading), close=closer(held))


@contextmanager
def postgres_database() -> Iterator[str]:
    import psycopg  # noqa: PLC0415

    name = f"wattline_bench_{uuid.uuid4().hex[:8]}"
    admin = "postgresql://postgres@127.0.0.1:5432/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (name,),
            )
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')


def collector_env(prefix: str, data_dir: str, broker: str) -> dict[str, str]:
    """The environment of a benchmark's ``wattline collect``: its own topic prefix and
    data directory, devices registered on first contact, warnings only."""
    return {
        **os.environ,
        "WATTLINE_TOPIC_PREFIX": prefix,
        "WATTLINE_AUTO_REGISTER": "true",
        "WATTLINE_DATA_DIR": data_dir,
        "WATTLINE_MQTT_URL": f"mqtt://{broker}",
        "WATTLINE_LOG_LEVEL": "WARNING",
    }


def run_collectors(  # noqa: PLR0913
    name: str,
    host: str,
    port: int,
    devices: int,
    per_device: int,
    *,
    collectors: int,
    database_url: str | None,
) -> Result:
    prefix = f"bench{uuid.uuid4().hex[:8]}"
    total = devices * per_device
    with tempfile.TemporaryDirectory() as data_dir:
        env = collector_env(prefix, data_dir, f"{host}:{port}")
        if database_url:
            env["WATTLINE_DATABASE_URL"] = database_url
        if collectors > 1:
            env["WATTLINE_MQTT_SHARED_GROUP"] = f"g{prefix}"
        metrics_ports = [free_port() for _ in range(collectors)]
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "wattline", "collect", "--client-id", f"{prefix}-c{i}"],
                env={**env, "WATTLINE_METRICS_PORT": str(metrics_ports[i])},
            )
            for i in range(collectors)
        ]
        count = (
            postgres_counter(database_url)
            if database_url
            else sqlite_counter(Path(data_dir) / "wattline.db")
        )
        try:
            for metrics_port in metrics_ports:
                wait_connected(metrics_port, 180)
            time.sleep(1)  # the subscription follows the session
            with rss_sampler(lambda: [p.pid for p in procs]) as peak:
                started = publish_all(host, port, prefix, devices, per_device)
                done = wait_for(count, total, 900)
            p50, p99 = latency(host, port, prefix, count)
        finally:
            count.close()
            for proc in procs:
                proc.terminate()
            for proc in procs:
                proc.wait(30)
    return Result(name, total, done - started, peak[0] / collectors, p50, p99)


def latency(
    host: str,
    port: int,
    prefix: str,
    count: StoreCounter,
    password: str | None = None,
) -> tuple[float, float]:
    """Publish-to-commit latency at a steady 500 readings/s, by polling the store for
    device ``lat``'s samples; as device ``lat`` with ``password`` when there is one."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    if password is not None:
        client.username_pw_set("lat", password)
    client.connect(host, port)
    client.loop_start()
    sent_at: list[float] = []
    committed_at: list[float] = []
    n = 1000
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set() and len(committed_at) < n:
            seen = count.of_device("lat")
            now = time.perf_counter()
            committed_at.extend([now] * (seen - len(committed_at)))
            time.sleep(0.002)

    poller = threading.Thread(target=poll)
    poller.start()
    base = T0_MS + LATER_MS  # after every throughput reading, still in the past
    for i in range(n):
        body = {"seq": i, "ts": base + i, "metrics": dict.fromkeys(METRICS, 1.0)}
        sent_at.append(time.perf_counter())
        client.publish(f"{prefix}/lat/telemetry", orjson.dumps(body), qos=1)
        time.sleep(0.002)
    poller.join(60)
    stop.set()
    client.disconnect()
    client.loop_stop()
    delays = [(c - s) * 1000 for s, c in zip(sent_at, committed_at, strict=False)]
    if len(delays) < 2:
        return float("nan"), float("nan")
    cuts = statistics.quantiles(delays, n=100)
    return statistics.median(delays), cuts[98]


def provision(http_port: int, token: str, device_ids: list[str]) -> dict[str, str]:
    """Register each device through the API with an MQTT password; the passwords by id."""
    passwords = {}
    with httpx.Client(base_url=f"http://127.0.0.1:{http_port}", timeout=30) as client:
        for device_id in device_ids:
            response = client.post(
                "/api/v1/devices",
                json={"device_id": device_id, "credentials": ["mqtt_password"]},
                headers={"Authorization": f"Bearer {token}"},
            )
            response.raise_for_status()
            passwords[device_id] = response.json()["credentials"][0]["secret"]
    return passwords


def wait_connected(metrics_port: int, timeout_s: float) -> None:
    """Until the collector's /metrics says it holds its broker session: a fixed sleep
    was too short once the collector also starts its commit process, and a reading
    published before the collector subscribes is lost to a fresh session."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with suppress(httpx.HTTPError):
            for line in httpx.get(f"http://127.0.0.1:{metrics_port}/metrics").text.splitlines():
                if line.startswith("wattline_ingest_broker_connected ") and line.endswith(" 1.0"):
                    return
        time.sleep(0.2)
    raise TimeoutError(f"the collector was not connected after {timeout_s} s")


def wait_healthy(http_port: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with suppress(httpx.HTTPError):
            if httpx.get(f"http://127.0.0.1:{http_port}/readyz", timeout=1).status_code == 200:
                return
        time.sleep(0.2)
    raise TimeoutError(f"wattline up not ready after {timeout_s} s")


def embedded(devices: int, per_device: int, broker: str, *, security: bool = False) -> Result:
    """``wattline up`` with an embedded broker; with ``security`` (Mosquitto only) the
    broker's dynamic security is on and every publisher logs in as its own device,
    one connection per device, with the password ``POST /api/v1/devices`` issued."""
    total = devices * per_device
    with tempfile.TemporaryDirectory() as data_dir:
        mqtt_port, http_port = free_port(), free_port()
        prefix = "iot"
        token = secrets.token_hex(32)  # outside demo mode a weak token is refused
        env = {
            **os.environ,
            "WATTLINE_LOG_LEVEL": "WARNING",
            "WATTLINE_ADMIN_TOKEN": token,
            "WATTLINE_SECURITY": "on" if security else "off",
        }
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "wattline",
                "up",
                "--auto-register",
                "--data-dir",
                data_dir,
                "--mqtt-port",
                str(mqtt_port),
                "--http-port",
                str(http_port),
                "--broker",
                broker,
            ],
            env=env,
            stdout=subprocess.DEVNULL,
        )
        count = sqlite_counter(Path(data_dir) / "wattline.db")
        try:
            wait_healthy(http_port, 60)
            passwords = None
            if security:
                passwords = provision(
                    http_port, token, [f"dev{i}" for i in range(devices)] + ["lat"]
                )
            with rss_sampler(lambda: [proc.pid]) as peak:
                started = publish_all(
                    "127.0.0.1", mqtt_port, prefix, devices, per_device, passwords
                )
                done = wait_for(count, total, 900)
            lat_password = passwords["lat"] if passwords else None
            p50, p99 = latency("127.0.0.1", mqtt_port, prefix, count, lat_password)
        finally:
            count.close()
            proc.terminate()
            proc.wait(30)
    name = {"mosquitto": "Mosquitto (child process)", "amqtt": "amqtt (in-process)"}[broker]
    if security:
        name += ", security on (dynamic security, a password per device)"
    elapsed = done - started
    return Result(f"wattline up: embedded {name} → SQLite", total, elapsed, peak[0], p50, p99)


def table(results: list[Result], floor: Result) -> str:
    lines = [
        (
            f"| run | readings | readings/s | ratio to {floor.name.removeprefix('floor: ')} "
            "| p50 ms | p99 ms "
            "| peak RSS MB (with children) |"
        ),
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        fmt = lambda v: "-" if v is None else f"{v:.0f}"  # noqa: E731
        lines.append(
            f"| {r.name} | {r.readings} | {r.rate:,.0f} | {r.rate / floor.rate:.2f} | "
            f"{fmt(r.p50_ms)} | {fmt(r.p99_ms)} | {fmt(r.peak_rss_mb)} |"
        )
    return "\n".join(lines)


MOSQUITTO_CONF = """\
listener {port} 127.0.0.1
allow_anonymous true
persistence false
max_queued_messages 0
max_inflight_messages 1000
"""


@contextmanager
def private_mosquitto() -> Iterator[str]:
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        conf = Path(tmp) / "mosquitto.conf"
        conf.write_text(MOSQUITTO_CONF.format(port=port))
        binary = find_mosquitto()
        if binary is None:
            sys.exit("benchmarks need mosquitto (apt install mosquitto mosquitto-clients)")
        proc = subprocess.Popen([binary, "-c", str(conf)], stderr=subprocess.DEVNULL)
        time.sleep(0.5)
        try:
            yield f"127.0.0.1:{port}"
        finally:
            proc.terminate()
            proc.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--broker", default=None, help="host:port; default: a private Mosquitto")
    parser.add_argument("--readings", type=int, default=100_000)
    parser.add_argument("--devices", type=int, default=10)
    parser.add_argument("--only", default="", help="comma-separated run names to include")
    parser.add_argument(
        "--repeat", type=int, default=1, help="run each this many times; report the median"
    )
    args = parser.parse_args()
    if args.broker is None:
        with private_mosquitto() as broker:
            args.broker = broker
            run(args)
    else:
        run(args)


def run(args: argparse.Namespace) -> None:
    host, port_text = args.broker.split(":")
    port = int(port_text)
    per_device = args.readings // args.devices
    only = set(filter(None, args.only.split(",")))
    runs: dict[str, Callable[[], Result]] = {
        "sub": lambda: floor_mosquitto_sub(host, port, args.devices, per_device),
        "paho": lambda: floor_paho(host, port, args.devices, per_device),
        "sqlite": lambda: run_collectors(
            "wattline collect: Mosquitto → SQLite, 1 collector",
            host,
            port,
            args.devices,
            per_device,
            collectors=1,
            database_url=None,
        ),
        "postgres": lambda: _with_pg(
            "wattline collect: Mosquitto → PostgreSQL, 1 collector",
            host,
            port,
            args.devices,
            per_device,
            1,
        ),
        "postgres2": lambda: _with_pg(
            "wattline collect: Mosquitto → PostgreSQL, 2 collectors (shared subscription)",
            host,
            port,
            args.devices,
            per_device,
            2,
        ),
        "embedded": lambda: embedded(args.devices, per_device, "mosquitto"),
        "secure": lambda: embedded(args.devices, per_device, "mosquitto", security=True),
        "amqtt": lambda: embedded(args.devices, per_device, "amqtt"),
    }
    results: dict[str, Result] = {}
    each: dict[str, list[str]] = {}  # readings/s of every try, in the order run
    for key, run in runs.items():
        if only and key not in only:
            continue
        tries = []
        for attempt in range(args.repeat):
            print(f"running {key} ({attempt + 1}/{args.repeat}) ...", file=sys.stderr)
            tries.append(run())
        each[key] = [f"{r.rate:,.0f}" for r in tries]
        tries.sort(key=lambda r: r.rate)
        results[key] = tries[len(tries) // 2]  # the median run by throughput
    floor = results.get("paho") or next(iter(results.values()))
    print(table(list(results.values()), floor))
    if args.repeat > 1:
        print(
            f"\nEach row is the median of {args.repeat} runs by throughput; readings/s of each:\n"
        )
        print("\n".join(f"- {key}: {', '.join(rates)}" for key, rates in each.items()))
    if {"sub", "embedded", "secure"} <= results.keys():
        print(security_table(results["sub"], results["embedded"], results["secure"]))


def security_table(floor: Result, off: Result, on: Result) -> str:
    """Broker authentication and ACLs on against off, both over the mosquitto_sub floor."""
    return "\n".join(
        [
            "",
            "Broker security, the same run, ratios to the mosquitto_sub floor:",
            "",
            "| wattline up, embedded Mosquitto | readings/s | ratio to mosquitto_sub floor |",
            "|---|---:|---:|",
            f"| security off | {off.rate:,.0f} | {off.rate / floor.rate:.2f} |",
            f"| security on | {on.rate:,.0f} | {on.rate / floor.rate:.2f} |",
            "",
            f"Security on / off: {on.rate / off.rate:.2f} (target: at least 0.90).",
        ]
    )


def _with_pg(  # noqa: PLR0913, PLR0917
    name: str, host: str, port: int, devices: int, per_device: int, n: int
) -> Result:
    with postgres_database() as url:
        return run_collectors(name, host, port, devices, per_device, collectors=n, database_url=url)


if __name__ == "__main__":
    main()
