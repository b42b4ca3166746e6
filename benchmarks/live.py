"""Publish → WebSocket delivery latency, embedded bus against the Redis bus.

Each variant runs against a private Mosquitto (``ingest.py``'s configuration,
which drops nothing) with SQLite:

* ``embedded``: ``wattline up`` with the external broker: collector, memory bus
  and API in one process (its commits in a child process, ADR 0025);
* ``redis``: ``wattline collect`` and ``wattline serve`` as two processes over
  the machine's Redis (``WATTLINE_REDIS_URL``), sharing the SQLite file.

First the sustained ingest rate of that very setup is measured (``mosquitto_pub``
publishing ``--readings`` readings as fast as it can, timed until committed).
Then 100 WebSocket clients each subscribe to one of 100 devices, and a paced
publisher (a process of its own) sends readings round-robin over those devices
at half that sustained rate for ``--seconds``; each reading carries its send
time, and each client records when it arrived. Latency is publish → WebSocket
message: broker, batching, commit, bus, hub, socket.

The machine's own floor is measured in the same phase: ``mosquitto_sub``
subscribes to the same stream beside Wattline and stamps each message as it
receives it (``-F %U``), so "publish -> mosquitto_sub" is what the publisher,
the broker and the scheduler of this machine add before Wattline does anything.
On a shared machine of two cores that alone had a p99 anywhere from 1.5 to 45
ms from one run to the next (docs/benchmarks.md), so each p99 is read beside it.

    python benchmarks/live.py --readings 20000 --seconds 10
    python benchmarks/live.py --readings 30000 --seconds 10 --repeat 3   # and medians
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import orjson
from websockets.asyncio.client import connect

from wattline.archive.segment_format import decode_segment

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest import (
    LATER_MS,
    T0_MS,
    free_port,
    private_mosquitto,
    publish_all,
    sqlite_counter,
    wait_connected,
    wait_for,
    wait_healthy,
)
from raw_mqtt import RawPublishers
from raw_ws import open_raw_websocket

SUBSCRIBERS = 100
REDIS_URL = os.environ.get("WATTLINE_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
# The rate phase publishes seq 0..n-1 per device; the latency phase continues above.
LATENCY_SEQ0 = 10_000_000
# The paced publisher sends what is due, then sleeps this long.
_PACING_TICK_S = 0.0005


@dataclass
class Result:
    name: str
    sustained_per_s: float
    offered_per_s: float
    sent: int
    delivered: int
    latencies_ms: list[float]
    # live stream drops during the phase, by reason (wattline_live_messages_dropped_total)
    drops: dict[str, float] = field(default_factory=dict)
    # where the time goes in the collector during the phase (see IngestProfile)
    ingest: IngestProfile | None = None
    # publish -> received by the collector's MQTT receiver, of each reading archived
    received_ms: list[float] = field(default_factory=list)
    # publish -> received by mosquitto_sub beside Wattline: the machine's floor
    floor_ms: list[float] = field(default_factory=list)
    # the phase at a fraction of the sustained rate (not the low fixed rate)
    loaded: bool = False

    def quantile(self, q: float) -> float:
        return _quantile(self.latencies_ms, q)

    def received_quantile(self, q: float) -> float:
        return _quantile(self.received_ms, q)

    def floor_quantile(self, q: float) -> float:
        return _quantile(self.floor_ms, q)


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def received_lags_ms(archive: Path, first_turn: int, sent: int) -> list[float]:
    """Publish -> received by the collector's MQTT receiver, of each reading of a
    phase: the raw archive keeps every message with its own receive stamp beside the
    payload, which carries the send time.

    Until session 23 this came from the stored ``sent_ms`` samples, whose receive
    time is their device's newest in the batch that carried them: under load a batch
    holds several readings of a device, and that put the p99 at 31-40 ms where the
    receiver's own stamps gave 7-10 (docs/benchmarks.md)."""
    low = LATENCY_SEQ0 + first_turn
    high = low + sent // SUBSCRIBERS + 1
    lags: list[float] = []
    for segment in sorted(p for p in archive.rglob("*") if p.is_file()):
        for record in decode_segment(segment.read_bytes()):
            with suppress(ValueError, KeyError, TypeError):
                message = orjson.loads(record.payload)
                if low <= message["seq"] <= high:
                    lags.append(record.received_ms - message["metrics"]["sent_ms"])
    return lags


