"""FleetPublisher against a fake paho client: the protocol choreography, no network."""

import threading
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
from paho.mqtt import client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.reasoncodes import ReasonCode

from wattline.simulator import FleetPublisher, build_fleet


@dataclass
class Sent:
    topic: str
    payload: dict[str, Any]
    qos: int
    retain: bool


class FakeInfo:
    def __init__(self, mid: int) -> None:
        self.mid = mid
        self.rc = mqtt.MQTT_ERR_SUCCESS
        self.waited = False

    def is_published(self) -> bool:
        return self.waited

    def wait_for_publish(self, timeout: float | None = None) -> None:
        assert timeout is not None, "shutdown must not block forever"
        self.waited = True


class FakeClient:
    instances: list["FakeClient"] = []  # noqa: RUF012 - per-test registry, reset by fixture

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs
        self.connect_failures = FakeClient.connect_failures_for_next
        self.connect_calls = 0
        self.sent: list[Sent] = []
        self.infos: list[FakeInfo] = []
        self.calls: list[str] = []
        self.on_connect: Any = None
        self.on_disconnect: Any = None
        FakeClient.instances.append(self)

    connect_failures_for_next = 0

    def enable_logger(self, logger: Any = None) -> None:
        self.calls.append("enable_logger")

    def disable_logger(self) -> None:
        self.calls.append("disable_logger")

    def connect(self, host: str, port: int, keepalive: int = 60) -> None:
        self.connect_calls += 1
        self.calls.append("connect")
        if self.connect_calls <= self.connect_failures:
            raise ConnectionRefusedError("broker still starting")

    def loop_start(self) -> None:
        self.calls.append("loop_start")
        self.on_connect(
            self,
            None,
            mqtt.ConnectFlags(session_present=False),
            ReasonCode(PacketTypes.CONNACK, "Success"),
            None,
        )

    def publish(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> FakeInfo:
        self.sent.append(Sent(topic, orjson.loads(payload), qos, retain))
        info = FakeInfo(len(self.sent))
        self.infos.append(info)
        return info

    def disconnect(self) -> None:
        self.calls.append("disconnect")

    def loop_stop(self) -> None:
        self.calls.append("loop_stop")


@pytest.fixture
def fake_client(monkeypatch: pytest.MonkeyPatch) -> type[FakeClient]:
    FakeClient.instances = []
    FakeClient.connect_failures_for_next = 0
    # fleet.py looks Client up on the paho module at run time, so patching it there works.
    monkeypatch.setattr(mqtt, "Client", FakeClient)
    return FakeClient


def test_publishes_hello_status_telemetry_and_offline(fake_client: type[FakeClient]) -> None:
    devices = build_fleet(6, seed=1)
    publisher = FleetPublisher("localhost", 1883, devices, interval_s=0.01, topic_prefix="site")
    published = publisher.run(threading.Event(), max_rounds=3)

    (client,) = fake_client.instances
    assert published == 3 * len(devices)
    assert client.kwargs["protocol"] == mqtt.MQTTv311
    # DISCONNECT wakes paho's network thread, whose last words are not logged
    assert client.calls == [
        "enable_logger",
        "connect",
        "loop_start",
        "disable_logger",
        "disconnect",
        "loop_stop",
    ]
    assert all(s.qos == 1 for s in client.sent)
    assert all(info.waited for info in client.infos), "shutdown waits for every publish"

    for device in devices:
        mine = [s for s in client.sent if s.topic.startswith(f"site/{device.device_id}/")]
        leaves = [s.topic.rsplit("/", 1)[1] for s in mine]
        assert leaves == ["hello", "status", "telemetry", "telemetry", "telemetry", "status"]
        hello, online, *telemetry, offline = mine
        assert hello.payload == {
            "type": device.device_type,
            "firmware": device.firmware,
            "capabilities": list(device.model.metric_names),
        }
        assert not hello.retain
        assert online.retain
        assert online.payload["state"] == "online"
        assert offline.retain
        assert offline.payload["state"] == "offline"
        assert [t.payload["seq"] for t in telemetry] == [0, 1, 2]
        assert all(set(t.payload["metrics"]) == set(device.model.metric_names) for t in telemetry)
        timestamps = [t.payload["ts"] for t in telemetry]
        assert timestamps == sorted(timestamps)
        assert timestamps[0] > 1_600_000_000_000  # wall-clock epoch milliseconds
        assert not any(t.retain for t in telemetry)


def test_retries_until_broker_is_up(fake_client: type[FakeClient]) -> None:
    fake_client.connect_failures_for_next = 2
    publisher = FleetPublisher("localhost", 1883, build_fleet(2, seed=1), interval_s=0.01)
    assert publisher.run(threading.Event(), max_rounds=1) == 2
    (client,) = fake_client.instances
    assert client.connect_calls == 3


def test_stop_while_broker_is_down_returns_promptly(fake_client: type[FakeClient]) -> None:
    fake_client.connect_failures_for_next = 10**9
    stop = threading.Event()
    timer = threading.Timer(0.2, stop.set)
    timer.start()
    publisher = FleetPublisher("localhost", 1883, build_fleet(2, seed=1), interval_s=0.01)
    try:
        assert publisher.run(stop) == 0
    finally:
        timer.cancel()
    (client,) = fake_client.instances
    assert client.sent == []
    assert "loop_start" not in client.calls


def test_stop_ends_a_long_interval_immediately(fake_client: type[FakeClient]) -> None:
    stop = threading.Event()
    publisher = FleetPublisher(
        "localhost", 1883, build_fleet(2, seed=1), interval_s=3600.0, heartbeat_s=3600.0
    )
    result: list[int] = []
    worker = threading.Thread(target=lambda: result.append(publisher.run(stop)))
    worker.start()
    stop.set()
    worker.join(timeout=5)
    assert not worker.is_alive()
    # The first round goes out right after hello; the next would be an hour later.
    assert result[0] in {0, 2}
    (client,) = fake_client.instances
    assert client.calls[-2:] == ["disconnect", "loop_stop"]


def test_heartbeat_republishes_online(fake_client: type[FakeClient]) -> None:
    publisher = FleetPublisher(
        "localhost", 1883, build_fleet(1, seed=1), interval_s=0.05, heartbeat_s=0.02
    )
    publisher.run(threading.Event(), max_rounds=4)
    (client,) = fake_client.instances
    online = [
        s for s in client.sent if s.topic.endswith("/status") and s.payload["state"] == "online"
    ]
    assert len(online) >= 3
    uptimes = [s.payload["uptime_s"] for s in online]
    assert uptimes == sorted(uptimes)


def test_rejects_non_positive_periods() -> None:
    with pytest.raises(ValueError, match="interval_s"):
        FleetPublisher("localhost", 1883, [], interval_s=0.0)
    with pytest.raises(ValueError, match="heartbeat_s"):
        FleetPublisher("localhost", 1883, [], interval_s=1.0, heartbeat_s=-1.0)
