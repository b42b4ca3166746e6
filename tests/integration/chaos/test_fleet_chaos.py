"""The fleet under load with WebSocket subscribers: 20,000 readings, one collector
and one API process SIGKILLed mid-stream.

The topology of test_fleet.py (one Mosquitto, two `wattline collect` sharing the
stream through an MQTT 5 shared group, two `wattline serve`, PostgreSQL, Redis,
an S3 archive on moto), plus four WebSocket subscribers, two on each API
process: one to every device and one to a subset of them on each. Then:

- exactly the N published readings are stored (none lost, none twice);
- every subscriber ends up with every reading of its subscription. The ones on
  the killed API process reconnect to the surviving one and resume with
  ``since`` per device (the timestamp of each device's last reading with no
  gap before it). A subscriber whose stream stalls with a gap asks again the
  same way: a collector SIGKILLed after a commit but before its bus publish
  took that batch off the live stream, never out of the store.

What the live stream guarantees (docs/live.md): within one connection a reading
is streamed live at most once; across reconnects and catch-ups, at least once
with its (device, seq), so a client de-duplicates what a catch-up sends again.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from tests.integration.archive.conftest import S3Server
from tests.integration.chaos.conftest import LedgerFor
from tests.integration.chaos.fleet_topology import FAKE_AWS, TOKEN, fleet_processes
from tests.integration.chaos.harness import (
    CollectorProcess,
    Ledger,
    assert_exactly_stored,
    tail,
    wait_collector_ready,
    wait_until,
)
from tests.integration.chaos.publisher import (
    METRICS,
    T0_MS,
    ChaosPublisher,
    reading_messages,
)
from tests.integration.chaos.servers import MosquittoServer
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.sync.client import ClientConnection, connect

DEVICES = [f"c{i:02d}" for i in range(40)]
PER_DEVICE = 500  # 20,000 readings, 60,000 sample rows
RATE_PER_S = 1000  # readings per second offered by the fleet
# A subscriber that got nothing new for this long while readings of its
# subscription are still missing resumes with `since` on the same connection.
STALL_S = 3.0


def ts_of(seq: int) -> int:
    """The publisher's timestamp for a reading's seq (publisher.reading)."""
    return T0_MS + seq * 1000


@dataclass
class Subscriber:
    """A WebSocket client on its own thread that reconnects, resumes and de-duplicates."""

    name: str
    urls: list[str]  # its API process first, then the others to fail over to
    devices: list[str] | None  # None: every device the token may see
    metrics: list[str] = field(default_factory=list)
    seen: Counter[tuple[str, int]] = field(default_factory=Counter)
    connections: int = 0
    resumes: int = 0  # subscribe messages with `since` after a reconnect
    stall_resumes: int = 0  # ... on the same connection, after a stall with a gap
    caught_up_readings: int = 0  # readings the catch-ups sent
    truncated: int = 0
    duplicates: int = 0  # readings seen before (de-duplicated here)
    # a live reading sent again on one connection (a catch-up may repeat what it asked for)
    same_connection_duplicates: int = 0
    # a live reading a catch-up on the same connection sent before (a broker redelivery
    # after the collector's death, streamed live once it was committed again)
    live_after_catch_up: int = 0
    foreign: int = 0  # a reading of a device outside the subscription
    closes: Counter[int] = field(default_factory=Counter)  # close codes the server sent
    closed_at: list[tuple[int, float]] = field(default_factory=list)  # (code, monotonic s)
    kill_at: float = 0.0  # when the test killed a collector and an API process
    errors: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.wanted = set(self.devices or DEVICES)
        self.expected = {(d, s) for d in self.wanted for s in range(PER_DEVICE)}
        self._contiguous = dict.fromkeys(self.wanted, -1)  # highest seq with none missing below
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._progress_at = time.monotonic()
        self._thread = threading.Thread(target=self._run, name=f"ws-{self.name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(15)

    def complete(self) -> bool:
        with self._lock:
            return all(self._contiguous[d] == PER_DEVICE - 1 for d in self.wanted)

    def missing(self) -> list[tuple[str, int]]:
        with self._lock:
            return sorted(self.expected - set(self.seen))

    def resume_since(self) -> dict[str, int]:
        """Per device still missing some: its last reading's timestamp with no hole before."""
        with self._lock:
            return {d: ts_of(upto) for d, upto in self._contiguous.items() if upto < PER_DEVICE - 1}

    def _subscribe(
        self, ws: ClientConnection, *, since: dict[str, int] | None, stalled: bool = False
    ) -> None:
        message: dict[str, object] = {"type": "subscribe", "id": "s", "kinds": ["reading"]}
        if self.devices:
            message["devices"] = self.devices
        if self.metrics:
            message["metrics"] = self.metrics
        if since:
            message["since"] = since
            self._catch_ups += 1
            if stalled:
                self.stall_resumes += 1
            else:
                self.resumes += 1
        ws.send(json.dumps(message))

    def _run(self) -> None:
        index = 0
        while not self._stop.is_set():
            url = self.urls[index % len(self.urls)]
            try:
                with connect(
                    url, additional_headers={"Authorization": f"Bearer {TOKEN}"}, open_timeout=5
                ) as ws:
                    self.connections += 1
                    self._stream(ws)
            except ConnectionClosed as closed:
                code = closed.rcvd.code if closed.rcvd else 1006
                self.closes[code] += 1
                self.closed_at.append((code, time.monotonic()))
                time.sleep(0.2)  # cut off as a slow consumer, or its API process is gone
            except (InvalidHandshake, InvalidStatus, OSError, TimeoutError):
                index += 1  # this API process is gone: the next one
                time.sleep(0.2)

    def _stream(self, ws: ClientConnection) -> None:
        this_connection: dict[tuple[str, int], bool] = {}  # key -> came live
        self._catch_ups = 0  # asked for, `caught_up` not yet seen
        self._subscribe(ws, since=None if self.connections == 1 else self.resume_since())
        self._progress_at = time.monotonic()
        while not self._stop.is_set():
            try:
                text = ws.recv(timeout=0.5)
            except TimeoutError:
                stalled = time.monotonic() - self._progress_at > STALL_S
                if stalled and not self._catch_ups and not self.complete():
                    self._progress_at = time.monotonic()
                    self._subscribe(ws, since=self.resume_since(), stalled=True)
                continue
            message = json.loads(text)
            kind = message["type"]
            if kind == "caught_up":
                self._catch_ups -= 1
                self.caught_up_readings += message["readings"]
                self.truncated += bool(message["truncated"])
            elif kind == "error":
                self.errors.append(message["detail"])
            elif kind == "reading":
                self._reading(message, this_connection)

    def _reading(
        self, message: dict[str, object], this_connection: dict[tuple[str, int], bool]
    ) -> None:
        device, seq = str(message["device_id"]), int(message["seq"])  # type: ignore[call-overload]
        key = (device, seq)
        if device not in self.wanted:
            self.foreign += 1
            return
        if self.metrics and set(message["metrics"]) != set(self.metrics):  # type: ignore[call-overload]
            self.errors.append(f"metrics not narrowed: {message['metrics']}")
        live = not self._catch_ups
        if live and key in this_connection:
            if this_connection[key]:
                self.same_connection_duplicates += 1
            else:
                self.live_after_catch_up += 1
        this_connection[key] = this_connection.get(key, False) or live
        with self._lock:
            if key in self.seen:
                self.duplicates += 1
            else:
                self._progress_at = time.monotonic()
            self.seen[key] += 1
            upto = self._contiguous[device]
            while (device, upto + 1) in self.seen:
                upto += 1
            self._contiguous[device] = upto

    def summary(self) -> str:
        return (
            f"{self.name}: {len(set(self.seen))}/{len(self.expected)} readings, "
            f"{self.connections} connections, {self.resumes} resumes, "
            f"{self.stall_resumes} after a stall, "
            f"{self.caught_up_readings} caught up, {self.duplicates} duplicates, "
            f"{self.same_connection_duplicates} live twice on one connection, "
            f"{self.live_after_catch_up} live after a catch-up sent it, "
            f"{self.truncated} truncated, closes {dict(self.closes)} "
            f"at {[f'{code}@{at - self.kill_at:+.1f}s' for code, at in self.closed_at]} of the kill"
        )


