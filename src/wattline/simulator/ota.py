"""Simulated firmware updates: what a device does with an OTA instruction.

A device receives ``{prefix}/{id}/ota`` (``job_id``, ``version``, ``url``,
``size``, ``sha256``, ``manifest``, ``signature``), downloads the image over
HTTP from the signed link, checks the size, the sha256 and (given Wattline's
public key) the manifest signature, installs, reboots, and reports each step on
``{prefix}/{id}/ota/status``; after a success it announces the new version in
a ``hello``.

Failures are injected at a configurable rate, spread exactly rather than drawn
at random: with a rate of 0.3 the 3rd, 7th and 10th attempts of every ten fail,
so a test knows how many of a wave will fail without trusting a seed.
"""

from __future__ import annotations

import hashlib
import logging
import math
import queue
import threading
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from paho.mqtt import client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from wattline.firmware.signing import verify
from wattline.simulator.fleet import hello_payload

_log = logging.getLogger("wattline.simulator.ota")

# Larger than any image the API accepts (16 MiB by default): a link that serves
# more is not Wattline's.
MAX_DOWNLOAD_BYTES = 64 * 1024 * 1024
_DOWNLOAD_TIMEOUT_S = 30.0

Fetch = Callable[[str], bytes]


def http_fetch(url: str) -> bytes:
    """GET the signed link (http or https only), at most MAX_DOWNLOAD_BYTES."""
    if not url.startswith(("http://", "https://")):
        raise ValueError("not an HTTP link")
    with urllib.request.urlopen(url, timeout=_DOWNLOAD_TIMEOUT_S) as response:  # noqa: S310 - scheme checked above
        data: bytes = response.read(MAX_DOWNLOAD_BYTES + 1)
    if len(data) > MAX_DOWNLOAD_BYTES:
        raise ValueError("the image is larger than any Wattline serves")
    return data


class FailureSpread:
    """Which attempts fail: attempt n (from 1) fails when floor(n * rate) grows at n."""

    def __init__(self, rate: float = 0.0) -> None:
        self._lock = threading.Lock()
        self._attempts = 0
        self.rate = rate

    def set_rate(self, rate: float) -> None:
        """A new rate, spread from the next attempt on."""
        if not 0 <= rate <= 1:
            raise ValueError(f"a failure rate is within 0..1, got {rate}")
        with self._lock:
            self.rate = rate
            self._attempts = 0

    def next_fails(self) -> bool:
        with self._lock:
            self._attempts += 1
            n = self._attempts
            return math.floor(n * self.rate + 1e-9) > math.floor((n - 1) * self.rate + 1e-9)


@dataclass(frozen=True, slots=True)
class Outcome:
    """One played update: the reports in order, and the version running afterwards."""

    reports: tuple[dict[str, Any], ...]
    version: str


def play_update(  # noqa: PLR0913 - what a device knows when an instruction arrives
    current_version: str,
    instruction: Mapping[str, Any],
    fetch: Fetch,
    *,
    fail_install: bool,
    public_key_pem: str | None,
    report: Callable[[dict[str, Any]], None] = lambda _r: None,
) -> Outcome:
    """Play one instruction; each report is also handed to ``report`` as it happens."""
    reports: list[dict[str, Any]] = []
    job = str(instruction.get("job_id", ""))
    version = str(instruction.get("version", ""))

    def say(state: str, progress_pct: float | None = None, detail: str | None = None) -> None:
        body: dict[str, Any] = {"job_id": job, "version": version, "state": state}
        if progress_pct is not None:
            body["progress_pct"] = progress_pct
        if detail is not None:
            body["detail"] = detail[:200]
        reports.append(body)
        report(body)

    def failed(detail: str) -> Outcome:
        say("failed", detail=detail)
        return Outcome(tuple(reports), current_version)

    say("downloading", 0.0)
    try:
        image = fetch(str(instruction.get("url", "")))
    except Exception as exc:
        return failed(f"download failed: {exc}")
    say("downloading", 100.0)
    say("verifying")
    for problem in _problems(image, instruction, public_key_pem):
        return failed(problem)
    say("installing")
    if fail_install:
        return failed("install failed: flash write error (simulated)")
    say("rebooted")
    say("succeeded", 100.0)
    return Outcome(tuple(reports), version)


