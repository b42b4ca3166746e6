"""The OTA proof through the machine's Mosquitto, on SQLite and PostgreSQL.

20 simulated smart plugs on 1.0.0 take a campaign to 2.0.0 in waves of 5 %,
55 % and 100 % (1, 10 and 9 devices) with a 20 % failure threshold. Wave 1
succeeds; then the simulator fails 30 % of its installs, so 3 of wave 2's 10
fail and the campaign pauses by itself; wave 3 is never sent. A rollback sends
1.0.0 to the 11 devices that were sent the update, the failed ones included,
and each reports it back: in its OTA status and, where its version changed, in
its hello, which ingest writes to the registry.

Everything real: devices download over HTTP from uvicorn with their signed
links, verify size, sha256 and the Ed25519 manifest signature; their reports
travel device -> Mosquitto -> collector -> commit -> the runner's listener.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from prometheus_client import CollectorRegistry
from tests.conftest import free_port
from tests.e2e.conftest import forget_session, wait_until

from wattline.api.app import create_app
from wattline.api.services import ApiServices
from wattline.archive.blobs import FolderBlobs
from wattline.archive.folder import FolderArchive
from wattline.firmware.download_links import DownloadLinks
from wattline.firmware.mqtt_publisher import MqttOtaPublisher
from wattline.firmware.runner import CampaignRunner
from wattline.firmware.service import FirmwareService
from wattline.firmware.signing import FirmwareSigner
from wattline.ingest.collector import BatchPolicy, Collector
from wattline.ingest.committer import Committer
from wattline.ingest.interpret import InterpretConfig
from wattline.ingest.sources import open_source
from wattline.ingest.sources.base import (
    DeliverFn,
    DeliverManyFn,
    MessageSource,
    MqttEndpoint,
    SessionOptions,
)
from wattline.observability.metrics import IngestMetrics
from wattline.simulator.ota import FailureSpread, OtaDevice, OtaFleet
from wattline.storage.schema import DEFAULT_TENANT
from wattline.storage.sql import SqlStore
from wattline.storage.sql.firmware import SqlFirmware
from wattline.storage.sql.leases import SqlLeases, holder_name

TOKEN = "ota-admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
DEVICES = 20


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


class Rig:
    """The pieces of Wattline the proof needs, started in order and stopped in reverse."""

    def __init__(self, store: SqlStore, mosquitto_url: str, tmp_path: Path) -> None:
        self.store = store
        self.prefix = f"ota-{uuid.uuid4().hex[:8]}"
        self.endpoint = MqttEndpoint.from_url(mosquitto_url)
        self._stops: list[Callable[[], None]] = []
        self.tmp_path = tmp_path

    def start(self) -> None:
        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        links = DownloadLinks(b"k" * 32, base_url)
        self.signer = FirmwareSigner.in_directory(self.tmp_path / "firmware")
        publisher = MqttOtaPublisher(
            self.endpoint.host, self.endpoint.port, topic_prefix=self.prefix
        )
        self._stops.append(publisher.close)
        self.runner = CampaignRunner(
            SqlFirmware(self.store.engine),
            publisher,
            links,
            wall_ms,
            leases=SqlLeases(self.store.engine),
            holder=holder_name(),
            interval_s=0.05,
        )
        self._start_collector()
        firmware = FirmwareService(
            SqlFirmware(self.store.engine),
            FolderBlobs(self.tmp_path / "blobs"),
            self.signer,
            links,
            self.store,
            wall_ms,
        )
        services = ApiServices(
            store=self.store,
            admin_token=TOKEN,
            registry=CollectorRegistry(),
            offline_after_ms=120_000,
            firmware=firmware,
        )
        self._serve(create_app(services), port)
        self.api = httpx.Client(base_url=base_url, headers=AUTH, timeout=10)
        self._stops.append(self.api.close)
        self.runner.start()
        self._stops.append(self.runner.stop)
        self.fleet = OtaFleet(
            self.endpoint.host,
            self.endpoint.port,
            [OtaDevice(f"{self.prefix}-plug-{i}", "smart_plug", "1.0.0") for i in range(DEVICES)],
            topic_prefix=self.prefix,
            failures=FailureSpread(0.0),
            public_key_pem=self.signer.public_key_pem(),
        )
        self.fleet.start()
        self._stops.append(self.fleet.stop)

    def _start_collector(self) -> None:
        metrics = IngestMetrics(CollectorRegistry())
        self._committer = Committer(
            self.store,
            FolderArchive(self.tmp_path / "archive"),
            InterpretConfig(topic_prefix=self.prefix),
            metrics,
            auto_register=True,
            on_committed=self.runner.on_committed,
        )
        client_id = f"ota-collector-{self.prefix}"
        topics = [f"{self.prefix}/+/hello", f"{self.prefix}/+/ota/status"]

        def make_source(deliver: DeliverFn, _deliver_many: DeliverManyFn) -> MessageSource:
            return open_source(self.endpoint, client_id, topics, deliver, SessionOptions())

        collector = Collector(make_source, self._committer, metrics, BatchPolicy(max_messages=50))
        collector.start()
        self._stops.append(
            lambda: forget_session(self.endpoint.host, self.endpoint.port, client_id)
        )
        self._stops.append(collector.stop)
        assert collector.wait_connected(10)

    def _serve(self, app: Any, port: int) -> None:
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
        )
        thread = threading.Thread(target=server.run, name="ota-test-uvicorn", daemon=True)
        thread.start()
        wait_until(lambda: server.started, 10, "uvicorn to start")

        def stop() -> None:
            server.should_exit = True
            thread.join(10)

        self._stops.append(stop)

    def stop(self) -> None:
        for stop in reversed(self._stops):
            stop()

    def versions(self) -> dict[str, str | None]:
        return {
            d.device_id: d.firmware_version
            for d in self.store.list_devices(tenant_id=DEFAULT_TENANT)
            if d.device_id.startswith(self.prefix)
        }

    def campaign(self, cid: str) -> dict[str, Any]:
        answer: dict[str, Any] = self.api.get(f"/api/v1/firmware/campaigns/{cid}").json()
        return answer

    def upload(self, version: str) -> str:
        image = f"plug firmware {version} ".encode() * 4096
        answer = self.api.post(
            "/api/v1/firmware/artifacts",
            params={"device_type": "smart_plug", "version": version},
            content=image,
        )
        assert answer.status_code == 201, answer.text
        artifact_id: str = answer.json()["artifact_id"]
        return artifact_id


@pytest.fixture
def rig(store: SqlStore, mosquitto_url: str, tmp_path: Path) -> Iterator[Rig]:
    made = Rig(store, mosquitto_url, tmp_path)
    try:
        made.start()
        yield made
    finally:
        made.stop()


def test_a_failing_second_wave_pauses_the_campaign_and_rollback_restores(rig: Rig) -> None:
    wait_until(
        lambda: list(rig.versions().values()) == ["1.0.0"] * DEVICES,
        15,
        lambda: f"20 devices on 1.0.0 in the registry: {rig.versions()}",
    )
    rig.upload("1.0.0")
    new = rig.upload("2.0.0")
    started = rig.api.post(
        "/api/v1/firmware/campaigns",
        json={
            "artifact_id": new,
            "target": {"device_type": "smart_plug"},
            "waves_pct": [5, 55, 100],
            "soak_s": 2,
            "failure_threshold_pct": 20,
            "device_timeout_s": 30,
        },
    )
    assert started.status_code == 201, started.text
    cid = started.json()["campaign_id"]
    assert [w["total"] for w in started.json()["waves"]] == [1, 10, 9]

    wait_until(
        lambda: rig.campaign(cid)["waves"][0]["succeeded"] == 1,
        15,
        lambda: (
            f"wave 1 to succeed: {rig.api.get(f'/api/v1/firmware/campaigns/{cid}/devices').json()}"
        ),
    )
    rig.fleet.failures.set_rate(0.3)  # from wave 2 on, within wave 1's 2 s soak
    wait_until(
        lambda: rig.campaign(cid)["state"] == "paused", 20, lambda: f"a pause: {rig.campaign(cid)}"
    )
    paused = rig.campaign(cid)
    wave2 = paused["waves"][1]
    assert (wave2["failed"], wave2["total"]) == (3, 10), paused
    assert "wave 2: 3 of 10 devices failed (30%" in paused["reason"]
    # the pause held: wave 3's devices were never sent anything
    wait_until(lambda: rig.campaign(cid)["waves"][1]["in_flight"] == 0, 10, "wave 2 to settle")
    assert rig.campaign(cid)["waves"][2]["pending"] == 9
    devices = rig.api.get(f"/api/v1/firmware/campaigns/{cid}/devices").json()["devices"]
    failed = sorted(d["device_id"] for d in devices if d["state"] == "failed")
    assert all("flash write error" in d["detail"] for d in devices if d["state"] == "failed")
    updated = sorted(d["device_id"] for d in devices if d["state"] == "succeeded")
    assert len(updated) == 8
    wait_until(lambda: all(rig.versions()[d] == "2.0.0" for d in updated), 10, "hellos with 2.0.0")

    rig.fleet.failures.set_rate(0.0)
    back = rig.api.post(f"/api/v1/firmware/campaigns/{cid}/rollback")
    assert back.status_code == 200, back.text
    wait_until(
        lambda: rig.campaign(cid)["state"] == "rolled_back",
        20,
        lambda: f"the rollback to finish: {rig.campaign(cid)}",
    )
    devices = rig.api.get(f"/api/v1/firmware/campaigns/{cid}/devices").json()["devices"]
    rolled = {d["device_id"]: d for d in devices if d["phase"] == "rollback"}
    assert sorted(rolled) == sorted(updated + failed)
    assert {(d["state"], d["target_version"]) for d in rolled.values()} == {("succeeded", "1.0.0")}
    assert all(rig.fleet.firmware_of(d) == "1.0.0" for d in failed + updated)
    wait_until(
        lambda: set(rig.versions().values()) == {"1.0.0"},
        10,
        lambda: f"every device back on 1.0.0 in the registry: {rig.versions()}",
    )
