"""The collector's front half alone, in process: microseconds per message.

What the collector's threads do for each message before the store sees it: the
message and its delivery handle built from the receiver's frame, decoding and
validation (``plan.decode``), the plan (``plan.plan_batch``) and the archive's
gzip member (``segment_format.encode_lines``), for batches shaped like the
ingest benchmark's stream (``ingest.py``: one reading of five metrics per
message, round-robin over the devices). No broker, no threads, no fsync: what
changes in ``model/``, ``protocols/`` and ``ingest/`` shows here without the
end-to-end run's noise. The median over the batches is reported, per stage.

    python benchmarks/plan_batch.py                 # 10 devices, 2,000 messages a batch
    python benchmarks/plan_batch.py --devices 100 --batch 330
"""

from __future__ import annotations

import argparse
import gzip
import statistics
import time

import orjson

from wattline.archive.segment_format import encode_lines
from wattline.ingest.admit import Verdict
from wattline.ingest.interpret import InterpretConfig
from wattline.ingest.plan import decode, plan_batch
from wattline.ingest.sources.base import Delivery
from wattline.model.messages import InboundMessage

METRICS = ("voltage_v", "current_a", "power_w", "energy_wh", "frequency_hz")
PREFIX = "iot"


def frames(
    devices: list[str], size: int, first_ms: int, received_ms: int, batch_index: int
) -> list[tuple[int, str, bytes, int, None]]:
    """A receiver frame's messages: (key, topic, payload, received_ms, content_type),
    readings 1 ms apart from ``first_ms``."""
    rows = []
    for k in range(size):
        device = devices[k % len(devices)]
        seq = batch_index * size + k
        body = {"seq": seq, "ts": first_ms + seq, "metrics": dict.fromkeys(METRICS, 230.0)}
        rows.append((k + 1, f"{PREFIX}/{device}/telemetry", orjson.dumps(body), received_ms, None))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=10)
    parser.add_argument("--batch", type=int, default=2_000, help="messages per batch")
    parser.add_argument("--batches", type=int, default=60)
    args = parser.parse_args()

    now_ms = time.time_ns() // 1_000_000
    devices = [f"bench-dev-{i:04d}" for i in range(args.devices)]
    verdict = Verdict(admitted=frozenset(devices), unregistered=frozenset())
    config = InterpretConfig(topic_prefix=PREFIX)
    stages: dict[str, list[float]] = {"messages": [], "decode": [], "plan": [], "archive": []}
    for b in range(args.batches):
        frame = frames(devices, args.batch, now_ms - 3_600_000, now_ms, b)
        t0 = time.perf_counter()
        batch = [
            (InboundMessage(topic, payload, received_ms, content_type), Delivery(key, 1, 0))
            for key, topic, payload, received_ms, content_type in frame
        ]
        messages = [message for message, _ in batch]
        t1 = time.perf_counter()
        outcomes = decode(messages, config)
        t2 = time.perf_counter()
        plan = plan_batch(messages, outcomes, verdict)
        t3 = time.perf_counter()
        gzip.compress(encode_lines(plan.archive), compresslevel=1, mtime=0)
        t4 = time.perf_counter()
        assert len(plan.readings) == args.batch, plan.quarantined[:1]
        for name, seconds in zip(stages, (t1 - t0, t2 - t1, t3 - t2, t4 - t3), strict=True):
            stages[name].append(seconds / args.batch * 1e6)
    kept = {name: values[args.batches // 3 :] for name, values in stages.items()}
    medians = {name: statistics.median(values) for name, values in kept.items()}
    parts = ", ".join(f"{name} {us:.2f}" for name, us in medians.items())
    print(
        f"{args.devices} devices, {args.batch} messages per batch: {sum(medians.values()):.2f} us"
        f" per message ({parts}; medians of {len(kept['decode'])})"
    )


if __name__ == "__main__":
    main()