@contextmanager
def floor_subscriber(host: str, port: int, prefix: str) -> Iterator[list[float]]:
    """``mosquitto_sub`` on the paced stream while the block runs; afterwards the list
    holds publish -> receive of each message it got, in ms (its own clock stamp, ``%U``,
    against the ``sent_ms`` each reading carries). Stopped with SIGTERM, on which it
    disconnects and flushes its output."""
    lags: list[float] = []
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(
            [
                "mosquitto_sub",
                *("-h", host, "-p", str(port), "-q", "1"),
                *("-i", f"{prefix}-floor", "-t", f"{prefix}/+/telemetry", "-F", "%U %p"),
            ],
            stdout=out,
        )
        try:
            time.sleep(0.5)  # subscribed before the first reading is sent
            yield lags
        finally:
            proc.terminate()
            proc.wait(10)
        out.seek(0)
        for line in out:
            stamp, _, payload = line.partition(b" ")
            with suppress(ValueError, KeyError, TypeError):
                sent_ms = orjson.loads(payload)["metrics"]["sent_ms"]
                lags.append(float(stamp) * 1000 - sent_ms)


def paced_publish(  # noqa: PLR0913, PLR0917 - where, what and how fast
    host: str,
    port: int,
    prefix: str,
    devices: int,
    rate_per_s: float,
    seconds: float,
    sent: object,
    first_turn: int,
) -> None:
    """In a process of its own: QoS 1 readings round-robin at ``rate_per_s``.

    Each device publishes on a connection of its own, as bare MQTT packets
    (``raw_mqtt.py``): 100 ``mosquitto_pub -l`` processes fed line by line took
    0.44 of a core at 12,800 readings/s on a machine of two shared with the
    system under test (a paho client before them, more than half a core at
    4,500/s). Readings due are sent together, at most half a millisecond late;
    a reading's ``sent_ms`` is taken just before its packet is written."""
    topics = [f"{prefix}/dev{device}/telemetry" for device in range(devices)]
    publishers = RawPublishers(host, port, topics, "pace")
    interval_s = 1.0 / rate_per_s
    started = time.perf_counter()
    count = 0
    while (now := time.perf_counter()) - started < seconds:
        due = min(int((now - started) / interval_s) + 1, int(seconds * rate_per_s))
        while count < due:
            device, turn = count % devices, first_turn + count // devices
            body = {
                "seq": LATENCY_SEQ0 + turn,
                # after the rate phase's readings, still in the past
                "ts": T0_MS + LATER_MS + turn * 10,
                # epoch ms with a fraction: within ingest's ±1e15 value limit, µs precise
                "metrics": {"power_w": float(turn), "sent_ms": time.time_ns() / 1e6},
            }
            publishers.publish(device, orjson.dumps(body))
            count += 1
        time.sleep(_PACING_TICK_S)
    publishers.close()
    sent.value = count  # type: ignore[attr-defined]


def paced_shape_lines(device_index: int, count: int) -> bytes:
    """A device's readings for the sustained rate, shaped like the paced phase's: the
    same 100 devices and the same two metrics, so that "half the sustained rate" is
    half of what this very stream sustains (a stream of 10 devices with 5 metrics each
    costs less per reading: fewer devices' sequence, latest and rollup rows a batch)."""
    rows = [
        orjson.dumps(
            {
                "seq": seq,
                "ts": T0_MS + seq * 10 + device_index,
                "metrics": {"power_w": float(seq), "sent_ms": 1.7e12 + seq / 7},
            }
        )
        for seq in range(count)
    ]
    return b"\n".join(rows) + b"\n"


