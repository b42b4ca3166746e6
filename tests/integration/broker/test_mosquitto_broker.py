"""The embedded Mosquitto: a child process that starts, serves, saves and never outlives us."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from tests.conftest import free_port, port_open, unavailable

from wattline.broker.mosquitto import BrokerStartError, MosquittoBroker, find_mosquitto


@pytest.fixture
def binary() -> str:
    found = find_mosquitto()
    if found is None:
        unavailable("mosquitto is not installed (scripts/install-test-deps.sh installs it)")
    assert found is not None
    return found


def test_it_serves_mqtt5_and_saves_its_sessions_on_stop(binary: str, tmp_path: Path) -> None:
    broker = MosquittoBroker(binary, "127.0.0.1", free_port(), tmp_path / "mosquitto")

    async def scenario() -> None:
        await broker.start()
        try:
            client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
            client.connect("127.0.0.1", broker.port)
            client.loop_start()
            info = client.publish("t/x", b"1", qos=1)
            info.wait_for_publish(5)
            assert info.is_published()
            client.disconnect()
            client.loop_stop()
        finally:
            await broker.stop()

    asyncio.run(scenario())
    assert not port_open("127.0.0.1", broker.port)
    assert (tmp_path / "mosquitto" / "mosquitto.db").exists()  # saved on SIGTERM


def test_a_taken_port_is_reported_with_mosquittos_own_words(binary: str, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        broker = MosquittoBroker(binary, "127.0.0.1", port, tmp_path / "mosquitto")
        with pytest.raises(BrokerStartError, match=r"(?i)address already in use"):
            asyncio.run(broker.start())


def test_it_dies_with_wattline_even_by_sigkill(binary: str, tmp_path: Path) -> None:
    port = free_port()
    script = textwrap.dedent(
        f"""
        import asyncio, pathlib, sys, time
        from wattline.broker.mosquitto import MosquittoBroker
        broker = MosquittoBroker({binary!r}, "127.0.0.1", {port}, pathlib.Path({str(tmp_path)!r}))
        asyncio.run(broker.start())
        print("ready", flush=True)
        time.sleep(60)
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        assert parent.stdout.readline().strip() == "ready"
        assert port_open("127.0.0.1", port)
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(10)
        deadline = time.monotonic() + 10
        while port_open("127.0.0.1", port) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not port_open("127.0.0.1", port), "Mosquitto outlived a SIGKILLed wattline"
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        if parent.stdout is not None:
            parent.stdout.close()
