"""Alert messages published on a topic of the broker (QoS 1), for other systems to take."""

from __future__ import annotations

from dataclasses import dataclass

from paho.mqtt import publish
from paho.mqtt.enums import MQTTProtocolVersion

from wattline.model.notifications import Channel, Delivery


@dataclass(frozen=True, slots=True)
class MqttTarget:
    host: str
    port: int
    username: str | None = None
    password: str | None = None


class MqttSender:
    def __init__(self, target: MqttTarget) -> None:
        self._target = target

    def send(self, channel: Channel, delivery: Delivery) -> tuple[bool, str]:
        auth: publish.AuthParameter | None = None
        if self._target.username:
            auth = {"username": self._target.username}
            if self._target.password is not None:
                auth["password"] = self._target.password
        try:
            publish.single(
                channel.target,
                delivery.payload.encode(),
                qos=1,
                hostname=self._target.host,
                port=self._target.port,
                auth=auth,
                client_id=f"wattline-alerts-{delivery.delivery_id[:8]}",
                protocol=MQTTProtocolVersion.MQTTv311,
            )
        except (OSError, ValueError) as exc:
            return False, f"{type(exc).__name__}: {exc}"
        return True, f"published to {channel.target}"
