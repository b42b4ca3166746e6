"""What tracing costs ingest: the collector's throughput with tracing off and on.

In one process, without a broker, so the collector's own work is all that is
timed: a feeder thread hands the real collector (planner and committer threads,
SQLite store, folder archive, as ``wattline collect`` builds them) N canonical
readings of 5 metrics, and the clock stops when the last one is acknowledged.
With tracing on, spans go through the SDK's BatchSpanProcessor to an exporter
that encodes them to OTLP protobuf (what the OTLP exporter sends) and drops the
bytes, so the cost measured is the process's, not a collector's over the network.

Modes run interleaved, each ``--repeat`` times, on a fresh data dir; the median
is reported. CPU time of the process (every thread) is the measure: on a machine
shared with other work, wall-clock rates move with the neighbours' load, the CPU
a reading costs much less.

    python benchmarks/tracing.py --readings 20000 --repeat 3
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import orjson
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from prometheus_client import CollectorRegistry

from wattline.config import Settings
from wattline.ingest.collector import Collector
from wattline.ingest.sources.base import DeliverFn, DeliverManyFn, Delivery
from wattline.model.messages import InboundMessage
from wattline.observability.tracing import MessageTraces, Tracing, start_tracing
from wattline.runtime.backends import open_archive, open_store
from wattline.runtime.ingest import prepare_ingest

T0_MS = int(time.time() * 1000) - 3 * 3_600_000
METRICS = ("voltage_v", "current_a", "power_w", "energy_wh", "frequency_hz")
DEVICES = 10


class EncodingExporter(SpanExporter):
    """Encodes spans as the OTLP exporter does, then drops the bytes."""

    def __init__(self) -> None:
        self.spans = 0
        self.bytes = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.bytes += len(encode_spans(spans).SerializeToString())
        self.spans += len(spans)
        return SpanExportResult.SUCCESS


class FeedSource:
    """A message source fed from a list by a thread of its own; counts acknowledgements."""

    def __init__(self, deliver: DeliverFn, messages: list[InboundMessage]) -> None:
        self._deliver = deliver
        self._messages = messages
        self.connected = threading.Event()
        self.acked = 0
        self.done = threading.Event()
        self._feeder = threading.Thread(target=self._feed, name="bench-feeder")

    def start(self) -> None:
        self.connected.set()
        self._feeder.start()

    def stop(self) -> None:
        self._feeder.join()

    def ack(self, deliveries: Sequence[Delivery]) -> int:
        self.acked += len(deliveries)
        if self.acked >= len(self._messages):
            self.done.set()
        return len(deliveries)

    def _feed(self) -> None:
        for mid, message in enumerate(self._messages):
            self._deliver(message, Delivery(mid=mid, qos=1, generation=1))


def messages(readings: int) -> list[InboundMessage]:
    per_device = readings // DEVICES
    return [
        InboundMessage(
            f"iot/dev{device}/telemetry",
            orjson.dumps(
                {
                    "seq": seq,
                    "ts": T0_MS + seq * 10 + device,
                    "metrics": dict.fromkeys(METRICS, float(seq % 1000)),
                }
            ),
            T0_MS + seq * 10,
        )
        for seq in range(per_device)
        for device in range(DEVICES)
    ]


def run(readings: int, ratio: float | None) -> tuple[float, float, int]:
    """Seconds from the first delivery to the last acknowledgement, the process's CPU
    seconds meanwhile (every thread, the SDK's exporter included), and spans exported."""
    exporter = EncodingExporter()
    tracing: Tracing | None = None
    if ratio is not None:
        tracing = start_tracing(
            "collect", "bench", message_ratio=ratio, processor=BatchSpanProcessor(exporter)
        )
    traces: MessageTraces | None = tracing.message_traces() if tracing else None
    with tempfile.TemporaryDirectory() as data_dir:
        settings = Settings(data_dir=Path(data_dir), auto_register=True)
        ingest = prepare_ingest(settings, CollectorRegistry())
        store = open_store(settings)
        archive = open_archive(settings)
        committer = ingest.committer(store, archive, ingest.mqtt)
        sources: list[FeedSource] = []
        batch = messages(readings)

        def make_source(deliver: DeliverFn, _deliver_many: DeliverManyFn) -> FeedSource:
            sources.append(FeedSource(deliver, batch))
            return sources[-1]

        collector = Collector(make_source, committer, ingest.metrics, traces=traces)
        started = time.perf_counter()
        cpu_started = time.process_time()
        collector.start()
        if not sources[0].done.wait(600):
            raise TimeoutError(f"only {sources[0].acked} of {readings} acknowledged")
        seconds = time.perf_counter() - started
        collector.stop()
        if tracing is not None:
            tracing.shutdown()  # exports what is still buffered, counted as CPU too
        cpu_s = time.process_time() - cpu_started
        archive.close()
        store.close()
    return seconds, cpu_s, exporter.spans


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--readings", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    modes: list[tuple[str, float | None]] = [
        ("off (WATTLINE_OTLP_ENDPOINT unset)", None),
        ("on, 1 in 1,000 messages traced (the default ratio)", 0.001),
        ("on, 1 in 100 messages traced", 0.01),
        ("on, every message traced", 1.0),
    ]
    seconds: dict[str, list[float]] = {name: [] for name, _ in modes}
    cpu: dict[str, list[float]] = {name: [] for name, _ in modes}
    spans: dict[str, int] = {}
    for _ in range(args.repeat):
        for name, ratio in modes:
            took, cpu_s, exported = run(args.readings, ratio)
            seconds[name].append(took)
            cpu[name].append(cpu_s)
            spans[name] = exported
    off_cpu = statistics.median(cpu[modes[0][0]])
    print(
        "| tracing | readings | CPU µs per reading (median) | runs | CPU ratio to off "
        "| readings/s (median wall clock) | spans exported | CPU µs per traced message |"
    )
    print("|---|---:|---:|---|---:|---:|---:|---:|")
    for name, ratio in modes:
        median_cpu = statistics.median(cpu[name])
        runs = ", ".join(f"{c / args.readings * 1e6:.0f}" for c in cpu[name])
        traced = args.readings * (ratio or 0)
        extra = (median_cpu - off_cpu) / traced * 1e6 if traced else 0.0
        rate = args.readings / statistics.median(seconds[name])
        print(
            f"| {name} | {args.readings} | {median_cpu / args.readings * 1e6:.0f} | {runs} "
            f"| {median_cpu / off_cpu:.2f} | {rate:,.0f} "
            # no more CPU than off (within the runs' spread): no cost to report
            f"| {spans[name]:,} | {f'{extra:.0f}' if traced and extra > 0 else '-'} |"
        )


if __name__ == "__main__":
    main()
