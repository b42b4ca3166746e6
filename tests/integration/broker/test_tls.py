"""Devices with certificates from Wattline's CA on a real Mosquitto's mutual-TLS listener.

The certificate's CN is the MQTT username (``use_identity_as_username``), so the
dynamic-security ACLs of that device apply; the CRL is re-read on SIGHUP.
Each test starts its own Mosquitto (its own ports and data dir).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import socket
import ssl
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import NameOID
from paho.mqtt import client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode
from tests.conftest import free_port, unavailable

from wattline.broker.dynsec import ADMIN_USERNAME, DynSecAccounts, DynSecClient, find_plugin
from wattline.broker.mosquitto import (
    DynamicSecurity,
    MosquittoBroker,
    TlsListener,
    find_mosquitto,
)
from wattline.security import ca
from wattline.security.ca_files import CaFiles
from wattline.security.device_credentials import unusable_password

pytestmark = pytest.mark.timeout(60)
PREFIX = "iot"
HOST = "127.0.0.1"


@dataclass
class TlsBroker:
    broker: MosquittoBroker
    tls_port: int
    files: CaFiles
    authority: ca.Authority
    accounts: DynSecAccounts
    directory: Path


@pytest.fixture
def tls_broker(tmp_path: Path) -> Iterator[TlsBroker]:
    binary, plugin = find_mosquitto(), find_plugin()
    if binary is None or plugin is None:
        unavailable("Mosquitto with its dynamic-security plugin is not installed")
    assert binary is not None
    assert plugin is not None
    now = dt.datetime.now(dt.UTC)
    files = CaFiles.in_data_dir(tmp_path)
    authority = files.init("Test CA", now)
    files.ensure_broker_certificate(authority, HOST, now)
    tls = TlsListener(
        free_port(), files.certificate, files.broker_certificate, files.broker_key, files.crl
    )
    admin_password = uuid.uuid4().hex
    port = free_port()
    security = DynamicSecurity(plugin, admin_password, tls)
    broker = MosquittoBroker(binary, HOST, port, tmp_path / "mosquitto", security)
    asyncio.run(broker.start())
    admin = DynSecClient(HOST, port, ADMIN_USERNAME, admin_password)
    try:
        admin.connect()
        accounts = DynSecAccounts(admin, [f"{PREFIX}/#"], PREFIX)
        yield TlsBroker(broker, tls.port, files, authority, accounts, tmp_path)
        admin.close()
    finally:
        asyncio.run(broker.stop())


def device_files(
    directory: Path, authority: ca.Authority, device_id: str
) -> tuple[Path, Path, str]:
    """A device's key and signed certificate on disk, as the device keeps them; and the serial."""
    key = ca.new_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, device_id)])
    csr = x509.CertificateSigningRequestBuilder().subject_name(name).sign(key, hashes.SHA256())
    issued = ca.sign_client(authority, csr, dt.datetime.now(dt.UTC))
    stem = directory / f"{device_id}-{issued.serial[:8]}"
    cert_path, key_path = stem.with_suffix(".crt"), stem.with_suffix(".key")
    cert_path.write_bytes(issued.pem)
    key_path.write_bytes(ca.key_pem(key))
    return cert_path, key_path, issued.serial


class TlsClient:
    def __init__(self, port: int, cafile: Path, cert: tuple[Path, Path]) -> None:
        self.connected = threading.Event()
        self.failed = threading.Event()
        self.acks: dict[int, int] = {}
        self._client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=f"t-{uuid.uuid4().hex[:8]}",
            protocol=mqtt.MQTTv5,  # a refused publish is answered (PUBACK 0x87)
        )
        self._client.tls_set(ca_certs=str(cafile), certfile=str(cert[0]), keyfile=str(cert[1]))
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = lambda *_a: self.failed.set()
        self._client.on_publish = self._on_publish
        self._client.connect(HOST, port)
        self._client.loop_start()

    def _on_connect(self, *args: object) -> None:
        reason = args[3]
        assert isinstance(reason, ReasonCode)
        (self.failed if reason.is_failure else self.connected).set()

    def _on_publish(self, _c: object, _u: object, mid: int, reason: ReasonCode, _p: object) -> None:
        self.acks[mid] = reason.value

    def wait_connected(self) -> bool:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if self.connected.is_set():
                return True
            if self.failed.is_set():
                return False
            time.sleep(0.02)
        return False

    def publish(self, topic: str) -> int:
        """The broker's PUBACK reason code: 0 or 0x10 accepted, 0x87 not authorised."""
        info = self._client.publish(topic, b"1", qos=1)
        info.wait_for_publish(5)
        deadline = time.monotonic() + 5
        while info.mid not in self.acks and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.acks[info.mid]

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


