"""The embedded MQTT broker (amqtt), for running Wattline as one process.

It keeps sessions in memory only: fine on a laptop, and the reason the
collector drains and acknowledges everything before the broker stops. Fleets
that need broker-side durability use Mosquitto (see docs/operations.md).
"""

from __future__ import annotations

import logging
from typing import Any

from amqtt.broker import Broker

log = logging.getLogger("wattline.broker")


def broker_config(host: str, port: int) -> dict[str, Any]:
    return {
        "listeners": {"default": {"type": "tcp", "bind": f"{host}:{port}"}},
        # Anonymous access on loopback only; device credentials come with the security work.
        "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
    }


class EmbeddedBroker:
    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._broker = Broker(broker_config(host, port))

    async def start(self) -> None:
        await self._broker.start()
        log.info("embedded MQTT broker listening on %s:%d", self.host, self.port)

    async def stop(self) -> None:
        await self._broker.shutdown()
