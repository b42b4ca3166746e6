"""`wattline collect` as a separate process, and what a chaos test checks in the database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import OperationalError
from tests.integration.chaos.publisher import METRICS, Outgoing

from wattline.ingest.sources.base import MqttEndpoint
from wattline.storage.postgres import psycopg_url

PROBE_DEVICE = "chaos-probe"


@dataclass
class CollectorProcess:
    """One `wattline collect`, restartable under the same client id (same MQTT session)."""

    mqtt_url: str
    database_url: str
    data_dir: Path
    topic_prefix: str
    client_id: str
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0
    # more WATTLINE_* settings (a shared group, an archive URL); the command runs
    # `collect` unless ``command`` says otherwise (``serve``: an API process)
    extra_env: dict[str, str] = field(default_factory=dict)
    command: tuple[str, ...] = ("collect",)

    def start(self) -> None:
        env = {
            **os.environ,
            "WATTLINE_MQTT_URL": self.mqtt_url,
            "WATTLINE_DATABASE_URL": self.database_url,
            "WATTLINE_DATA_DIR": str(self.data_dir),
            "WATTLINE_TOPIC_PREFIX": self.topic_prefix,
            "WATTLINE_AUTO_REGISTER": "true",
            "WATTLINE_LOG_LEVEL": "WARNING",
            **self.extra_env,
        }
        command = [sys.executable, "-m", "wattline", *self.command]
        if self.command == ("collect",):
            command += ["--client-id", self.client_id]
        with self.log_path.open("ab") as log:
            log.write(f"--- start {self.starts + 1} ---\n".encode())
            log.flush()
            self.proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=log)
        self.starts += 1

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> int | None:
        """SIGTERM, as a service manager would; the exit code (None if it had to be killed)."""
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def wait_until(predicate: Callable[[], bool], timeout_s: float, interval_s: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout_s
    while True:
        if predicate():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(interval_s)


class Ledger:
    """Read-only questions about one test database, tolerant of the database being down."""

    def __init__(self, database_url: str) -> None:
        self.engine: Engine = create_engine(
            psycopg_url(database_url), pool_pre_ping=True, connect_args={"connect_timeout": 3}
        )

    def close(self) -> None:
        self.engine.dispose()

    def scalar(self, sql: str) -> int | None:
        """None while the database or the table is not there yet."""
        try:
            with self.engine.connect() as conn:
                return int(conn.execute(text(sql)).scalar_one())
        except OperationalError:
            return None
        except Exception as exc:  # the collector has not created its tables yet
            if "does not exist" in str(exc):
                return None
            raise

    def sample_rows(self) -> int:
        return self.scalar("SELECT count(*) FROM samples") or 0

    def readings(self) -> int:
        return self.scalar("SELECT count(DISTINCT (device_id, ts_ms)) FROM samples") or 0

    def quarantined(self) -> int:
        """Messages quarantined: identical ones (topic and bytes) share a row and count up."""
        return self.scalar("SELECT coalesce(sum(occurrences), 0) FROM quarantine") or 0

    def stored_keys(self) -> Counter[tuple[str, int]]:
        """(device, seq) -> how many readings (distinct timestamps) carry it."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                text("SELECT device_id, seq, count(DISTINCT ts_ms) FROM samples GROUP BY 1, 2")
            )
            return Counter({(device, int(seq)): int(n) for device, seq, n in rows})

    def quarantine_reasons(self) -> list[tuple[str, str]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                text("SELECT reason, detail, occurrences FROM quarantine ORDER BY id")
            )
            return [(reason, detail) for reason, detail, times in rows for _ in range(times)]

    def device_known(self, device_id: str) -> bool:
        try:
            with self.engine.connect() as conn:
                row = conn.execute(
                    text("SELECT 1 FROM devices WHERE device_id = :d"), {"d": device_id}
                ).first()
                return row is not None
        except Exception:  # database or tables not there yet
            return False


def wait_collector_ready(
    collector: CollectorProcess, ledger: Ledger, timeout_s: float = 60
) -> None:
    """Publish a status probe until the collector stores it: subscribed and committing.

    Messages published before the collector's first subscription would reach
    nobody, so a test must not start its stream before this returns.
    """
    endpoint = MqttEndpoint.from_url(collector.mqtt_url)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"probe-{collector.client_id}")
    client.connect(endpoint.host, endpoint.port)
    client.loop_start()
    try:
        topic = f"{collector.topic_prefix}/{PROBE_DEVICE}/status"
        deadline = time.monotonic() + timeout_s
        while not ledger.device_known(PROBE_DEVICE):
            if not collector.running():
                raise AssertionError(f"collector exited at start:\n{collector.log()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"collector not ready in {timeout_s} s:\n{collector.log()}")
            client.publish(topic, b"online", qos=1)
            time.sleep(0.3)
    finally:
        client.disconnect()
        client.loop_stop()


def expected_keys(messages: Iterable[Outgoing]) -> set[tuple[str, int]]:
    return {m.reading for m in messages if m.reading is not None}


def assert_exactly_stored(
    ledger: Ledger,
    published: list[Outgoing],
    diagnostics: Callable[[], str],
    timeout_s: float = 120,
) -> None:
    """Wait for every published reading, then demand exactly those: none lost, none twice."""
    expected = expected_keys(published)
    want_rows = len(expected) * len(METRICS)
    wait_until(lambda: ledger.sample_rows() >= want_rows, timeout_s, interval_s=0.25)
    # A moment more, so a duplicate committed right after the count was reached shows up.
    time.sleep(0.5)
    rows, readings = ledger.sample_rows(), ledger.readings()
    if rows == want_rows and readings == len(expected):
        stored = ledger.stored_keys()
        if set(stored) == expected and all(n == 1 for n in stored.values()):
            return
    stored = ledger.stored_keys()
    missing = sorted(expected - set(stored))
    extra = sorted(set(stored) - expected)
    doubled = sorted(key for key, n in stored.items() if n > 1)
    by_device: dict[str, list[int]] = {}
    for device, seq in missing:
        by_device.setdefault(device, []).append(seq)
    raise AssertionError(
        f"stored {readings} readings in {rows} rows; published {len(expected)} readings "
        f"({want_rows} rows)\n"
        f"missing {len(missing)}: {_ranges(by_device)}\n"
        f"unexpected {len(extra)}: {extra[:20]}\ndoubled {len(doubled)}: {doubled[:20]}\n"
        f"{diagnostics()}"
    )


def _ranges(by_device: dict[str, list[int]]) -> str:
    parts = []
    for device, seqs in sorted(by_device.items()):
        runs: list[str] = []
        start = prev = seqs[0]
        for seq in [*seqs[1:], None]:
            if seq is not None and seq == prev + 1:
                prev = seq
                continue
            runs.append(f"{start}" if start == prev else f"{start}-{prev}")
            if seq is not None:
                start = prev = seq
        parts.append(f"{device}: {', '.join(runs[:10])}")
    return "; ".join(parts[:20]) or "none"


def tail(text_: str, lines: int = 40) -> str:
    return "\n".join(text_.splitlines()[-lines:])
