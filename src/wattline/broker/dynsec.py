"""Mosquitto's dynamic-security plugin, kept in step with Wattline's devices.

Wattline speaks to the plugin over its control topic as an admin client: JSON
commands on ``$CONTROL/dynamic-security/v1``, answers on ``.../response``. Each
device is a client named by its device id, with a role of its own that lets it
publish only under its own topics and subscribe only to its own downlink.
Everything else is denied by default, anonymous clients are refused by the
broker's configuration, and a disabled or deleted client is disconnected by
the plugin at once.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import secrets
import threading
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from paho.mqtt import client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from wattline.security.device_credentials import BrokerSyncError

log = logging.getLogger("wattline.broker")

CONTROL_TOPIC = "$CONTROL/dynamic-security/v1"
RESPONSE_TOPIC = CONTROL_TOPIC + "/response"
ADMIN_USERNAME = "wattline-admin"
COLLECTOR_USERNAME = "wattline-collector"
SIMULATOR_USERNAME = "wattline-simulator"
# Debian and most builds put the plugin beside libmosquitto.
PLUGIN_PLACES = (
    "/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so",
    "/usr/lib/aarch64-linux-gnu/mosquitto_dynamic_security.so",
    "/usr/lib/mosquitto_dynamic_security.so",
    "/usr/local/lib/mosquitto_dynamic_security.so",
)
# Everything a client is not granted by a role is denied, receiving included:
# a device receives only what its own subscriptions and role allow.
DEFAULT_ACL_ACCESS = {
    "publishClientSend": False,
    "publishClientReceive": False,
    "subscribe": False,
    "unsubscribe": True,
}
# Salted PBKDF2-SHA512, the plugin's own format; 101 rounds is what the plugin
# and mosquitto_ctrl use. The admin password is 32 random bytes, fresh at each start.
_PBKDF2_ROUNDS = 101
_REPLY_TIMEOUT_S = 5.0
_ALREADY = ("already exists", "not found")


def find_plugin() -> str | None:
    return next((place for place in PLUGIN_PLACES if Path(place).is_file()), None)


# -- roles: pure ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Acl:
    acltype: str  # publishClientSend, publishClientReceive, subscribePattern, ...
    topic: str
    allow: bool = True

    def command(self) -> dict[str, Any]:
        return {"acltype": self.acltype, "topic": self.topic, "allow": self.allow, "priority": 0}


def device_topics(uplink_filters: Iterable[str], device_id: str) -> list[str]:
    """The collector's subscription filters narrowed to one device.

    Every adapter names the device in its filter's first ``+`` level
    (``tele/+/SENSOR`` -> ``tele/plug-1/SENSOR``); a filter without one
    (canonical ``iot/#``) gets the device id before its ``#``.
    """
    topics: list[str] = []
    for topic_filter in uplink_filters:
        levels = topic_filter.split("/")
        if "+" in levels:
            levels[levels.index("+")] = device_id
        elif levels[-1] == "#":
            levels.insert(len(levels) - 1, device_id)
        else:
            continue
        topics.append("/".join(levels))
    return list(dict.fromkeys(topics))


def downlink_topic(topic_prefix: str, device_id: str) -> str:
    return f"{topic_prefix}/{device_id}/command"


def ota_topic(topic_prefix: str, device_id: str) -> str:
    """Firmware update instructions (firmware/mqtt_publisher.py)."""
    return f"{topic_prefix}/{device_id}/ota"


def device_acls(device_id: str, uplink_filters: Sequence[str], topic_prefix: str) -> list[Acl]:
    downlink = downlink_topic(topic_prefix, device_id)
    ota = ota_topic(topic_prefix, device_id)
    uplinks = [
        Acl("publishClientSend", topic) for topic in device_topics(uplink_filters, device_id)
    ]
    return [
        *uplinks,
        Acl("subscribeLiteral", downlink),
        Acl("subscribePattern", downlink),
        Acl("publishClientReceive", downlink),
        Acl("subscribeLiteral", ota),
        Acl("subscribePattern", ota),
        Acl("publishClientReceive", ota),
    ]


def collector_acls(uplink_filters: Sequence[str], topic_prefix: str) -> list[Acl]:
    """Subscribe to every ingest filter and receive from it; publish downlinks."""
    acls: list[Acl] = []
    for topic_filter in uplink_filters:
        acls += [Acl("subscribePattern", topic_filter), Acl("publishClientReceive", topic_filter)]
    return [
        *acls,
        Acl("publishClientSend", downlink_topic(topic_prefix, "+")),
        Acl("publishClientSend", ota_topic(topic_prefix, "+")),
    ]


def publisher_acls(
    device_ids: Iterable[str], uplink_filters: Sequence[str], topic_prefix: str | None = None
) -> list[Acl]:
    """A gateway publishing for several devices on one connection (the demo simulator);
    with ``topic_prefix`` it also hears their commands."""
    ids = list(device_ids)
    acls = [
        Acl("publishClientSend", topic)
        for device_id in ids
        for topic in device_topics(uplink_filters, device_id)
    ]
    if topic_prefix is None:
        return acls
    for device_id in ids:
        downlink = downlink_topic(topic_prefix, device_id)
        acls += [Acl("subscribeLiteral", downlink), Acl("publishClientReceive", downlink)]
    return acls


def commands_acls(downlinks: Sequence[str], answers: Sequence[str]) -> list[Acl]:
    """The command dispatcher: publish every downlink, hear the answers that come
    outside ingest (Tasmota's RESULT, Shelly's RPC responses) and the canonical acks,
    which ingest hears too."""
    acls = [Acl("publishClientSend", topic) for topic in downlinks]
    for topic in answers:
        acls += [Acl("subscribePattern", topic), Acl("publishClientReceive", topic)]
    return acls


def device_role(device_id: str) -> str:
    return f"device-{device_id}"


# -- the plugin's file, before the broker starts ------------------------------


def prepare_config_file(path: Path, admin_password: str) -> None:
    """Create the plugin's JSON file, or give its admin client a new password.

    Only while Mosquitto is stopped: the plugin owns the file while it runs.
    Devices, roles and the default ACL access kept from the last run stay.
    """
    config: dict[str, Any] = {"clients": [], "roles": [], "groups": []}
    if path.exists():
        config = json.loads(path.read_text())
    config["defaultACLAccess"] = dict(DEFAULT_ACL_ACCESS)
    clients = [c for c in config.get("clients", []) if c.get("username") != ADMIN_USERNAME]
    roles = [r for r in config.get("roles", []) if r.get("rolename") != ADMIN_USERNAME]
    config["clients"] = [_admin_client(admin_password), *clients]
    config["roles"] = [_admin_role(), *roles]
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        json.dump(config, file, indent=2)
    temporary.replace(path)


def _admin_client(password: str) -> dict[str, Any]:
    salt = secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, _PBKDF2_ROUNDS)
    return {
        "username": ADMIN_USERNAME,
        "textName": "Wattline's registry sync",
        "password": base64.b64encode(digest).decode(),
        "salt": base64.b64encode(salt).decode(),
        "iterations": _PBKDF2_ROUNDS,
        "roles": [{"rolename": ADMIN_USERNAME}],
    }


def _admin_role() -> dict[str, Any]:
    # The control topic only: unlike mosquitto_ctrl's "admin", no "#" and no $SYS.
    acls = [
        Acl("publishClientSend", CONTROL_TOPIC),
        Acl("subscribeLiteral", RESPONSE_TOPIC),
        Acl("subscribePattern", RESPONSE_TOPIC),
        Acl("publishClientReceive", RESPONSE_TOPIC),
    ]
    return {"rolename": ADMIN_USERNAME, "acls": [acl.command() for acl in acls]}


# -- the control topic --------------------------------------------------------


class DynSecClient:
    """An admin connection to the plugin: a list of commands in, their answers out."""

    def __init__(self, host: str, port: int, username: str, password: str) -> None:
        self._client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=f"wattline-dynsec-{uuid.uuid4().hex[:8]}",
            protocol=mqtt.MQTTv311,
        )
        self._client.username_pw_set(username, password)
        self._client.on_message = self._on_message
        self._host = host
        self._port = port
        self._lock = threading.Lock()  # one request in flight at a time
        self._waiting: dict[str, tuple[threading.Event, list[dict[str, Any]]]] = {}

    def connect(self) -> None:
        subscribed = threading.Event()
        self._client.on_subscribe = lambda *_args: subscribed.set()
        self._client.connect(self._host, self._port, keepalive=30)
        self._client.loop_start()
        self._client.subscribe(RESPONSE_TOPIC, qos=1)
        if not subscribed.wait(_REPLY_TIMEOUT_S):
            self.close()
            raise BrokerSyncError(f"no answer from the broker's control topic at {self._port}")

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def run(
        self, commands: Sequence[Mapping[str, Any]], tolerate: Sequence[str] = ()
    ) -> list[dict[str, Any]]:
        """Send the commands as one message; raise on an error not in ``tolerate``."""
        if not commands:
            return []
        tag = uuid.uuid4().hex
        tagged = [
            {**command, "correlationData": f"{tag}-{i}"} for i, command in enumerate(commands)
        ]
        done = threading.Event()
        answers: list[dict[str, Any]] = []
        with self._lock:
            self._waiting[tag] = (done, answers)
            try:
                self._client.publish(CONTROL_TOPIC, json.dumps({"commands": tagged}), qos=1)
                if not done.wait(_REPLY_TIMEOUT_S):
                    raise BrokerSyncError(f"the broker did not answer {commands[0]['command']}")
            finally:
                del self._waiting[tag]
        for answer in answers:
            error = answer.get("error")
            if error and not any(part in error for part in tolerate):
                raise BrokerSyncError(f"{answer.get('command')}: {error}")
        return answers

    def _on_message(self, _client: mqtt.Client, _userdata: object, msg: mqtt.MQTTMessage) -> None:
        try:
            responses = json.loads(msg.payload)["responses"]
        except (ValueError, KeyError, TypeError):
            return
        tag = str(responses[0].get("correlationData", "")).rsplit("-", 1)[0] if responses else ""
        waiting = self._waiting.get(tag)
        if waiting is not None:
            waiting[1].extend(responses)
            waiting[0].set()


class DynSecAccounts:
    """``BrokerAccounts`` through the plugin: one client and one role per device."""

    def __init__(
        self, client: DynSecClient, uplink_filters: Sequence[str], topic_prefix: str
    ) -> None:
        self._client = client
        self._uplinks = tuple(uplink_filters)
        self._prefix = topic_prefix

    def grant(self, device_id: str, password: str) -> None:
        # Deleting first disconnects a session still using an earlier password and
        # replaces a role made under other topic settings.
        self.service_account(device_id, password, device_role(device_id), self._device(device_id))

    def revoke(self, device_id: str) -> None:
        self._client.run([{"command": "disableClient", "username": device_id}], tolerate=_ALREADY)

    def service_account(
        self, username: str, password: str, rolename: str, acls: Sequence[Acl]
    ) -> None:
        """Create (or re-create) a client with this password and a role of its own."""
        self._client.run(
            [
                {"command": "deleteClient", "username": username},
                {"command": "deleteRole", "rolename": rolename},
            ],
            tolerate=_ALREADY,
        )
        self._client.run(
            [
                {
                    "command": "createRole",
                    "rolename": rolename,
                    "acls": [acl.command() for acl in acls],
                },
                {
                    "command": "createClient",
                    "username": username,
                    "password": password,
                    "roles": [{"rolename": rolename, "priority": 0}],
                },
            ]
        )

    def collector(self, password: str) -> None:
        acls = collector_acls(self._uplinks, self._prefix)
        self.service_account(COLLECTOR_USERNAME, password, COLLECTOR_USERNAME, acls)

    def publisher(self, username: str, password: str, device_ids: Iterable[str]) -> None:
        self.service_account(
            username, password, username, publisher_acls(device_ids, self._uplinks, self._prefix)
        )

    def _device(self, device_id: str) -> list[Acl]:
        return device_acls(device_id, self._uplinks, self._prefix)
