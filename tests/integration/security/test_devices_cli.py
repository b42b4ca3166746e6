"""``wattline devices``: register with credentials printed once, list; the broker's account
in security mode."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url
from tests.conftest import free_port, unavailable
from tests.integration.broker.test_dynsec import Client
from typer.testing import CliRunner

from wattline.broker.dynsec import ADMIN_USERNAME, find_plugin
from wattline.broker.mosquitto import DynamicSecurity, MosquittoBroker, find_mosquitto
from wattline.cli.main import app
from wattline.security.device_credentials import hash_secret
from wattline.storage.schema import DEFAULT_TENANT
from wattline.storage.sql import SqlStore
from wattline.storage.sql.audit import SqlAuditStore


@pytest.fixture
def where(store: SqlStore, tmp_path: Path, request: pytest.FixtureRequest) -> list[str]:
    args = ["--data-dir", str(tmp_path)]
    if store.engine.dialect.name == "postgresql":
        url = make_url(request.getfixturevalue("postgres_url"))
        args += ["--database-url", url.render_as_string(hide_password=False)]
    store.identity.ensure_tenant(DEFAULT_TENANT, "Default", 0)
    return args


def secret(output: str, kind: str) -> str:
    found = re.search(rf"^{kind}.*: (\S+)$", output, re.MULTILINE)
    assert found, output
    return found.group(1)


def test_add_prints_the_token_once_and_list_shows_the_device(
    store: SqlStore, where: list[str]
) -> None:
    runner = CliRunner()
    args = ["devices", "add", "plug-1", "--type", "plug", "--tag", "kitchen"]
    added = runner.invoke(app, [*args, "--credentials", "http_token", *where])
    assert added.exit_code == 0, added.output
    token = secret(added.output, "http_token")
    found = store.credential_for_secret(hash_secret(token))
    assert found is not None
    assert (found.device_id, found.tenant_id) == ("plug-1", DEFAULT_TENANT)
    listed = runner.invoke(app, ["devices", "list", *where])
    assert listed.exit_code == 0, listed.output
    assert "plug-1\tplug\tkitchen" in listed.output
    assert token not in listed.output
    actions = [e.action for e in SqlAuditStore(store.engine).audit_page(DEFAULT_TENANT, None, 10)]
    assert {"device.create", "device_credential.create"} <= set(actions)


def test_mqtt_passwords_are_refused_with_security_off(
    store: SqlStore, where: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = CliRunner()
    add = ["devices", "add", "plug-2", "--credentials", "mqtt_password", *where]
    off = runner.invoke(app, add)
    assert off.exit_code == 1
    assert "WATTLINE_SECURITY=on" in off.output
    assert store.get_device("plug-2", tenant_id=DEFAULT_TENANT) is None
    monkeypatch.setenv("WATTLINE_SECURITY", "on")
    monkeypatch.delenv("WATTLINE_DYNSEC_URL", raising=False)
    embedded = runner.invoke(app, add)
    assert embedded.exit_code == 2
    assert "WATTLINE_DYNSEC_URL" in embedded.output
    assert store.get_device("plug-2", tenant_id=DEFAULT_TENANT) is None


@pytest.fixture
def dynsec_url(tmp_path: Path) -> Iterator[tuple[str, int]]:
    binary, plugin = find_mosquitto(), find_plugin()
    if binary is None or plugin is None:
        unavailable("Mosquitto with its dynamic-security plugin is not installed")
    assert binary is not None
    assert plugin is not None
    password = uuid.uuid4().hex
    port = free_port()
    broker = MosquittoBroker(
        binary, "127.0.0.1", port, tmp_path / "mosquitto", DynamicSecurity(plugin, password)
    )
    asyncio.run(broker.start())
    try:
        yield f"mqtt://{ADMIN_USERNAME}:{password}@127.0.0.1:{port}", port
    finally:
        asyncio.run(broker.stop())


@pytest.mark.timeout(60)
def test_security_mode_makes_the_broker_account(
    store: SqlStore,
    where: list[str],
    dynsec_url: tuple[str, int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, port = dynsec_url
    monkeypatch.setenv("WATTLINE_SECURITY", "on")
    monkeypatch.setenv("WATTLINE_DYNSEC_URL", url)
    added = CliRunner().invoke(
        app, ["devices", "add", "meter-1", "--credentials", "mqtt_password", *where]
    )
    assert added.exit_code == 0, added.output
    assert "(username meter-1)" in added.output
    password = secret(added.output, "mqtt_password")
    device, intruder = Client(port, "meter-1", password), Client(port, "meter-1", "wrong")
    try:
        assert device.wait_connected()
        assert not intruder.wait_connected()
    finally:
        device.close()
        intruder.close()