@dataclass
class Tally:
    """What the subscribers saw; ``expected`` is set once the publisher has finished."""

    clients: int
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    finished: asyncio.Event = field(default_factory=asyncio.Event)
    opened: int = 0
    expected: int | None = None
    latencies_ms: list[float] = field(default_factory=list)

    def subscribed(self, index: int, text: str | bytes, *, batch: bool) -> None:
        """A client's answer to its subscription: one more client ready."""
        answer = orjson.loads(text)
        answer = answer[0] if batch else answer
        if answer["type"] != "subscribed":
            raise RuntimeError(f"dev{index}: {answer}")
        self.opened += 1
        if self.opened == self.clients:
            self.ready.set()

    def record(self, arrived_ms: float, text: str | bytes, *, batch: bool) -> None:
        """The latency of each reading in a message that arrived at ``arrived_ms``."""
        frame = orjson.loads(text)
        for message in frame if batch else [frame]:
            sent_ms = message.get("metrics", {}).get("sent_ms")
            if sent_ms is not None:
                self.latencies_ms.append(arrived_ms - sent_ms)
        if self.expected is not None and len(self.latencies_ms) >= self.expected:
            self.finished.set()


def subscription(index: int) -> str:
    return orjson.dumps(
        {"type": "subscribe", "devices": [f"dev{index}"], "kinds": ["reading"]}
    ).decode()


async def subscriber(api_port: int, token: str, index: int, tally: Tally, *, batch: bool) -> None:
    """One client: records each reading's latency as it arrives, until cancelled.

    A plain ``recv`` loop, cancelled once everything came: a ``wait_for`` around
    each ``recv`` (a task and a timer per message) took this process's event loop
    longer than the messages themselves, and a reading waiting for the client's
    own loop counts as latency."""
    url = f"ws://127.0.0.1:{api_port}/api/v1/ws" + ("?batch=true" if batch else "")
    async with connect(url, additional_headers={"Authorization": f"Bearer {token}"}) as ws:
        await ws.send(subscription(index))
        tally.subscribed(index, await ws.recv(), batch=batch)
        while True:
            text = await ws.recv()
            tally.record(time.time_ns() / 1e6, text, batch=batch)


async def raw_subscriber(
    api_port: int, token: str, index: int, tally: Tally, *, batch: bool
) -> None:
    """``subscriber`` as a bare protocol (``raw_ws.py``): each receive stamped once, as
    it arrives, not after a reader task, a queue and a future of the client library."""
    path = "/api/v1/ws" + ("?batch=true" if batch else "")
    ws = await open_raw_websocket("127.0.0.1", api_port, path, {"Authorization": f"Bearer {token}"})
    answered: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    def on_text(arrived_ms: float, payload: bytes) -> None:
        if answered.done():
            tally.record(arrived_ms, payload, batch=batch)
        else:
            answered.set_result(payload)

    ws.on_text = on_text
    try:
        ws.send_text(subscription(index))
        tally.subscribed(index, await answered, batch=batch)
        await ws.closed  # until cancelled
    finally:
        ws.close()