@pytest.fixture
def clients() -> Iterator[list[TlsClient]]:
    made: list[TlsClient] = []
    yield made
    for client in made:
        client.close()


def connect(made: list[TlsClient], tls_broker: TlsBroker, cert: tuple[Path, Path]) -> TlsClient:
    client = TlsClient(tls_broker.tls_port, tls_broker.files.certificate, cert)
    made.append(client)
    return client


# MQTT 3.1.1 CONNECT, clean session, keep-alive 60 s, client id "probe".
_CONNECT = b"\x10\x11\x00\x04MQTT\x04\x02\x00\x3c\x00\x05probe"
_CONNACK = 0x20


def refused(tls_broker: TlsBroker, cert: tuple[Path, Path] | None) -> bool:
    """True when the listener ends the TLS handshake or the MQTT CONNECT with this certificate.

    A raw socket rather than paho, which leaks its socket when the handshake fails.
    With TLS 1.3 the server checks the client's certificate after the client's
    side of the handshake is done, so the refusal shows on the first read.
    """
    context = ssl.create_default_context(cafile=str(tls_broker.files.certificate))
    if cert is not None:
        context.load_cert_chain(str(cert[0]), str(cert[1]))
    with socket.create_connection((HOST, tls_broker.tls_port), timeout=5) as raw:
        try:
            with context.wrap_socket(raw, server_hostname=HOST) as tls:
                tls.sendall(_CONNECT)
                answer = tls.recv(4)
        except (ssl.SSLError, OSError):
            return True
    return not answer or answer[0] != _CONNACK


ACCEPTED = {0x00, 0x10}  # success; success without subscribers
NOT_AUTHORISED = 0x87


def test_a_device_with_a_certificate_publishes_only_its_own_topics(
    tls_broker: TlsBroker, clients: list[TlsClient]
) -> None:
    tls_broker.accounts.grant("plug-a", unusable_password())
    cert, key, _ = device_files(tls_broker.directory, tls_broker.authority, "plug-a")
    device = connect(clients, tls_broker, (cert, key))
    assert device.wait_connected()
    assert device.publish(f"{PREFIX}/plug-a/telemetry") in ACCEPTED
    assert device.publish(f"{PREFIX}/plug-b/telemetry") == NOT_AUTHORISED


def test_a_certificate_without_a_broker_client_may_not_publish(
    tls_broker: TlsBroker, clients: list[TlsClient]
) -> None:
    cert, key, _ = device_files(tls_broker.directory, tls_broker.authority, "plug-unknown")
    device = connect(clients, tls_broker, (cert, key))
    assert device.wait_connected()
    assert device.publish(f"{PREFIX}/plug-unknown/telemetry") == NOT_AUTHORISED


def test_a_certificate_of_another_ca_is_refused(
    tls_broker: TlsBroker, clients: list[TlsClient]
) -> None:
    tls_broker.accounts.grant("plug-a", unusable_password())
    stranger = ca.create_authority("Test CA", dt.datetime.now(dt.UTC))  # same name, other key
    cert, key, _ = device_files(tls_broker.directory, stranger, "plug-a")
    assert refused(tls_broker, (cert, key))
    own_cert, own_key, _ = device_files(tls_broker.directory, tls_broker.authority, "plug-a")
    assert not refused(tls_broker, (own_cert, own_key))


def test_no_client_certificate_is_refused(tls_broker: TlsBroker) -> None:
    assert refused(tls_broker, None)


def test_a_revoked_certificate_is_refused_on_its_next_connection(
    tls_broker: TlsBroker, clients: list[TlsClient]
) -> None:
    tls_broker.accounts.grant("plug-a", unusable_password())
    cert, key, serial = device_files(tls_broker.directory, tls_broker.authority, "plug-a")
    kept_cert, kept_key, _ = device_files(tls_broker.directory, tls_broker.authority, "plug-a")
    assert connect(clients, tls_broker, (cert, key)).wait_connected()

    revoked = [ca.Revoked(serial, dt.datetime.now(dt.UTC))]
    tls_broker.files.write_crl(
        ca.revocation_list(tls_broker.authority, revoked, dt.datetime.now(dt.UTC))
    )
    tls_broker.broker.reload()

    deadline = time.monotonic() + 5
    while not refused(tls_broker, (cert, key)):
        assert time.monotonic() < deadline, "the broker still accepts a revoked certificate"
        time.sleep(0.05)
    # the device's other certificate still gets in
    assert connect(clients, tls_broker, (kept_cert, kept_key)).wait_connected()
