"""The pure-Python embedded MQTT broker (amqtt): the fallback when Mosquitto is not installed.

It keeps sessions in memory only: fine on a laptop, and the reason the
collector drains and acknowledges everything before the broker stops. Fleets
that need broker-side durability use Mosquitto (see docs/operations.md).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from amqtt.broker import Broker

log = logging.getLogger("wattline.broker")


def broker_config(host: str, port: int) -> dict[str, Any]:
    return {
        "listeners": {"default": {"type": "tcp", "bind": f"{host}:{port}"}},
        # Anonymous access on loopback only; device credentials come with the security work.
        "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
    }


class EmbeddedBroker:
    name = "amqtt"
    # amqtt speaks MQTT 3.1.1 only.
    protocol: Literal["3.1.1", "5"] = "3.1.1"

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        # Made in start(): amqtt's Broker wants a running event loop.
        self._broker: Broker | None = None

    async def start(self) -> None:
        # Imported here, not at start-up: amqtt is half a second of imports that a
        # Wattline running Mosquitto (the default where it is installed) never uses.
        from amqtt.broker import Broker  # noqa: PLC0415

        self._broker = Broker(broker_config(self.host, self.port))
        await self._broker.start()
        log.info("embedded MQTT broker listening on %s:%d", self.host, self.port)

    async def stop(self) -> None:
        if self._broker is not None:
            await self._broker.shutdown()
