"""The collector's commits in a child process (WATTLINE_COMMIT_PROCESS), on both backends.

A child that commits is the store itself at one remove: what it stores equals
what an in-process commit stores, a child killed between batches is replaced
and the batch retried counts once, and a refused batch comes back as a refusal
that names the store's error, not as an outage.
"""

from __future__ import annotations

import asyncio
import os
import pickle
import signal
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.integration.conftest import reset_postgres

from wattline.config import Settings
from wattline.ingest.poison import describe_store_error
from wattline.model.messages import Hello, Reading
from wattline.runtime import services
from wattline.runtime.commit_process import CommitProcess, CommitRefusedError, StoreAddress
from wattline.storage.base import CommitBatch, StoreUnavailableError
from wattline.storage.opening import open_store_at
from wattline.storage.sql import SqlStore

T0 = 1_764_057_600_000


@pytest.fixture(params=["sqlite", "postgres"])
def address(request: pytest.FixtureRequest, tmp_path: Path) -> StoreAddress:
    if request.param == "sqlite":
        return StoreAddress(None, tmp_path / "wattline.db", "full")
    url: str = request.getfixturevalue("postgres_url")
    return StoreAddress(url, tmp_path / "unused.db", "full")


@pytest.fixture
def local(address: StoreAddress) -> Iterator[SqlStore]:
    """The parent's own connection to the store the child writes, opened (and migrated) first."""
    store = open_store_at(address.database_url, address.database_path, address.sqlite_synchronous)
    if address.database_url is not None:
        reset_postgres(address.database_url)
    yield store
    store.close()


@pytest.fixture
def child(address: StoreAddress, local: SqlStore) -> Iterator[CommitProcess]:
    process = CommitProcess(address)
    process.start()
    process.wait_ready()
    yield process
    process.close()


def batch(device: str, seqs: range, *, first: bool = False) -> CommitBatch:
    readings = [
        Reading(device, T0 + seq * 1000, {"power_w": float(seq), "voltage_v": 230.0}, seq)
        for seq in seqs
    ]
    hellos = [Hello(device, "plug", "1.0")] if first else []
    return CommitBatch(
        readings=readings,
        hellos=hellos,
        arrival_order=[*hellos, *readings],
        seen_ms={device: T0 + seqs[-1] * 1000},
        register=[device] if first else [],
    )


def stored(store: SqlStore, device: str) -> list[tuple[int, int | None, dict[str, float]]]:
    return [
        (p.ts_ms, p.seq, p.metrics) for p in store.raw_points(device, T0, T0 + 10**7, None, 10_000)
    ]


def test_the_child_stores_what_the_parent_reads(child: CommitProcess, local: SqlStore) -> None:
    first = child.commit(batch("m1", range(50), first=True))
    again = child.commit(batch("m1", range(40, 60)))

    assert (first.samples_inserted, first.readings_seq_duplicate) == (100, 0)
    assert (again.samples_inserted, again.readings_seq_duplicate) == (20, 10)
    assert first.store_seconds > 0
    rows = stored(local, "m1")
    assert [seq for _, seq, _ in rows] == list(range(60))
    assert rows[7] == (T0 + 7000, 7, {"power_w": 7.0, "voltage_v": 230.0})
    assert local.existing_devices(["m1", "m2"]) == {"m1"}


def test_a_killed_child_is_an_outage_and_the_retry_counts_once(
    child: CommitProcess, local: SqlStore
) -> None:
    child.commit(batch("m1", range(10), first=True))
    pid = child.pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)

    retried = batch("m1", range(5, 20))
    with pytest.raises(StoreUnavailableError, match="commit process ended"):
        child.commit(retried)
    result = child.commit(retried)

    assert child.pid != pid
    assert child.started == 2
    assert (result.samples_inserted, result.readings_seq_duplicate) == (20, 5)
    assert [seq for _, seq, _ in stored(local, "m1")] == list(range(20))


def test_the_child_outlives_ctrl_c_so_the_collector_can_drain(child: CommitProcess) -> None:
    pid = child.pid
    assert pid is not None
    # Ctrl-C in a terminal signals the whole process group; SIGTERM from a supervisor too.
    os.kill(pid, signal.SIGINT)
    os.kill(pid, signal.SIGTERM)

    assert child.commit(batch("m1", range(3), first=True)).samples_inserted == 6
    assert child.pid == pid


def test_a_refused_batch_names_the_stores_error(child: CommitProcess, local: SqlStore) -> None:
    child.commit(batch("m1", range(1), first=True))
    # Past any 64-bit integer column: the driver refuses to bind it.
    hostile = Reading("m1", 2**70, {"power_w": 1.0}, 99)
    refused = CommitBatch(readings=[hostile], arrival_order=[hostile], seen_ms={"m1": T0})

    with pytest.raises(CommitRefusedError) as caught:
        child.commit(refused)

    described = describe_store_error(caught.value)
    assert described.startswith("the store refused it: ")
    assert caught.value.type_name in described
    assert "CommitRefusedError" not in described
    # The child is still there and still commits.
    assert child.commit(batch("m1", range(1, 3))).samples_inserted == 4
    assert len(stored(local, "m1")) == 3


def test_a_store_the_child_cannot_open_fails_its_start(tmp_path: Path) -> None:
    closed = StoreAddress("postgresql://wattline@127.0.0.1:9/nowhere", tmp_path / "x.db", "full")
    process = CommitProcess(closed)
    process.start()
    with pytest.raises(StoreUnavailableError, match="cannot open the store"):
        process.wait_ready()
    # and so does every commit, each with a new child, until the store is reachable
    with pytest.raises(StoreUnavailableError, match="cannot open the store"):
        process.commit(batch("m1", range(1)))
    assert process.started == 0
    process.close()


@given(
    device=st.text(min_size=1, max_size=64),
    ts_ms=st.integers(-(2**63), 2**63 - 1),
    metrics=st.dictionaries(st.text(max_size=32), st.floats(allow_nan=False), max_size=8),
    seq=st.none() | st.integers(0, 2**63 - 1),
)
def test_a_reading_crosses_to_the_child_unchanged(
    device: str, ts_ms: int, metrics: dict[str, float], seq: int | None
) -> None:
    reading = Reading(device, ts_ms, metrics, seq)
    assert pickle.loads(pickle.dumps(reading, protocol=pickle.HIGHEST_PROTOCOL)) == reading


@pytest.mark.parametrize(
    ("setting", "by_default", "expected"),
    [(None, True, True), (None, False, False), (False, True, False), (True, False, True)],
    ids=["up-unset", "collect-unset", "up-off", "collect-on"],
)
def test_the_setting_decides_whether_there_is_a_child(
    tmp_path: Path, setting: bool | None, by_default: bool, expected: bool
) -> None:
    """Unset: `wattline up` commits in a child, `wattline collect` in a thread."""
    settings = Settings(data_dir=tmp_path, commit_process=setting)
    open_store_at(None, settings.database_path, "full").close()

    async def enter() -> CommitProcess | None:
        async with services.commit_process(settings, by_default=by_default) as process:
            if process is not None:
                process.wait_ready()
                assert process.commit(batch("m1", range(2), first=True)).samples_inserted == 4
                pid = process.pid
                assert pid is not None
                assert "wattline.runtime.commit_process" in " ".join(psutil.Process(pid).cmdline())
            return process

    process = asyncio.run(enter())
    assert (process is not None) is expected
    if process is not None:
        assert process.pid is None  # left with the service: the child has ended
