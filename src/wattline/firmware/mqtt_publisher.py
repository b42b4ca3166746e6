"""OTA instructions to devices over MQTT: ``{prefix}/{device_id}/ota``, QoS 1, JSON."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Mapping

import orjson
from paho.mqtt import client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

# A QoS 1 publish not acknowledged by then is reported as not sent (the device's
# update fails visibly instead of hanging the campaign round).
_PUBACK_TIMEOUT_S = 5.0
_CONNECT_TIMEOUT_S = 5.0


def ota_topic(topic_prefix: str, device_id: str) -> str:
    return f"{topic_prefix}/{device_id}/ota"


class MqttOtaPublisher:
    def __init__(
        self,
        host: str,
        port: int,
        *,
        topic_prefix: str = "iot",
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        self._prefix = topic_prefix
        self._client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=f"wattline-ota-{uuid.uuid4().hex[:8]}",
        )
        if username is not None:
            self._client.username_pw_set(username, password)
        self._connected = threading.Event()
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = lambda *_args: self._connected.clear()
        # In the background, retried by paho's loop: a broker that is late or away
        # fails the sends meanwhile (visibly, per device), never Wattline's start.
        self._client.connect_async(host, port)
        self._client.loop_start()

    def _on_connect(self, *args: object) -> None:
        reason_code = args[3]
        if not getattr(reason_code, "is_failure", False):
            self._connected.set()

    def send(self, device_id: str, instruction: Mapping[str, object]) -> None:
        if not self._connected.wait(_CONNECT_TIMEOUT_S):
            raise ConnectionError("not connected to the MQTT broker")
        info = self._client.publish(
            ota_topic(self._prefix, device_id), orjson.dumps(dict(instruction)), qos=1
        )
        info.wait_for_publish(_PUBACK_TIMEOUT_S)
        if not info.is_published():
            raise TimeoutError("the broker did not acknowledge the OTA instruction")

    def close(self) -> None:
        # DISCONNECT first wakes paho's network thread; loop_stop alone waits out its 1 s select.
        self._client.disconnect()
        self._client.loop_stop()