def measure_latency(  # noqa: PLR0913, PLR0917
    host: str,
    port: int,
    prefix: str,
    api_port: int,
    token: str,
    rate_per_s: float,
    seconds: float,
    first_turn: int,
    *,
    batch: bool,
    clients: str = "raw",
) -> tuple[int, list[float], list[float]]:
    """Readings sent, the latency of each one delivered, and publish -> mosquitto_sub
    beside Wattline (``floor_subscriber``) of each one sent; ``clients``: ``raw``
    (``raw_subscriber``) or ``library`` (``subscriber``, the ``websockets`` client)."""
    subscribe = raw_subscriber if clients == "raw" else subscriber
    context = multiprocessing.get_context("fork")
    sent = context.Value("q", 0)

    async def run() -> list[float]:
        tally = Tally(SUBSCRIBERS)
        client_tasks = [
            asyncio.create_task(subscribe(api_port, token, i, tally, batch=batch))
            for i in range(SUBSCRIBERS)
        ]
        await asyncio.wait_for(tally.ready.wait(), 120)
        publisher = context.Process(
            target=paced_publish,
            args=(host, port, prefix, SUBSCRIBERS, rate_per_s, seconds, sent, first_turn),
        )
        publisher.start()
        await asyncio.to_thread(publisher.join)
        tally.expected = int(sent.value)
        if len(tally.latencies_ms) >= tally.expected:
            tally.finished.set()
        # what is still on its way may come while it keeps coming
        delivered = -1
        while not tally.finished.is_set() and len(tally.latencies_ms) > delivered:
            delivered = len(tally.latencies_ms)
            with suppress(TimeoutError):
                await asyncio.wait_for(tally.finished.wait(), 5)
        tally.finished.set()
        for client in client_tasks:
            client.cancel()
        await asyncio.gather(*client_tasks, return_exceptions=True)
        return tally.latencies_ms

    with floor_subscriber(host, port, prefix) as floor:
        latencies = asyncio.run(run())
    return int(sent.value), latencies, floor


_PLANNED = 'wattline_ingest_oldest_wait_seconds_{}{{stage="planned"}}'
_COMMITTED = 'wattline_ingest_oldest_wait_seconds_{}{{stage="committed"}}'
INGEST_SERIES = (
    "wattline_ingest_commit_seconds_sum",
    "wattline_ingest_commit_seconds_count",
    "wattline_ingest_batch_messages_sum",
    "wattline_ingest_store_seconds_sum",
    "wattline_ingest_fold_seconds_sum",
    "wattline_ingest_fold_seconds_count",
    _PLANNED.format("sum"),
    _PLANNED.format("count"),
    _COMMITTED.format("sum"),
    _COMMITTED.format("count"),
)


# One connection for every scrape: a client per request costs the benchmark's own
# process an SSL context each time (py-spy: more CPU than its WebSocket clients).
_SCRAPER = httpx.Client(timeout=10)


def scrape(port: int, names: tuple[str, ...]) -> dict[str, float]:
    """The named unlabelled series of one process's /metrics."""
    found: dict[str, float] = {}
    for line in _SCRAPER.get(f"http://127.0.0.1:{port}/metrics").text.splitlines():
        name, _, value = line.partition(" ")
        if name in names:
            found[name] = float(value)
    return found


@dataclass
class IngestProfile:
    """The collector's part of the latency during one phase: how many batches it
    committed, how large, how long each commit took, and the most messages it held
    uncommitted (sampled every 100 ms): a backlog is time spent before the commit."""

    batches: float
    messages_per_batch: float
    commit_ms: float
    max_backlog: float
    # of commit_ms, inside the store's transaction (in the commit process, if any)
    store_ms: float
    # folds of staged readings (ADR 0033) and their mean time in the store
    folds: float = 0.0
    fold_ms: float = 0.0
    # mean age of each batch's oldest message when planned and when committed
    oldest_planned_ms: float = 0.0
    oldest_committed_ms: float = 0.0

    def line(self) -> str:
        return (
            f"{self.batches:,.0f} batches of {self.messages_per_batch:.1f} messages, "
            f"{self.commit_ms:.1f} ms each to commit ({self.store_ms:.1f} in the store's "
            f"transaction); {self.folds:,.0f} folds of {self.fold_ms:.1f} ms; each batch's "
            f"oldest message {self.oldest_planned_ms:.1f} ms old when planned and "
            f"{self.oldest_committed_ms:.1f} when committed (means); at most "
            f"{self.max_backlog:,.0f} messages waiting for their commit"
        )


