"""``wattline quarantine list|replay`` against a real SQLite data dir."""

from __future__ import annotations

from pathlib import Path

import orjson
from typer.testing import CliRunner

from wattline.cli.main import app
from wattline.storage.base import CommitBatch, QuarantineEntry
from wattline.storage.schema import DEFAULT_TENANT
from wattline.storage.sqlite import open_sqlite_store

T0 = 1_764_057_600_000


def test_list_and_replay_after_registering(tmp_path: Path) -> None:
    store = open_sqlite_store(tmp_path / "wattline.db")
    good = orjson.dumps({"seq": 0, "ts": T0, "metrics": {"power_w": 7.0}})
    store.commit(
        CommitBatch(
            quarantined=[
                QuarantineEntry(
                    T0, "iot/new-1/telemetry", "unknown_device", "not registered", good
                ),
                QuarantineEntry(T0, "iot/new-1/telemetry", "bad_value", "p = NaN", b"{nope"),
            ]
        )
    )
    runner = CliRunner()
    listing = runner.invoke(app, ["quarantine", "list", "--data-dir", str(tmp_path)])
    assert listing.exit_code == 0, listing.output
    assert "unknown_device" in listing.output
    assert "bad_value" in listing.output

    refused = runner.invoke(app, ["quarantine", "replay", "--data-dir", str(tmp_path)])
    assert "0 stored" in refused.output

    store.register_device("new-1", "smart_plug", T0, tenant_id=DEFAULT_TENANT)
    replayed = runner.invoke(app, ["quarantine", "replay", "--data-dir", str(tmp_path)])
    assert replayed.exit_code == 0, replayed.output
    assert "replayed 2: 1 stored (1 samples), 1 still rejected" in replayed.output
    assert "undecodable" in replayed.output
    assert [r.reason for r in store.quarantine(10)] == ["bad_value"]
    [latest] = store.latest_values(["new-1"])["new-1"]
    assert latest.value == 7.0
    store.close()