def _problems(
    image: bytes, instruction: Mapping[str, Any], public_key_pem: str | None
) -> Iterator[str]:
    if len(image) != instruction.get("size"):
        yield f"size {len(image)} differs from the announced {instruction.get('size')}"
    elif hashlib.sha256(image).hexdigest() != instruction.get("sha256"):
        yield "sha256 mismatch: the image is not the one announced"
    manifest = instruction.get("manifest")
    if public_key_pem is None:
        return
    if not isinstance(manifest, dict) or not verify(
        public_key_pem, manifest, str(instruction.get("signature", ""))
    ):
        yield "manifest signature does not verify"
    elif manifest.get("sha256") != instruction.get("sha256") or manifest.get(
        "version"
    ) != instruction.get("version"):
        yield "the instruction does not match its signed manifest"


@dataclass(slots=True)
class OtaDevice:
    device_id: str
    device_type: str
    firmware: str
    capabilities: tuple[str, ...] = ()


class OtaFleet:
    """Devices that take firmware updates over one MQTT connection (a gateway's)."""

    def __init__(  # noqa: PLR0913 - connection and behaviour knobs
        self,
        host: str,
        port: int,
        devices: Sequence[OtaDevice],
        *,
        topic_prefix: str = "iot",
        failures: FailureSpread | None = None,
        public_key_pem: str | None = None,
        fetch: Fetch = http_fetch,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        self._prefix = topic_prefix.rstrip("/")
        self._devices = {d.device_id: d for d in devices}
        self.failures = failures or FailureSpread()
        self._public_key_pem = public_key_pem
        self._fetch = fetch
        self._work: queue.Queue[tuple[str, bytes] | None] = queue.Queue()
        self._client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=f"wattline-sim-ota-{uuid.uuid4().hex[:8]}",
        )
        if username is not None:
            self._client.username_pw_set(username, password)
        self._client.on_message = self._on_message
        self._host, self._port = host, port
        self._worker = threading.Thread(target=self._play_all, name="wattline-sim-ota", daemon=True)

    def firmware_of(self, device_id: str) -> str:
        return self._devices[device_id].firmware

    def start(self) -> None:
        subscribed = threading.Event()
        self._client.on_subscribe = lambda *_args: subscribed.set()
        self._client.connect(self._host, self._port)
        self._client.loop_start()
        self._client.subscribe([(f"{self._prefix}/{d}/ota", 1) for d in self._devices])
        if not subscribed.wait(10):
            raise ConnectionError("the broker did not confirm the OTA subscriptions")
        self._worker.start()
        for device in self._devices.values():
            self._hello(device)

    def stop(self) -> None:
        self._work.put(None)
        if self._worker.is_alive():
            self._worker.join()
        # DISCONNECT first wakes paho's network thread; loop_stop alone waits out its 1 s select.
        self._client.disconnect()
        self._client.loop_stop()

    def _on_message(self, _client: mqtt.Client, _userdata: object, message: Any) -> None:
        device_id = message.topic.split("/")[-2]
        self._work.put((device_id, bytes(message.payload)))

    def _play_all(self) -> None:
        while (item := self._work.get()) is not None:
            device_id, payload = item
            try:
                self._play(self._devices[device_id], orjson.loads(payload))
            except Exception:
                _log.exception("OTA instruction for %s not played", device_id)

    def _play(self, device: OtaDevice, instruction: dict[str, Any]) -> None:
        topic = f"{self._prefix}/{device.device_id}/ota/status"
        outcome = play_update(
            device.firmware,
            instruction,
            self._fetch,
            fail_install=self.failures.next_fails(),
            public_key_pem=self._public_key_pem,
            report=lambda body: self._publish(topic, orjson.dumps(body)),
        )
        if outcome.version != device.firmware:
            device.firmware = outcome.version
            self._hello(device)

    def _hello(self, device: OtaDevice) -> None:
        payload = hello_payload(device.device_type, device.firmware, list(device.capabilities))
        self._publish(f"{self._prefix}/{device.device_id}/hello", payload)

    def _publish(self, topic: str, payload: bytes) -> None:
        self._client.publish(topic, payload, qos=1).wait_for_publish(10)