@contextmanager
def profiling_ingest(port: int) -> Iterator[list[IngestProfile]]:
    """Yields a list that holds the phase's IngestProfile once the block ends."""
    before = scrape(port, INGEST_SERIES)
    backlog = [0.0]
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.1):
            with suppress(httpx.HTTPError):
                queued = scrape(port, ("wattline_ingest_queued_messages",))
                backlog[0] = max(backlog[0], queued.get("wattline_ingest_queued_messages", 0.0))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out: list[IngestProfile] = []
    try:
        yield out
    finally:
        stop.set()
        sampler.join()
    after = scrape(port, INGEST_SERIES)
    delta = {k: after.get(k, 0.0) - before.get(k, 0.0) for k in INGEST_SERIES}
    batches = delta["wattline_ingest_commit_seconds_count"]
    folds = delta["wattline_ingest_fold_seconds_count"]

    def mean_ms(series: str) -> float:
        count = delta[series.format("count")]
        return 1000 * delta[series.format("sum")] / count if count else 0.0

    out.append(
        IngestProfile(
            batches,
            delta["wattline_ingest_batch_messages_sum"] / batches if batches else 0.0,
            1000 * delta["wattline_ingest_commit_seconds_sum"] / batches if batches else 0.0,
            backlog[0],
            1000 * delta["wattline_ingest_store_seconds_sum"] / batches if batches else 0.0,
            folds,
            mean_ms("wattline_ingest_fold_seconds_{}"),
            mean_ms(_PLANNED),
            mean_ms(_COMMITTED),
        )
    )


def live_drops(ports: list[int]) -> dict[str, float]:
    """``wattline_live_messages_dropped_total`` by reason, summed over the processes."""
    drops: dict[str, float] = {}
    for port in ports:
        for line in httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text.splitlines():
            if line.startswith("wattline_live_messages_dropped_total{"):
                reason = line.split('reason="', 1)[1].split('"', 1)[0]
                drops[reason] = drops.get(reason, 0.0) + float(line.rsplit(" ", 1)[1])
    return drops


@contextmanager
def wattline(
    kind: str, mqtt_url: str, prefix: str, token: str, extra_env: dict[str, str]
) -> Iterator[tuple[list[int], Path]]:
    """The processes of one variant; yields their metrics ports (the API's first) and the
    SQLite file."""
    with tempfile.TemporaryDirectory() as data_dir:
        api_port = free_port()
        metrics_ports = [api_port]
        env = {
            **os.environ,
            "WATTLINE_TOPIC_PREFIX": prefix,
            "WATTLINE_AUTO_REGISTER": "true",
            "WATTLINE_DATA_DIR": data_dir,
            "WATTLINE_MQTT_URL": mqtt_url,
            "WATTLINE_MQTT_PROTOCOL": "5",
            "WATTLINE_LOG_LEVEL": "WARNING",
            "WATTLINE_ADMIN_TOKEN": token,
            "WATTLINE_HTTP_PORT": str(api_port),
            **extra_env,
        }
        python = [sys.executable, "-m", "wattline"]
        procs: list[subprocess.Popen[bytes]] = []
        try:
            if kind == "embedded":
                procs.append(subprocess.Popen([*python, "up"], env=env))
            else:
                env["WATTLINE_REDIS_URL"] = REDIS_URL
                env["WATTLINE_LIVE_REDIS_CHANNEL"] = f"wattline:bench:{prefix}"
                collect = [*python, "collect", "--client-id", f"{prefix}-c"]
                metrics_ports.append(free_port())
                collect_env = {**env, "WATTLINE_METRICS_PORT": str(metrics_ports[-1])}
                procs.append(subprocess.Popen(collect, env=collect_env))
                # the collector creates the database before the API opens it: wait until
                # it holds its broker session, which it opens after its migrations
                wait_connected(metrics_ports[-1], 180)
                procs.append(subprocess.Popen([*python, "serve"], env=env))
            wait_healthy(api_port, 120)
            time.sleep(3)  # the collector subscribed
            yield metrics_ports, Path(data_dir) / "wattline.db"
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                proc.wait(30)


