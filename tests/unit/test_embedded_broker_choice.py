"""Which embedded broker ``wattline up`` starts, and which MQTT version its collector speaks."""

from __future__ import annotations

from pathlib import Path

import pytest

from wattline.broker.embedded import EmbeddedBroker
from wattline.broker.mosquitto import MosquittoBroker
from wattline.config import Settings
from wattline.runtime import broker as runtime_broker
from wattline.runtime.broker import choose_embedded_broker
from wattline.runtime.errors import StartupError


@pytest.fixture
def installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runtime_broker, "find_mosquitto", lambda: "/usr/sbin/mosquitto")


@pytest.fixture
def missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runtime_broker, "find_mosquitto", lambda: None)


@pytest.mark.usefixtures("installed")
def test_auto_takes_mosquitto_when_installed_and_keeps_its_state_in_the_data_dir(
    tmp_path: Path,
) -> None:
    broker = choose_embedded_broker(Settings(data_dir=tmp_path, broker="auto"))
    assert isinstance(broker, MosquittoBroker)
    assert broker.protocol == "5"
    assert broker.log_path.parent == tmp_path / "mosquitto"


@pytest.mark.usefixtures("missing")
def test_auto_falls_back_to_amqtt_speaking_mqtt_311(tmp_path: Path) -> None:
    broker = choose_embedded_broker(Settings(data_dir=tmp_path))
    assert isinstance(broker, EmbeddedBroker)
    assert broker.protocol == "3.1.1"


@pytest.mark.usefixtures("installed")
def test_amqtt_when_asked_for_even_with_mosquitto_installed(tmp_path: Path) -> None:
    broker = choose_embedded_broker(Settings(data_dir=tmp_path, broker="amqtt"))
    assert isinstance(broker, EmbeddedBroker)


@pytest.mark.usefixtures("missing")
def test_mosquitto_asked_for_but_missing_says_how_to_get_it(tmp_path: Path) -> None:
    with pytest.raises(StartupError, match="apt install mosquitto"):
        choose_embedded_broker(Settings(data_dir=tmp_path, broker="mosquitto"))
