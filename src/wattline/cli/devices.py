"""``wattline devices``: register devices with their credentials, and list them.

The secrets are printed once, as ``POST /api/v1/devices`` answers them; Wattline
keeps only their hashes. In security mode the device's broker account is made
too, which needs the broker's admin (WATTLINE_DYNSEC_URL): a command cannot
reach the embedded broker's, which only the running ``wattline up`` knows.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from wattline.cli.options import DatabaseUrl, DataDir, fail, settings_from
from wattline.model.times import iso_ms
from wattline.protocols.validation import DEVICE_ID_RE
from wattline.runtime.errors import StartupError
from wattline.security.device_credentials import CredentialKind
from wattline.security.principal import Principal, PrincipalKind
from wattline.security.roles import Role
from wattline.storage.base import StoreUnavailableError
from wattline.storage.tenancy import DEFAULT_TENANT, DeviceIdTakenError

if TYPE_CHECKING:
    from wattline.config import Settings
    from wattline.security.device_credentials import BrokerAccounts
    from wattline.storage.sql import SqlStore

app = typer.Typer(name="devices", help="Register and list devices.", no_args_is_help=True)
out = Console(soft_wrap=True, highlight=False, markup=False)

Tenant = Annotated[str, typer.Option("--tenant", help="the tenant the device belongs to")]


def _kinds(text: str) -> list[CredentialKind]:
    kinds = []
    for name in filter(None, (part.strip() for part in text.split(","))):
        try:
            kinds.append(CredentialKind(name))
        except ValueError:
            fail(f"unknown credential {name!r}: use mqtt_password, http_token or both")
    return list(dict.fromkeys(kinds))


def _open(settings: Settings) -> SqlStore:
    from wattline.runtime.backends import open_store

    try:
        return open_store(settings)
    except StoreUnavailableError as exc:
        fail(f"database unavailable: {exc}", code=1)


@app.command()
def add(  # noqa: PLR0913, PLR0917 - one parameter per documented flag
    device_id: Annotated[str, typer.Argument(help="letters, digits, '-' and '_'")],
    device_type: Annotated[str | None, typer.Option("--type", help="the device's type")] = None,
    tags: Annotated[
        list[str] | None, typer.Option("--tag", help="a label; repeat for more")
    ] = None,
    credentials: Annotated[
        str, typer.Option("--credentials", help="mqtt_password,http_token: issue these too")
    ] = "",
    tenant: Tenant = DEFAULT_TENANT,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Register a device (idempotent) and print the credentials asked for, once."""
    if not DEVICE_ID_RE.fullmatch(device_id):
        fail(f"invalid device id {device_id!r}: letters, digits, '-' and '_', at most 64")
    from wattline.runtime.broker_accounts import admin_accounts
    from wattline.runtime.ingest import prepare_ingest, uplink_filters

    kinds = _kinds(credentials)
    settings = settings_from(data_dir=data_dir, database_url=database_url)
    try:
        filters = uplink_filters(prepare_ingest(settings))
        with admin_accounts(settings, filters) as broker:
            store = _open(settings)
            try:
                _add(store, broker, tenant, device_id, device_type, tags, kinds)
            finally:
                store.close()
    except StartupError as exc:
        fail(str(exc))


def _add(  # noqa: PLR0913, PLR0917 - what `add` was given
    store: SqlStore,
    broker: BrokerAccounts | None,
    tenant: str,
    device_id: str,
    device_type: str | None,
    tags: list[str] | None,
    kinds: list[CredentialKind],
) -> None:
    from prometheus_client import CollectorRegistry

    from wattline.api.audit_trail import AuditTrail
    from wattline.api.provisioning import DeviceKeys, ProvisioningError
    from wattline.storage.audit_sink import StoreAuditSink
    from wattline.storage.sql.audit import SqlAuditStore

    if store.identity.get_tenant(tenant) is None:
        fail(f"no tenant {tenant!r}")
    # The command line acts as the tenant's owner, as the admin token does.
    actor = Principal(PrincipalKind.BOOTSTRAP, "cli", tenant, Role.OWNER, "command line")
    audit = AuditTrail(
        StoreAuditSink(SqlAuditStore(store.engine), CollectorRegistry()), actor, None
    )
    keys = DeviceKeys(store, broker, tenant, audit.record)
    try:
        keys.check(device_id, kinds)
        device, created = store.register_device(
            device_id, device_type, time.time_ns() // 1_000_000, tags, tenant_id=tenant
        )
        audit.record(
            "device.create" if created else "device.update",
            f"device:{device_id}",
            {"type": device.device_type, "tags": list(device.tags)},
        )
        issued = [keys.issue(device_id, kind) for kind in kinds]
    except (ProvisioningError, DeviceIdTakenError) as exc:
        fail(str(exc), code=1)
    out.print(f"{'registered' if created else 'updated'} {device_id} in {tenant}")
    for credential in issued:
        username = credential.credential.username
        login = f" (username {username})" if username else ""
        out.print(f"{credential.credential.kind.value}{login}: {credential.secret}")
    if issued:
        out.print("secrets are shown this once; Wattline keeps only their hashes")


@app.command("list")
def list_(
    tenant: Tenant = DEFAULT_TENANT,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """The tenant's devices: id, type, tags, last seen."""
    from wattline.storage.keyset import DeviceFilter

    settings = settings_from(data_dir=data_dir, database_url=database_url)
    store = _open(settings)
    try:
        after = None
        while page := store.device_page(after, 500, DeviceFilter(), tenant_id=tenant):
            for device in page:
                seen = iso_ms(device.last_seen_ms) if device.last_seen_ms is not None else "-"
                tags = ",".join(device.tags) or "-"
                # tab-separated for scripts (rich would expand the tabs)
                typer.echo(f"{device.device_id}\t{device.device_type or '-'}\t{tags}\t{seen}")
            after = page[-1].device_id
    finally:
        store.close()
