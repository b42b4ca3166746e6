"""Security mode's broker accounts: the admin link to the broker, and Wattline's own clients.

With ``WATTLINE_SECURITY=on`` Wattline connects to Mosquitto's dynamic-security
plugin as its admin (the embedded broker's password is made at each start; an
external broker's comes from ``WATTLINE_DYNSEC_URL``), gives the collector and
the demo simulator accounts of their own, and hands the API the
``BrokerAccounts`` it keeps devices' MQTT credentials in step through.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field

from wattline.broker.dynsec import (
    ADMIN_USERNAME,
    COLLECTOR_USERNAME,
    SIMULATOR_USERNAME,
    Acl,
    DynSecAccounts,
    DynSecClient,
    commands_acls,
)
from wattline.broker.mosquitto import MosquittoBroker
from wattline.config import Settings
from wattline.ingest.sources.base import MqttEndpoint
from wattline.runtime.broker import Broker
from wattline.runtime.errors import StartupError
from wattline.security.device_credentials import BrokerSyncError
from wattline.simulator import build_fleet


@dataclass(frozen=True, slots=True)
class Login:
    username: str
    password: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class BrokerSecurity:
    accounts: DynSecAccounts
    collector: Login | None  # None: the collector logs in as WATTLINE_MQTT_URL says
    simulator: Login | None  # the demo fleet's one connection; None outside demo mode
    commands: Login | None = None  # the command dispatcher's


@contextlib.asynccontextmanager
async def broker_security(
    settings: Settings, broker: Broker | None, uplink_filters: Sequence[str]
) -> AsyncIterator[BrokerSecurity | None]:
    """None with security off; else the accounts, made before the collector connects."""
    if settings.security == "off":
        yield None
        return
    client = _admin_client(settings, broker)
    try:
        await asyncio.to_thread(client.connect)
    except (OSError, BrokerSyncError) as exc:
        raise StartupError(f"cannot reach the broker's dynamic-security admin: {exc}") from exc
    try:
        accounts = DynSecAccounts(client, uplink_filters, settings.topic_prefix)
        security = await asyncio.to_thread(_service_accounts, settings, broker, accounts)
        yield security
    finally:
        await asyncio.to_thread(client.close)


def _admin_client(settings: Settings, broker: Broker | None) -> DynSecClient:
    if isinstance(broker, MosquittoBroker) and broker.security is not None:
        password = broker.security.admin_password
        return DynSecClient(broker.host, broker.port, ADMIN_USERNAME, password)
    if settings.dynsec_url is None:
        raise StartupError(
            "WATTLINE_SECURITY=on with an external broker needs WATTLINE_DYNSEC_URL "
            "(mqtt://admin:password@host:port of its dynamic-security admin)"
        )
    admin = MqttEndpoint.from_url(settings.dynsec_url)
    if admin.username is None or admin.password is None:
        raise StartupError("WATTLINE_DYNSEC_URL must carry the admin's username and password")
    return DynSecClient(admin.host, admin.port, admin.username, admin.password)


def _service_accounts(
    settings: Settings, broker: Broker | None, accounts: DynSecAccounts
) -> BrokerSecurity:
    collector = None
    if broker is not None:
        collector = Login(COLLECTOR_USERNAME, secrets.token_urlsafe(32))
        accounts.collector(collector.password)
    simulator = None
    if settings.demo and settings.sim_devices > 0:
        simulator = Login(SIMULATOR_USERNAME, secrets.token_urlsafe(32))
        fleet = build_fleet(settings.sim_devices, settings.sim_seed)
        accounts.publisher(simulator.username, simulator.password, [d.device_id for d in fleet])
    commands = Login(COMMANDS_USERNAME, secrets.token_urlsafe(32))
    accounts.service_account(
        commands.username, commands.password, COMMANDS_USERNAME, _commands_acls(settings)
    )
    return BrokerSecurity(accounts, collector, simulator, commands)


COMMANDS_USERNAME = "wattline-commands"


def _commands_acls(settings: Settings) -> list[Acl]:
    prefix, plug = settings.topic_prefix, settings.smartplug_topic_prefix
    downlinks = [
        f"{prefix}/+/command",
        f"{prefix}/+/config",
        f"{plug}/+/control",
        f"{plug}/+/config",
        "cmnd/+/POWER",
        "+/rpc",
    ]
    answers = ["stat/+/RESULT", f"{COMMANDS_USERNAME}/rpc", f"{prefix}/+/command/ack"]
    return commands_acls(downlinks, answers)


def with_login(url: str, login: Login | None) -> MqttEndpoint:
    """The endpoint of ``url``, logged in as ``login`` when there is one."""
    endpoint = MqttEndpoint.from_url(url)
    if login is None:
        return endpoint
    return MqttEndpoint(endpoint.host, endpoint.port, login.username, login.password)


@contextlib.contextmanager
def admin_accounts(
    settings: Settings, uplink_filters: Sequence[str]
) -> Iterator[DynSecAccounts | None]:
    """The broker's accounts for a command run beside Wattline (``wattline devices add``):
    None with security off. The embedded broker's admin password is made at each
    start and lives only in the running ``wattline up``, so a command reaches only an
    external broker's admin, through WATTLINE_DYNSEC_URL."""
    if settings.security == "off":
        yield None
        return
    if settings.dynsec_url is None:
        raise StartupError(
            "security is on and only the running `wattline up` holds the embedded broker's"
            " admin password: use POST /api/v1/devices, or set WATTLINE_DYNSEC_URL"
        )
    client = _admin_client(settings, None)
    try:
        client.connect()
    except (OSError, BrokerSyncError) as exc:
        raise StartupError(f"cannot reach the broker's dynamic-security admin: {exc}") from exc
    try:
        yield DynSecAccounts(client, uplink_filters, settings.topic_prefix)
    finally:
        client.close()
