"""The API event loop's own work per live reading: a committed batch turned into events
(``events_of``) and dispatched by the hub into 100 clients' buffers.

No sockets: this is the part of the loop's time that is Wattline's code, measured
alone (py-spy put it at a third of the loop's GIL time at 7,000 readings/s,
docs/benchmarks.md). The shape is ``live.py``'s: 100 devices, one client
subscribed to each, readings of two metrics, a batch of one reading per device.

    python benchmarks/live_dispatch.py --batches 2000 --repeats 7
"""

from __future__ import annotations

import argparse
import statistics
import time

from prometheus_client import CollectorRegistry

from wattline.live import wire
from wattline.live.bus import MemoryBus
from wattline.live.events import events_of
from wattline.live.hub import LiveHub
from wattline.live.subscriptions import Audience, Subscription
from wattline.model.events import Committed
from wattline.model.messages import Reading
from wattline.observability.live_metrics import LiveMetrics
from wattline.storage.sql.owners import DeviceOwner

DEVICES = 100
T0_MS = 1_764_057_600_000


def batches(count: int) -> list[Committed]:
    made = []
    for turn in range(count):
        readings = tuple(
            Reading(
                f"dev{d}",
                T0_MS + turn * 10,
                {"power_w": float(turn), "sent_ms": 1.7e12 + turn},
                seq=turn,
            )
            for d in range(DEVICES)
        )
        made.append(Committed(readings=readings, seen_ms={r.device_id: r.ts_ms for r in readings}))
    return made


def one_run(committed: list[Committed]) -> float:
    """Seconds for the whole list: events, then dispatch, buffers drained as a writer would."""
    hub = LiveHub(MemoryBus(), LiveMetrics(CollectorRegistry()), buffer_messages=10**6)
    clients = []
    for d in range(DEVICES):
        client = hub.connect(Audience("t"), wire.wattline, "websocket")
        hub.subscribe(client, "default", Subscription(devices=frozenset({f"dev{d}"})))
        clients.append(client)
    owners = {f"dev{d}": DeviceOwner("t", "meter", ()) for d in range(DEVICES)}
    started = time.perf_counter()
    for batch in committed:
        hub.dispatch(events_of(batch, owners, T0_MS))
        for client in clients:
            client.buffer.take_nowait()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batches", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    committed = batches(args.batches)
    readings = args.batches * DEVICES
    runs = [one_run(committed) for _ in range(args.repeats)]
    per_reading_us = [run / readings * 1e6 for run in runs]
    print(
        f"{readings:,} readings to {DEVICES} clients: median "
        f"{statistics.median(per_reading_us):.2f} µs per reading "
        f"(min {min(per_reading_us):.2f}, max {max(per_reading_us):.2f}, {args.repeats} runs)"
    )


if __name__ == "__main__":
    main()
