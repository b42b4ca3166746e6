"""`wattline archive replay` on SQLite and PostgreSQL: an empty or damaged store comes back
equal (samples, rollups, latest values, sequence state), a second replay changes nothing,
and --devices replays only the devices named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry
from tests.integration.conftest import reset_postgres
from tests.integration.fingerprint import fingerprint
from typer.testing import CliRunner

from wattline.archive.folder import FolderArchive
from wattline.cli.main import app
from wattline.ingest.committer import Committer
from wattline.ingest.interpret import InterpretConfig
from wattline.model.messages import InboundMessage
from wattline.observability.metrics import IngestMetrics
from wattline.storage.postgres import open_postgres_store
from wattline.storage.sql import SqlStore
from wattline.storage.sqlite import open_sqlite_store
from wattline.transfer.rebuild import MAX_DEVICES, parse_devices

T0 = 1_764_000_000_000  # 2025-11-24T16:00Z
DEVICES = ["r1", "r2"]
BATCH_GAP_MS = 12 * 60_000


def hello(device: str, at_ms: int) -> InboundMessage:
    body = {"type": "meter", "firmware": "1.0"}
    return InboundMessage(f"iot/{device}/hello", json.dumps(body).encode(), at_ms)


def telemetry(device: str, seq: int, at_ms: int, power_w: float) -> InboundMessage:
    body = {"seq": seq, "ts": at_ms - 100, "metrics": {"power_w": power_w, "v": 230.0 + seq % 3}}
    return InboundMessage(f"iot/{device}/telemetry", json.dumps(body).encode(), at_ms)


def history() -> list[list[InboundMessage]]:
    """Batches as live ingest met them: boots, a gap, a late filler, a redelivery,
    a reboot mid-stream and an undecodable message. 27 batches of ten rounds each,
    12 minutes apart, so the archive spans six hours and replay commits few batches."""
    batches: list[list[InboundMessage]] = [[hello(d, T0) for d in DEVICES]]
    seq = dict.fromkeys(DEVICES, 0)
    for b in range(27):
        batch: list[InboundMessage] = []
        for k in range(10):
            n = b * 10 + k + 1
            at = T0 + 60_000 + b * BATCH_GAP_MS + k * 100
            for i, device in enumerate(DEVICES):
                if n == 150 and device == "r2":
                    batch.append(hello(device, at + i))  # reboot: seq starts at 0 again
                    seq[device] = 0
                    continue
                if n == 40 and device == "r1":
                    seq[device] += 3  # a gap of three ...
                batch.append(telemetry(device, seq[device], at + i, n * 1.25 + i))
                seq[device] += 1
            if n == 60:
                batch.append(telemetry("r1", 41, at + 5, 999.0))  # ... one of them late
                batch.append(batch[-3])  # a redelivery of a reading already in this batch
            if n % 100 == 0:
                batch.append(InboundMessage("iot/r1/telemetry", b"{not json", at + 7))
        batches.append(batch)
    return batches


def ingest(store: SqlStore, archive_dir: Path, batches: list[list[InboundMessage]]) -> None:
    committer = Committer(
        store,
        FolderArchive(archive_dir),
        InterpretConfig(topic_prefix="iot"),
        IngestMetrics(CollectorRegistry()),
        auto_register=True,
    )
    for batch in batches:
        committer.commit(committer.plan(batch))


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, list[str]]:
    """(database url or "" for SQLite, the CLI flags naming the store)."""
    if request.param == "sqlite":
        return "", ["--data-dir", str(tmp_path)]
    url: str = request.getfixturevalue("postgres_url")
    open_postgres_store(url).close()
    reset_postgres(url)
    return url, ["--data-dir", str(tmp_path), "--database-url", url]


def open_store(url: str, tmp_path: Path) -> SqlStore:
    return open_postgres_store(url) if url else open_sqlite_store(tmp_path / "wattline.db")


def lose_database(url: str, tmp_path: Path) -> None:
    if url:
        reset_postgres(url)
    else:
        for path in tmp_path.glob("wattline.db*"):
            path.unlink()


def replay(flags: list[str], *extra: str) -> str:
    result = CliRunner().invoke(app, ["archive", "replay", "--auto-register", *flags, *extra])
    assert result.exit_code == 0, result.output
    return result.output


def snapshot(url: str, tmp_path: Path, devices: list[str] = DEVICES) -> dict[str, object]:
    store = open_store(url, tmp_path)
    try:
        return fingerprint(store, devices, T0, T0 + 6 * 3_600_000)  # type: ignore[return-value]
    finally:
        store.close()


def test_an_empty_store_is_rebuilt_equal_and_a_second_replay_changes_nothing(
    backend: tuple[str, list[str]], tmp_path: Path
) -> None:
    url, flags = backend
    store = open_store(url, tmp_path)
    ingest(store, tmp_path / "archive", history())
    store.close()
    before = snapshot(url, tmp_path)
    assert before["r1"].sequence[4] == ((1, 39, 40),)  # type: ignore[attr-defined]
    assert before["r2"].sequence[0] == 2  # type: ignore[attr-defined]  # two boots

    lose_database(url, tmp_path)
    output = replay(flags)
    assert "replayed 546 messages" in output
    assert snapshot(url, tmp_path) == before

    again = replay(flags)
    assert "0 samples stored" in again
    assert snapshot(url, tmp_path) == before


def test_a_rebuild_from_a_compacted_archive_is_equal(tmp_path: Path) -> None:
    store = open_store("", tmp_path)
    ingest(store, tmp_path / "archive", history())
    store.close()
    before = snapshot("", tmp_path)
    compacted = CliRunner().invoke(app, ["archive", "compact", "--data-dir", str(tmp_path)])
    assert compacted.exit_code == 0, compacted.output
    # six hours of telemetry, two of hellos, two of rejected messages: a file each
    assert "compacted 10 segments into 10" in compacted.output
    lose_database("", tmp_path)
    replay(["--data-dir", str(tmp_path)])
    assert snapshot("", tmp_path) == before


def test_a_damaged_store_gets_back_what_it_lost(
    backend: tuple[str, list[str]], tmp_path: Path
) -> None:
    url, flags = backend
    batches = history()
    store = open_store(url, tmp_path)
    ingest(store, tmp_path / "archive", batches)
    store.close()
    before = snapshot(url, tmp_path)

    # The store comes back holding only the first 10 batches (100 rounds) (a stale copy), and the
    # replay runs over every hour, overlapping what it holds.
    lose_database(url, tmp_path)
    store = open_store(url, tmp_path)
    ingest(store, tmp_path / "scratch-archive", batches[:10])
    store.close()
    replay(flags)
    assert snapshot(url, tmp_path) == before


def test_devices_replays_only_the_devices_named(
    backend: tuple[str, list[str]], tmp_path: Path
) -> None:
    url, flags = backend
    store = open_store(url, tmp_path)
    ingest(store, tmp_path / "archive", history())
    store.close()
    before = snapshot(url, tmp_path)
    lose_database(url, tmp_path)

    output = replay(flags, "--devices", "r2")
    assert "0 quarantined" in output  # r1's undecodable messages name no device
    after = snapshot(url, tmp_path)
    assert after["r2"] == before["r2"]
    assert after["r1"].points == []  # type: ignore[attr-defined]
    assert after["r1"].sequence is None  # type: ignore[attr-defined]


def test_bad_flags_are_refused_with_the_reason(tmp_path: Path) -> None:
    runner = CliRunner()
    for extra, reason in [
        (["--devices", "a,b c"], "is not a device id"),
        (["--devices", ","], "names no device"),
        (["--since", "2025-11-25T00:00Z", "--until", "2025-11-24T00:00Z"], "before --until"),
    ]:
        result = runner.invoke(app, ["archive", "replay", "--data-dir", str(tmp_path), *extra])
        assert result.exit_code == 2, result.output
        assert reason in result.output


@given(st.lists(st.from_regex(r"[A-Za-z0-9_-]{1,64}", fullmatch=True), min_size=1, max_size=5))
def test_parse_devices_accepts_ids_up_to_their_limits(ids: list[str]) -> None:
    assert parse_devices(",".join(ids)) == frozenset(ids)


@given(st.integers(min_value=MAX_DEVICES - 2, max_value=MAX_DEVICES + 2))
def test_parse_devices_counts_to_the_limit(count: int) -> None:
    text = ",".join(f"d{i}" for i in range(count))
    if count <= MAX_DEVICES:
        assert len(parse_devices(text)) == count
    else:
        with pytest.raises(ValueError, match="at most"):
            parse_devices(text)


@given(st.text(min_size=65, max_size=70, alphabet="ab"))
def test_parse_devices_refuses_an_id_past_64_characters(device_id: str) -> None:
    with pytest.raises(ValueError, match="not a device id"):
        parse_devices(device_id)