def register(api_port: int, token: str, devices: int) -> None:
    """Devices a client subscribes to by id must exist: dev0.. are made here if new."""
    headers = {"Authorization": f"Bearer {token}"}
    for index in range(devices):
        response = httpx.post(
            f"http://127.0.0.1:{api_port}/api/v1/devices",
            json={"device_id": f"dev{index}"},
            headers=headers,
            timeout=10,
        )
        if response.status_code not in {200, 201}:
            response.raise_for_status()


def variant(  # noqa: PLR0913 - what to run and how
    kind: str,
    broker: str,
    readings: int,
    seconds: float,
    low_rate: float,
    *,
    batch: bool,
    compression: bool,
    fraction: float = 0.5,
    rate: float | None = None,
    clients: str = "raw",
) -> list[Result]:
    host, port = broker.split(":")
    prefix = f"bench{uuid.uuid4().hex[:8]}"
    token = secrets.token_hex(32)
    name = {
        "embedded": "embedded bus (`wattline up`, commits in its child)",
        "redis": "Redis bus (`wattline collect` + `wattline serve`)",
    }[kind]
    name += ", arrays per frame" if batch else ", a frame per message"
    name += ", compressed" if compression else ""
    results = []
    extra_env = {"WATTLINE_WS_COMPRESSION": "true" if compression else "false"}
    with (
        wattline(kind, f"mqtt://{broker}", prefix, token, extra_env) as (ports, db),
        closing(sqlite_counter(db, metrics_per_reading=2)) as count,
    ):
        api_port = ports[0]
        per_device = readings // SUBSCRIBERS
        started = publish_all(
            host, int(port), prefix, SUBSCRIBERS, per_device, payload=paced_shape_lines
        )
        done = wait_for(count, per_device * SUBSCRIBERS, 900)
        sustained = per_device * SUBSCRIBERS / (done - started)
        register(api_port, token, SUBSCRIBERS)
        # half the sustained rate, then a low fixed rate (turns apart: no reading repeats)
        first_rate = sustained * fraction if rate is None else rate
        expected = per_device * SUBSCRIBERS
        for phase_rate, first_turn in ((first_rate, 0), (low_rate, 100_000)):
            before = live_drops(ports)
            with profiling_ingest(ports[-1]) as profile:  # the collector's process
                sent, latencies, floor = measure_latency(
                    host,
                    int(port),
                    prefix,
                    api_port,
                    token,
                    phase_rate,
                    seconds,
                    first_turn,
                    batch=batch,
                    clients=clients,
                )
            after = live_drops(ports)
            drops = {k: v - before.get(k, 0.0) for k, v in after.items() if v > before.get(k, 0.0)}
            # what is still staged is folded at the collector's next lull
            expected += sent
            wait_for(count, expected, 30)
            results.append(
                Result(
                    name,
                    sustained,
                    sent / seconds,
                    sent,
                    len(latencies),
                    latencies,
                    drops,
                    profile[0],
                    received_lags_ms(db.parent / "archive", first_turn, sent),
                    floor,
                    loaded=first_turn == 0,
                )
            )
    return results


