"""The ports ``wattline up`` listens on: as configured, or free ones picked for the demo.

A machine with Debian's mosquitto package already has a broker on 1883, so
``make run`` must not insist on the default ports; an explicit choice, though,
is kept, and a taken one is an error that says how to choose another.
"""

from __future__ import annotations

import errno
import socket
from dataclasses import dataclass

# Ports tried above a taken default before the OS picks one: a port near the
# default is easier to recognise in the banner than one from the ephemeral range.
SCAN_PORTS = 20


class PortTakenError(Exception):
    """A configured port is in use, or cannot be bound; the message says what to do."""


@dataclass(frozen=True, slots=True)
class PortSetting:
    """How a user chooses one of the ports: flag, environment (and make) variable."""

    flag: str
    env: str

    def taken(self, host: str, port: int) -> str:
        return (
            f"port {port} on {host} is already in use; choose another with {self.flag} "
            f"(or {self.env}, or make run {self.env}=...)"
        )


HTTP_PORT = PortSetting("--http-port", "WATTLINE_HTTP_PORT")
MQTT_PORT = PortSetting("--mqtt-port", "WATTLINE_MQTT_PORT")


def is_free(host: str, port: int) -> bool:
    """Whether a server could bind host:port now; other bind errors raise PortTakenError."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As servers bind: a port whose old connections linger in TIME_WAIT is free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return False
            raise PortTakenError(f"cannot bind {host}:{port}: {exc.strerror}") from None
    return True


def require_free(host: str, port: int, setting: PortSetting) -> None:
    if not is_free(host, port):
        raise PortTakenError(setting.taken(host, port))


def free_port_from(host: str, preferred: int) -> int:
    """preferred if free, else the first free one of the next SCAN_PORTS, else one the OS picks."""
    for port in range(preferred, min(preferred + SCAN_PORTS, 65535) + 1):
        if is_free(host, port):
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        chosen: int = probe.getsockname()[1]
        return chosen
