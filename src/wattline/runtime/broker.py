"""Which embedded broker ``wattline up`` runs: Mosquitto when installed, else amqtt."""

from __future__ import annotations

from wattline.broker.embedded import EmbeddedBroker
from wattline.broker.mosquitto import BrokerStartError, MosquittoBroker, find_mosquitto
from wattline.config import Settings
from wattline.runtime.errors import StartupError

# The embedded brokers: Mosquitto as a child process, or amqtt in this process.
Broker = EmbeddedBroker | MosquittoBroker


def choose_embedded_broker(settings: Settings) -> Broker:
    """Mosquitto when installed (or asked for), else amqtt."""
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


async def start_broker(broker: Broker) -> None:
    try:
        await broker.start()
    except BrokerStartError as exc:
        raise StartupError(f"the embedded broker did not start: {exc}") from exc


def broker_name(broker: Broker | None) -> str:
    if broker is None:
        return "external"
    return f"embedded {broker.name}"