def table(results: list[Result]) -> str:
    lines = [
        (
            "| bus | sustained ingest (readings/s) | offered (readings/s) | readings sent "
            "| delivered over WebSocket | p50 ms | p99 ms "
            "| of which publish -> collector p50 / p99 ms "
            "| the machine's floor: publish -> mosquitto_sub p50 / p99 ms | live drops |"
        ),
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    lines.extend(
        f"| {r.name} | {r.sustained_per_s:,.0f} | {r.offered_per_s:,.0f} | {r.sent:,} "
        f"| {r.delivered:,} | {r.quantile(0.5):.1f} | {r.quantile(0.99):.1f} "
        f"| {r.received_quantile(0.5):.1f} / {r.received_quantile(0.99):.1f} "
        f"| {r.floor_quantile(0.5):.1f} / {r.floor_quantile(0.99):.1f} "
        f"| {', '.join(f'{k} {v:.0f}' for k, v in sorted(r.drops.items())) or 'none'} |"
        for r in results
    )
    lines += ["", "Where the collector's time went in each phase:", ""]
    lines.extend(
        f"- {r.name}, {r.offered_per_s:,.0f} readings/s: {r.ingest.line()}"
        for r in results
        if r.ingest is not None
    )
    return "\n".join(lines)


def medians(results: list[Result]) -> str:
    """Each variant's loaded phase over its runs: a single run's p99 on a shared machine
    of two cores moved by up to 3 times between runs of the same code."""
    lines = [
        (
            "| bus | runs | p50 ms, median | p99 ms, median | p99 ms, each run "
            "| floor p99 ms, median |"
        ),
        "|---|---:|---:|---:|---|---:|",
    ]
    names = list(dict.fromkeys(r.name for r in results if r.loaded))
    for name in names:
        runs = [r for r in results if r.loaded and r.name == name]
        p99s = [r.quantile(0.99) for r in runs]
        lines.append(
            f"| {name} | {len(runs)} | {statistics.median(r.quantile(0.5) for r in runs):.1f} "
            f"| {statistics.median(p99s):.1f} | {' / '.join(f'{v:.1f}' for v in p99s)} "
            f"| {statistics.median(r.floor_quantile(0.99) for r in runs):.1f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--broker", default=None, help="host:port; default: a private Mosquitto")
    parser.add_argument("--readings", type=int, default=50_000, help="for the sustained rate")
    parser.add_argument("--seconds", type=float, default=20.0, help="of paced publishing")
    parser.add_argument("--only", default="embedded,redis")
    parser.add_argument(
        "--framing",
        default="single,batch",
        help="single: a WebSocket frame per message; batch: ?batch=true, arrays per frame",
    )
    parser.add_argument(
        "--compression",
        choices=("on", "off"),
        default="off",
        help="permessage-deflate (WATTLINE_WS_COMPRESSION); off, as by default",
    )
    parser.add_argument(
        "--fraction", type=float, default=0.5, help="of the sustained rate, for the first phase"
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=None,
        help="readings/s of the first phase instead of --fraction of the sustained rate"
        " (to compare two variants at one load)",
    )
    parser.add_argument(
        "--low-rate", type=float, default=50.0, help="readings/s of the second, unloaded phase"
    )
    parser.add_argument(
        "--clients",
        choices=("raw", "library"),
        default="raw",
        help="the WebSocket clients: bare protocols (raw_ws.py) or the websockets library's",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="runs of every variant, interleaved; with more than one, medians are printed too",
    )
    args = parser.parse_args()
    kinds = [k for k in ("embedded", "redis") if k in args.only.split(",")]

    def run(broker: str) -> None:
        results = [
            result
            for _ in range(args.repeat)
            for kind in kinds
            for framing in args.framing.split(",")
            for result in variant(
                kind,
                broker,
                args.readings,
                args.seconds,
                args.low_rate,
                batch=framing == "batch",
                compression=args.compression == "on",
                fraction=args.fraction,
                rate=args.rate,
                clients=args.clients,
            )
        ]
        print(
            f"{SUBSCRIBERS} WebSocket clients, one device each; readings round-robin over"
            f" {SUBSCRIBERS} devices for {args.seconds:.0f} s at half the sustained rate, then"
            f" at {args.low_rate:.0f} readings/s.\n"
        )
        print(table(results))
        if args.repeat > 1:
            print(f"\nAt the loaded rate, over {args.repeat} interleaved runs:\n")
            print(medians(results))

    if args.broker is None:
        with private_mosquitto() as broker:
            run(broker)
    else:
        run(args.broker)


if __name__ == "__main__":
    main()
