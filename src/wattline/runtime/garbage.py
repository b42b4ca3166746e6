"""The garbage collector of a long-running process, set once its start-up is done.

Two things, each measured where it mattered:

- Every object made at start-up (modules, the app, schemas, prepared
  statements) is frozen out of collection. A full collection walks every
  tracked object: some 100,000 once the app is built, 55 ms on a 2-core
  machine, and a request that builds thousands of buckets triggered one every
  other time (``benchmarks/query.py``: a day at one minute 137 -> 63 ms).
- The youngest generation is collected after 50,000 net allocations instead of
  700. Measured on ``wattline up`` streaming 14,000 readings/s to 100
  WebSocket clients (``benchmarks/live.py``, ``gc.callbacks`` timing each
  pass): nearly everything a message or a request allocates is freed by
  reference counting moments later, but collected every 700, the batches and
  events still in flight were promoted instead, and the promotions kept
  triggering full collections. In 20 s of streaming: 1,539 young, 140 middle
  and 13 full passes, 0.7 s together, the full ones 18 ms each on average
  with every thread stopped. With 50,000, in the same 20 s: no full pass and
  at most one young one (about 11 ms; they come about once a half minute).
  One collector into SQLite (``benchmarks/ingest.py``, three alternating
  pairs) went from 38,930 / 40,677 / 38,564 to 41,874 / 43,025 / 40,551
  readings/s. Garbage in cycles waits longer for its pass (at most 50,000
  objects' worth, a few megabytes).

Frozen objects are still freed by reference counting; only cycles among them
are never collected, and start-up objects live as long as the process.
"""

from __future__ import annotations

import gc

# Net allocations of tracked objects between passes over the youngest generation;
# the older generations keep their ratios (a pass of the middle one every 20 young
# passes, of the oldest every 10 middle ones, when it has grown by a quarter).
YOUNG_THRESHOLD = 50_000
MIDDLE_THRESHOLD = 20
OLDEST_THRESHOLD = 10


def settle_after_startup() -> None:
    """Freeze what start-up made, and collect young objects less often from now on."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, MIDDLE_THRESHOLD, OLDEST_THRESHOLD)