@pytest.mark.integration
def test_fleet_under_load_loses_nothing_and_every_subscriber_catches_up(  # noqa: PLR0917
    chaos_broker: MosquittoServer,
    shared_database: str,
    ledger_for: LedgerFor,
    topic_prefix: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in FAKE_AWS.items():
        monkeypatch.setenv(name, value)
    s3_server = S3Server()
    s3_server.start()
    try:
        run_chaos_fleet(
            chaos_broker, shared_database, ledger_for, topic_prefix, s3_server, tmp_path
        )
    finally:
        s3_server.stop()


def run_chaos_fleet(  # noqa: PLR0917, PLR0915 - the servers, then where to keep logs
    chaos_broker: MosquittoServer,
    shared_database: str,
    ledger_for: LedgerFor,
    topic_prefix: str,
    s3_server: S3Server,
    tmp_path: Path,
) -> None:
    started = time.monotonic()
    fleet = fleet_processes(
        chaos_broker,
        shared_database,
        topic_prefix,
        s3_server,
        tmp_path,
    )
    collectors, apis, api_ports = fleet.collectors, fleet.apis, fleet.api_ports
    ledger = ledger_for(shared_database)
    processes = fleet.processes
    subscribers: list[Subscriber] = []

    def diagnostics() -> str:
        logs = "\n".join(f"{p.log_path.name}:\n{tail(p.log())}" for p in processes)
        return "\n".join([*(s.summary() for s in subscribers), logs])

    for each in processes:
        each.start()
    try:
        wait_ready(collectors, apis, api_ports, ledger)
        register(DEVICES, api_ports[0])
        ws = [f"ws://127.0.0.1:{port}/api/v1/ws" for port in api_ports]
        subscribers = [
            Subscriber("api1-all", ws, None),
            Subscriber("api1-subset", ws, DEVICES[:10]),
            Subscriber("api2-all", ws[::-1], None),
            Subscriber("api2-subset", ws[::-1], DEVICES[5:25], metrics=["power_w"]),
        ]
        for subscriber in subscribers:
            subscriber.start()
        assert wait_until(lambda: all(s.connections for s in subscribers), 30), diagnostics()
        time.sleep(0.5)  # their subscribe messages are in before the first reading

        messages = reading_messages(topic_prefix, DEVICES, PER_DEVICE)
        load_started = time.monotonic()
        publisher = ChaosPublisher("127.0.0.1", chaos_broker.port, messages, rate_per_s=RATE_PER_S)
        publisher.start()
        try:
            half = len(messages) * len(METRICS) // 2
            assert wait_until(lambda: ledger.sample_rows() >= half, 90), diagnostics()
            for subscriber in subscribers:
                subscriber.kill_at = time.monotonic()
            collectors[0].kill()
            apis[0].kill()
            collectors[0].start()
            assert publisher.wait_all_acked(120), f"{len(publisher.unacked())} never acknowledged"
        finally:
            publisher.close()
        assert_exactly_stored(ledger, messages, diagnostics)
        stored_at = time.monotonic()
        everyone = wait_until(lambda: all(s.complete() for s in subscribers), 60)
        caught_up_at = time.monotonic()
        time.sleep(0.5)  # a duplicate on its way would arrive by now
    finally:
        for subscriber in subscribers:
            subscriber.stop()
        stopping = time.monotonic()
        exits = [each.stop() for each in processes]
        stopped_in = time.monotonic() - stopping
    report = "\n".join(s.summary() for s in subscribers)
    print(  # the figures for docs and reports (pytest -s)
        f"\nfleet chaos: {len(messages)} readings; load {stored_at - load_started:.1f} s, "
        f"subscribers complete {caught_up_at - stored_at:.1f} s after, "
        f"test body {caught_up_at - started:.1f} s; the processes stopped in {stopped_in:.1f} s "
        f"(exit codes {exits})\n{report}"
    )
    assert everyone, (
        "\n".join(f"{s.name} misses {len(s.missing())}: {s.missing()[:10]}" for s in subscribers)
        + f"\n{diagnostics()}"
    )
    for subscriber in subscribers:
        assert set(subscriber.seen) == subscriber.expected, subscriber.summary()
        assert subscriber.same_connection_duplicates == 0, subscriber.summary()
        assert subscriber.foreign == 0, subscriber.summary()
        assert subscriber.errors == [], subscriber.errors[:5]
    # the killed API process's subscribers moved to the surviving one and resumed
    for subscriber in subscribers[:2]:
        assert subscriber.connections >= 2, subscriber.summary()
        assert subscriber.resumes >= 1, subscriber.summary()


def wait_ready(
    collectors: list[CollectorProcess],
    apis: list[CollectorProcess],
    api_ports: list[int],
    ledger: Ledger,
) -> None:
    """Generous: four Python processes starting at once on a busy machine."""
    for collector in collectors:
        wait_collector_ready(collector, ledger, timeout_s=120)

    def answers(port: int) -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    for port, api in zip(api_ports, apis, strict=True):
        assert wait_until(lambda port=port: answers(port), 120), tail(api.log())


def register(devices: list[str], port: int) -> None:
    """Registered before the stream: a subscription may name them."""
    for device in devices:
        created = httpx.post(
            f"http://127.0.0.1:{port}/api/v1/devices",
            json={"device_id": device},
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=10,
        )
        assert created.status_code == 201, created.text
