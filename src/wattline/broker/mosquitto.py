"""Mosquitto as the embedded broker: a child process of ``wattline up`` when it is installed.

amqtt, the pure-Python fallback, shares the process and its GIL with the
collector and caps ingest at about 2,900 readings/s on a 2-core machine;
Mosquitto in a child process carries the same stream at the collector's own
speed (docs/benchmarks.md). It also keeps sessions on disk in the data
directory, so devices' queued messages survive a restart of Wattline.
"""

from __future__ import annotations

import asyncio
import ctypes
import getpass
import logging
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from wattline.broker.dynsec import prepare_config_file

log = logging.getLogger("wattline.broker")

_START_TIMEOUT_S = 10.0
_STOP_TIMEOUT_S = 15.0
_BIND_GRACE_S = 0.2
_PR_SET_PDEATHSIG = 1
# Debian installs the broker outside a normal user's PATH.
_USUAL_PLACES = ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto")

CONFIG = """\
# Written by wattline up at each start; edits are overwritten.
# Started as root, Mosquitto would switch to the "mosquitto" user and could not
# write its state here; as anyone else this line changes nothing.
user {user}
listener {port} {host}
{access}persistence true
persistence_location {state_dir}/
autosave_interval 60
# Mosquitto drops QoS 1 messages beyond this queue length for a subscriber that
# falls behind, silently; a reading lost that way could never be recovered.
max_queued_messages 0
log_dest file {state_dir}/mosquitto.log
log_type error
log_type warning
log_type notice
"""


OPEN_ACCESS = "allow_anonymous true\n"
# Dynamic security: clients, roles and ACLs in the plugin's file, managed over
# its control topic (broker/dynsec.py); nobody connects without a password.
SECURE_ACCESS = """\
allow_anonymous false
plugin {plugin}
plugin_opt_config_file {dynsec_file}
"""
# Devices with a certificate from Wattline's CA. The certificate is the login:
# Mosquitto skips the password check and takes its CN (the device id) as the
# username, and the plugin's ACLs for that client apply (a CN without a client
# in the plugin may connect but neither publish nor subscribe). The CRL is read
# again on SIGHUP, which ``reload`` sends after each revocation. The settings
# after a listener line belong to that listener only.
TLS_LISTENER = """\
listener {port} {host}
cafile {cafile}
certfile {certfile}
keyfile {keyfile}
crlfile {crlfile}
require_certificate true
use_identity_as_username true
"""


@dataclass(frozen=True, slots=True)
class TlsListener:
    """The mutual-TLS listener: Wattline's CA, the broker's certificate, the CRL."""

    port: int
    cafile: Path
    certfile: Path
    keyfile: Path
    crlfile: Path


@dataclass(frozen=True, slots=True)
class DynamicSecurity:
    """Security mode: the plugin to load and the admin password Wattline syncs with."""

    plugin: str
    admin_password: str = field(repr=False)
    tls: TlsListener | None = None  # None: no CA in the data dir, passwords only


class BrokerStartError(Exception):
    """Mosquitto did not come up; the message says why (its own log's last lines)."""


def find_mosquitto() -> str | None:
    found = shutil.which("mosquitto")
    if found:
        return found
    return next((place for place in _USUAL_PLACES if Path(place).is_file()), None)


class MosquittoBroker:
    name = "Mosquitto"
    protocol: Literal["3.1.1", "5"] = "5"

    def __init__(
        self,
        binary: str,
        host: str,
        port: int,
        state_dir: Path,
        security: DynamicSecurity | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.security = security
        self._binary = binary
        self._state_dir = state_dir
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def log_path(self) -> Path:
        return self._state_dir / "mosquitto.log"

    @property
    def dynsec_file(self) -> Path:
        return self._state_dir / "dynamic-security.json"

    async def start(self) -> None:
        self._state_dir.mkdir(parents=True, exist_ok=True)
        config = self._state_dir / "mosquitto.conf"
        access = OPEN_ACCESS
        if self.security is not None:
            prepare_config_file(self.dynsec_file, self.security.admin_password)
            access = SECURE_ACCESS.format(
                plugin=self.security.plugin, dynsec_file=self.dynsec_file.resolve()
            )
            if self.security.tls is not None:
                access += _tls_listener(self.host, self.security.tls)
        config.write_text(
            CONFIG.format(
                host=self.host,
                port=self.port,
                access=access,
                state_dir=self._state_dir.resolve(),
                user=getpass.getuser(),
            )
        )
        # Popen returns once the child has exec'd: no wait worth a thread.
        self._process = subprocess.Popen(  # noqa: S603, ASYNC220 - a fixed binary, our own config
            [self._binary, "-c", str(config)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            # Ctrl-C reaches the whole process group; Wattline stops the broker
            # itself, last, after the collector has acknowledged its last batch.
            start_new_session=True,
            preexec_fn=_die_with_parent,  # noqa: PLW1509 - called before any thread starts
        )
        await self._wait_listening()
        log.info("embedded Mosquitto listening on %s:%d", self.host, self.port)

    def reload(self) -> None:
        """SIGHUP: Mosquitto reads its configuration again, the CRL included."""
        process = self._process
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGHUP)

    async def stop(self) -> None:
        process = self._process
        if process is None or process.poll() is not None:
            return
        # SIGTERM: Mosquitto saves its sessions and queues before it exits.
        process.terminate()
        try:
            await asyncio.to_thread(process.wait, _STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            await asyncio.to_thread(process.wait)

    async def _wait_listening(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + _START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise BrokerStartError(
                    f"mosquitto exited with code {self._process.returncode}: {self._log_tail()}"
                )
            try:
                _reader, writer = await asyncio.open_connection(self.host, self.port)
            except OSError:
                await asyncio.sleep(0.05)
                continue
            writer.close()
            await writer.wait_closed()
            # Something else may hold the port (we connected to it, not to
            # Mosquitto); Mosquitto then exits at once, unable to bind.
            await asyncio.sleep(_BIND_GRACE_S)
            if self._process.poll() is None:
                return
        await self.stop()
        raise BrokerStartError(f"mosquitto did not listen within {_START_TIMEOUT_S:.0f} s")

    def _log_tail(self) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").strip().splitlines()
        except OSError:
            return "(no log)"
        return " | ".join(lines[-3:]) or "(empty log)"


def _tls_listener(host: str, tls: TlsListener) -> str:
    return TLS_LISTENER.format(
        port=tls.port,
        host=host,
        cafile=tls.cafile.resolve(),
        certfile=tls.certfile.resolve(),
        keyfile=tls.keyfile.resolve(),
        crlfile=tls.crlfile.resolve(),
    )


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when Wattline dies, even by SIGKILL.

    Without it a killed ``wattline up`` would leave Mosquitto holding the port.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
