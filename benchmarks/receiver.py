"""The MQTT 5 receiver's own CPU per message, with nothing behind it.

One receiver process (``python -m wattline.ingest.sources.receiver``, as a
collector starts it) subscribed to a private Mosquitto; ten ``mosquitto_pub``
publish ``--readings`` telemetry messages at QoS 1, as fast as they can (as in
``ingest.py``), and this process acknowledges each frame of messages as soon
as it arrives, so no store paces the stream. Printed: the receiver's user and
system CPU per message (from /proc), how many messages a frame to the
collector carried (one frame per read of the socket), and the wall time.

    python benchmarks/receiver.py --repeat 3
    PYTHONPATH=/path/to/other/checkout/src python benchmarks/receiver.py  # compare
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from wattline.ingest.sources import frames

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest import private_mosquitto, publish_all

DEVICES = 10
TICKS_PER_S = os.sysconf("SC_CLK_TCK")


@dataclass
class Run:
    messages: int
    frames: int
    wall_s: float
    user_s: float
    system_s: float

    def line(self) -> str:
        per = 1e6 / self.messages
        return (
            f"{self.messages:,} messages in {self.wall_s:.2f} s: user {self.user_s * per:.2f} +"
            f" system {self.system_s * per:.2f} = {(self.user_s + self.system_s) * per:.2f}"
            f" us a message; {self.messages / self.frames:.1f} messages a frame"
        )


def cpu_s(pid: int) -> tuple[float, float]:
    """(user, system) seconds of a running process."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[11]) / TICKS_PER_S, int(fields[12]) / TICKS_PER_S


def measure(broker: str, readings: int, run_index: int) -> Run:
    host, port = broker.rsplit(":", 1)
    prefix = f"rcv{run_index}"
    child = subprocess.Popen(
        [sys.executable, "-m", "wattline.ingest.sources.receiver"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert child.stdin is not None
    assert child.stdout is not None
    config = {
        "host": host,
        "port": int(port),
        "client_id": f"bench-receiver-{run_index}",
        "topics": [f"{prefix}/+/telemetry"],
        "session_expiry_s": 60,
        "receive_maximum": 10_000,
    }
    frames.write(child.stdin, (frames.CONFIG, config))
    connected, done = threading.Event(), threading.Event()
    counts = {"messages": 0, "frames": 0}

    def acknowledge_everything() -> None:
        while (frame := frames.read(child.stdout)) is not None:
            if frame[0] == frames.CONNECTED:
                connected.set()
            elif frame[0] == frames.MESSAGES:
                counts["frames"] += 1
                counts["messages"] += len(frame[1])
                frames.write(child.stdin, (frames.ACK, [record[0] for record in frame[1]]))
                if counts["messages"] >= readings:
                    done.set()

    threading.Thread(target=acknowledge_everything, daemon=True).start()
    try:
        if not connected.wait(10):
            sys.exit("the receiver did not connect")
        user0, system0 = cpu_s(child.pid)
        started = time.perf_counter()
        publish_all(host, int(port), prefix, DEVICES, readings // DEVICES)
        if not done.wait(120):
            sys.exit(f"the receiver passed on {counts['messages']} of {readings} messages")
        wall_s = time.perf_counter() - started
        user1, system1 = cpu_s(child.pid)
    finally:
        frames.write(child.stdin, (frames.STOP,))
        child.wait(10)
    return Run(counts["messages"], counts["frames"], wall_s, user1 - user0, system1 - system0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--readings", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    with private_mosquitto() as broker:
        runs = [measure(broker, args.readings, index) for index in range(args.repeat)]
    for run in runs:
        print(run.line())
    if len(runs) > 1:
        per_message = [(r.user_s + r.system_s) / r.messages * 1e6 for r in runs]
        print(f"median: {statistics.median(per_message):.2f} us a message")


if __name__ == "__main__":
    main()
