"""Which embedded broker ``wattline up`` runs: Mosquitto when installed, else amqtt."""

from __future__ import annotations

import secrets

from wattline.broker.dynsec import find_plugin
from wattline.broker.embedded import EmbeddedBroker
from wattline.broker.mosquitto import (
    BrokerStartError,
    DynamicSecurity,
    MosquittoBroker,
    find_mosquitto,
)
from wattline.config import Settings
from wattline.runtime.certificates import tls_listener
from wattline.runtime.errors import StartupError

# The embedded brokers: Mosquitto as a child process, or amqtt in this process.
Broker = EmbeddedBroker | MosquittoBroker


def choose_embedded_broker(settings: Settings) -> Broker:
    """Mosquitto when installed (or asked for), else amqtt; in security mode Mosquitto only."""
    if settings.security == "on":
        return _secure_mosquitto(settings)
    if settings.broker != "amqtt":
        binary = find_mosquitto()
        if binary is not None:
            state_dir = settings.data_dir / "mosquitto"
            return MosquittoBroker(binary, settings.host, settings.mqtt_port, state_dir)
        if settings.broker == "mosquitto":
            raise StartupError(
                "WATTLINE_BROKER=mosquitto, but no mosquitto binary was found "
                "(Debian/Ubuntu: apt install mosquitto)"
            )
    return EmbeddedBroker(settings.host, settings.mqtt_port)


def _secure_mosquitto(settings: Settings) -> MosquittoBroker:
    if settings.broker == "amqtt":
        raise StartupError(
            "WATTLINE_SECURITY=on needs Mosquitto: amqtt cannot keep devices to their own topics"
        )
    binary = find_mosquitto()
    plugin = find_plugin()
    if binary is None or plugin is None:
        raise StartupError(
            "WATTLINE_SECURITY=on needs Mosquitto and its dynamic-security plugin "
            "(Debian/Ubuntu: apt install mosquitto)"
        )
    # Fresh at each start: written into the plugin's file before Mosquitto reads it.
    security = DynamicSecurity(
        plugin=plugin, admin_password=secrets.token_urlsafe(32), tls=tls_listener(settings)
    )
    state_dir = settings.data_dir / "mosquitto"
    return MosquittoBroker(binary, settings.host, settings.mqtt_port, state_dir, security)


async def start_broker(broker: Broker) -> None:
    try:
        await broker.start()
    except BrokerStartError as exc:
        raise StartupError(f"the embedded broker did not start: {exc}") from exc


def broker_name(broker: Broker | None) -> str:
    if broker is None:
        return "external"
    return f"embedded {broker.name}"
