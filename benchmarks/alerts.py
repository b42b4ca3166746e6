"""Alert rules: evaluation cost per reading, ingest with and without rules, and the
latency from a triggering publish to the webhook request.

    python benchmarks/alerts.py                     # all three parts
    python benchmarks/alerts.py --only cost,ingest  # in-process parts only

- cost: the evaluator's ``handle`` over batches of 100 readings (100 devices,
  SQLite), with 100 and 1,000 threshold rules, tenant-wide (every rule reads
  every reading: the worst case) and device-scoped (each device has its share);
- ingest: readings/s committed to SQLite in batches of 100 with the evaluator
  thread running 100 tenant-wide rules beside it, against none (the GIL and the
  state writes are what it costs), alternating runs, medians;
- latency: `wattline up` against the machine's Mosquitto; a device publishes a
  reading below the rule's limit and the time until a local webhook receiver gets
  the signed request is taken, once per device.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import insert

from wattline.alerts.evaluator import Evaluator, EvaluatorTiming
from wattline.model.alerts import ScopeKind, Severity
from wattline.model.events import Committed
from wattline.model.messages import Hello, Reading
from wattline.storage import alert_schema
from wattline.storage.base import CommitBatch
from wattline.storage.sql import SqlStore
from wattline.storage.sqlite import open_sqlite_store

T0 = 1_764_057_600_000
DEVICES = 100
BATCH = 100


def setup_store(path: Path, rules: int, *, scoped: bool, kind: str = "threshold") -> SqlStore:
    store = open_sqlite_store(path)
    ids = [f"m{i}" for i in range(DEVICES)]
    store.commit(
        CommitBatch(
            readings=[],
            hellos=[Hello(d, "ac_meter", "1", ()) for d in ids],
            seen_ms=dict.fromkeys(ids, T0),
            register=ids,
        )
    )
    rows = [
        {
            "rule_id": f"r{i}",
            "tenant_id": "default",
            "name": f"rule {i}",
            "kind": kind,
            "severity": Severity.WARNING.value,
            "scope": (ScopeKind.DEVICE if scoped else ScopeKind.TENANT).value,
            "scope_value": ids[i % DEVICES] if scoped else None,
            "metric": "voltage_v",
            # limits spread so that none is breached: the steady state
            "params": orjson.dumps(
                {"op": "below", "limit": 100.0 + i % 50, "hysteresis": 2.0}
                if kind == "threshold"
                else {"max_per_min": 1e6}
            ).decode(),
            "enabled": True,
            "version": 1,
            "created_ms": T0,
            "updated_ms": T0,
        }
        for i in range(rules)
    ]
    if rows:  # one transaction: a thousand fsyncs would only time the disk
        with store.engine.begin() as conn:
            conn.execute(insert(alert_schema.alert_rules), rows)
    return store


def batches(readings: int) -> list[Committed]:
    out = []
    for start in range(0, readings, BATCH):
        rows = [
            Reading(f"m{n % DEVICES}", T0 + n * 1000, {"voltage_v": 230.0 + n % 7, "power_w": 1.0})
            for n in range(start, start + BATCH)
        ]
        out.append(Committed(readings=rows, seen_ms={r.device_id: r.ts_ms for r in rows}))
    return out


def cost(readings: int) -> str:
    lines = [
        "| rules | scope | rules applying to a reading | µs per reading | readings/s (evaluator) |",
        "|---:|---|---:|---:|---:|",
    ]
    cases = [(100, False, "threshold"), (100, True, "threshold"), (1000, False, "threshold")]
    cases += [(1000, True, "threshold"), (100, False, "rate")]
    for rules, scoped, kind in cases:
        with tempfile.TemporaryDirectory() as tmp:
            store = setup_store(Path(tmp) / "w.db", rules, scoped=scoped, kind=kind)
            evaluator = Evaluator(store.alerts, clock_ms=lambda: T0)
            evaluator.run_once()  # lead, load rules
            events = batches(readings)
            evaluator.handle(events[0])  # warm: device scopes, rule lists
            started = time.perf_counter()
            for event in events[1:]:
                evaluator.handle(event)
            elapsed = time.perf_counter() - started
            evaluator.stop()
            store.close()
        per_reading_us = elapsed / (readings - BATCH) * 1e6
        applying = rules if not scoped else rules // DEVICES
        scope = "device" if scoped else "tenant"
        lines.append(
            f"| {rules:,} {kind} | {scope} | {applying:,} | {per_reading_us:,.1f} | "
            f"{1e6 / per_reading_us:,.0f} |"
        )
    return "\n".join(lines)


def commit_rate(readings: int, rules: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        store = setup_store(Path(tmp) / "w.db", rules, scoped=False)
        evaluator = Evaluator(store.alerts, timing=EvaluatorTiming(tick_s=1.0))
        listener = evaluator.on_committed if rules else None
        if rules:
            evaluator.start()
        events = batches(readings)
        started = time.perf_counter()
        for event in events:
            store.commit(
                CommitBatch(readings=list(event.readings), seen_ms=dict(event.seen_ms or {}))
            )
            if listener is not None:
                listener(event)
        elapsed = time.perf_counter() - started
        behind = evaluator._queue.qsize()  # noqa: SLF001 - how far it lagged
        evaluator.stop()
        store.close()
    if behind:
        print(f"  (evaluator {behind} batches behind at the end)", file=sys.stderr)
    return readings / elapsed


def ingest(readings: int, repeat: int) -> str:
    rates: dict[int, list[float]] = {0: [], 100: []}
    for _ in range(repeat):
        for rules in (0, 100):
            rates[rules].append(commit_rate(readings, rules))
    off, on = statistics.median(rates[0]), statistics.median(rates[100])
    return "\n".join(
        [
            "| evaluator | readings/s committed (median) | each run |",
            "|---|---:|---|",
            f"| off | {off:,.0f} | {', '.join(f'{r:,.0f}' for r in rates[0])} |",
            f"| 100 tenant-wide rules | {on:,.0f} | {', '.join(f'{r:,.0f}' for r in rates[100])} |",
            "",
            (
                f"Change with 100 rules: {100 * (on - off) / off:+.1f} % "
                f"({readings:,} readings, {repeat} alternating runs each)."
            ),
        ]
    )


def latency(broker: str, count: int) -> str:
    host, port = broker.split(":")
    arrived: dict[str, float] = {}
    done = threading.Condition()

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = orjson.loads(self.rfile.read(int(self.headers["content-length"])))
            with done:
                for change in body["alerts"]:
                    if change["change"] == "raised":
                        arrived.setdefault(change["device_id"], time.perf_counter())
                done.notify_all()
            self.send_response(200)
            self.end_headers()

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    prefix = f"bench{uuid.uuid4().hex[:8]}"
    token = "bench-" + uuid.uuid4().hex
    http_port = _free_port()
    with tempfile.TemporaryDirectory() as data_dir:
        env = {
            **os.environ,
            "WATTLINE_TOPIC_PREFIX": prefix,
            "WATTLINE_ADMIN_TOKEN": token,
            "WATTLINE_MQTT_URL": f"mqtt://{broker}",
            "WATTLINE_MQTT_CLIENT_ID": f"wattline-{prefix}",
            "WATTLINE_LOG_LEVEL": "WARNING",
        }
        command = [sys.executable, "-m", "wattline", "up", "--auto-register"]
        command += ["--http-port", str(http_port), "--data-dir", data_dir]
        proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
        api = httpx.Client(
            base_url=f"http://127.0.0.1:{http_port}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        publisher = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"{prefix}-pub")
        try:
            _wait(lambda: _healthy(api), 180)
            rule = {
                "name": "Low voltage",
                "kind": "threshold",
                "severity": "critical",
                "metric": "voltage_v",
                "params": {"op": "below", "limit": 10},
            }
            api.post("/api/v1/alert-rules", json=rule).raise_for_status()
            hook = {
                "name": "bench",
                "kind": "webhook",
                "target": f"http://127.0.0.1:{server.server_address[1]}/hook",
                "allow_private": True,
            }
            api.post("/api/v1/alert-channels", json=hook).raise_for_status()
            publisher.connect(host, int(port))
            publisher.loop_start()
            devices = [f"bench-ac-{i}" for i in range(count)]
            for device in devices:  # registered first: the rule's scope is read once
                _publish(publisher, prefix, device, 1, 230.0)
            _wait(lambda: len(api.get("/api/v1/devices").json()["devices"]) >= count, 60)
            time.sleep(2)  # rules and device scopes cached by the evaluator
            sent: dict[str, float] = {}
            for device in devices:
                sent[device] = time.perf_counter()
                _publish(publisher, prefix, device, 2, 5.0)
                with done:
                    done.wait_for(lambda d=device: d in arrived, 30)
        finally:
            publisher.disconnect()
            publisher.loop_stop()
            proc.terminate()
            proc.wait(60)
            api.close()
            server.shutdown()
    ms = sorted((arrived[d] - sent[d]) * 1000 for d in sent if d in arrived)
    return "\n".join(
        [
            "| alerts | p50 ms | p90 ms | max ms |",
            "|---:|---:|---:|---:|",
            (
                f"| {len(ms)} of {count} | {ms[len(ms) // 2]:.0f} | "
                f"{ms[int(len(ms) * 0.9)]:.0f} | {ms[-1]:.0f} |"
            ),
        ]
    )


def _publish(client: mqtt.Client, prefix: str, device: str, seq: int, volts: float) -> None:
    payload = orjson.dumps(
        {"seq": seq, "ts": time.time_ns() // 1_000_000, "metrics": {"voltage_v": volts}}
    )
    client.publish(f"{prefix}/{device}/telemetry", payload, qos=1).wait_for_publish(10)


def _healthy(api: httpx.Client) -> bool:
    try:
        return api.get("/health").status_code == 200
    except httpx.HTTPError:
        return False


def _wait(predicate: object, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.2)
    raise TimeoutError("timed out")


def _free_port() -> int:
    import socket  # noqa: PLC0415 - only here

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", default="cost,ingest,latency")
    parser.add_argument("--readings", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--broker", default="127.0.0.1:1883")
    parser.add_argument("--alerts", type=int, default=20, help="latency samples")
    args = parser.parse_args()
    only = set(args.only.split(","))
    if "cost" in only:
        print("### Rule evaluation cost per reading\n")
        print(cost(args.readings) + "\n")
    if "ingest" in only:
        print("### Ingest with 100 rules against none\n")
        print(ingest(args.readings * 2, args.repeat) + "\n")
    if "latency" in only:
        print("### Alert latency: triggering publish → webhook request\n")
        print(latency(args.broker, args.alerts) + "\n")


if __name__ == "__main__":
    main()
