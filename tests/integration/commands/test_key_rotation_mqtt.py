"""A command-key rotation reaches devices in the field through a real Mosquitto, on
both stores: ``set_command_key`` signed with the old key, installed by the simulated
device, after which commands signed with the new key verify."""

from __future__ import annotations

import uuid
from typing import Any

from tests.e2e.conftest import wait_until
from tests.integration.commands.test_commands_mqtt import AUTH, Rig
from tests.integration.commands.test_commands_mqtt import rig as rig  # noqa: PLC0414 - fixture

from wattline.commands.envelopes import SET_COMMAND_KEY, SIGNED_BY
from wattline.storage.schema import DEFAULT_TENANT


def _rotate(rig: Rig, grace_s: float) -> list[dict[str, Any]]:
    answer = rig.api.post(f"/api/v1/commands/keys/rotate?grace_s={grace_s}", headers=AUTH)
    assert answer.status_code == 201, answer.text
    keys: list[dict[str, Any]] = answer.json()
    return keys


def _commands(rig: Rig, device_id: str) -> list[dict[str, Any]]:
    answer = rig.api.get(f"/api/v1/devices/{device_id}/commands", headers=AUTH)
    assert answer.status_code == 200, answer.text
    found: list[dict[str, Any]] = answer.json()["commands"]
    return found


def _ping(rig: Rig) -> str:
    answer = rig.api.post(
        f"/api/v1/devices/{rig.plug_id}/commands", json={"name": "ping"}, headers=AUTH
    )
    assert answer.status_code == 201, answer.text
    command_id: str = answer.json()["command_id"]
    wait_until(lambda: rig.detail(command_id)["state"] == "succeeded", 5, "the ping's ack")
    return command_id


def _key_notice(rig: Rig) -> dict[str, Any]:
    notices = [c for c in _commands(rig, rig.plug_id) if c["name"] == SET_COMMAND_KEY]
    assert len(notices) == 1, notices
    return notices[0]


def test_an_online_device_switches_to_the_new_key(rig: Rig) -> None:
    shelly = f"shelly-{uuid.uuid4().hex[:8]}"
    rig.store.register_device(shelly, "shelly_gen2", 0, tenant_id=DEFAULT_TENANT)
    rig.start()
    rig.device_online()
    _ping(rig)  # provisioned with the key of this moment
    old = rig.service.keys.public_keys(DEFAULT_TENANT)[0].key_id
    assert rig.responder.key_ids(rig.plug_id) == [old]
    keys = _rotate(rig, 3600)
    new = keys[0]["key_id"]
    assert [k["key_id"] for k in keys] == [new, old]
    notice = _key_notice(rig)
    assert notice["parameters"][SIGNED_BY] == old
    assert notice["parameters"]["key_id"] == new
    wait_until(lambda: rig.detail(notice["command_id"])["state"] == "succeeded", 5, "the key's ack")
    assert rig.detail(notice["command_id"])["result"] == f"command key {new} installed"
    assert sorted(rig.responder.key_ids(rig.plug_id)) == sorted([old, new])
    # commands are now signed with the new key, and the device takes them
    _ping(rig)
    assert (
        rig.service.envelope(rig.service.get(DEFAULT_TENANT, notice["command_id"]))["key_id"] == old
    )  # a resent notice is still signed with the key the device held
    # devices that verify nothing are sent nothing
    assert _commands(rig, shelly) == []


def test_an_offline_device_gets_the_key_when_it_comes_back(rig: Rig) -> None:
    rig.start()
    stop = rig.device_online()
    _ping(rig)
    stop()
    wait_until(lambda: rig.state() == "offline", 5, "the plug to be offline")
    old = rig.service.keys.public_keys(DEFAULT_TENANT)[0].key_id
    new = _rotate(rig, 600)[0]["key_id"]
    notice = _key_notice(rig)
    assert rig.detail(notice["command_id"])["state"] == "queued"
    assert rig.responder.key_ids(rig.plug_id) == [old]
    rig.device_online()
    wait_until(lambda: rig.detail(notice["command_id"])["state"] == "succeeded", 5, "the key's ack")
    assert new in rig.responder.key_ids(rig.plug_id)
    _ping(rig)


def test_without_a_grace_period_nothing_is_pushed_and_the_device_refuses(rig: Rig) -> None:
    rig.start()
    rig.device_online()
    _ping(rig)
    _rotate(rig, 0)
    assert [c["name"] for c in _commands(rig, rig.plug_id)] == ["ping"]
    # the device still holds only the old key: it must be re-provisioned
    answer = rig.api.post(
        f"/api/v1/devices/{rig.plug_id}/commands", json={"name": "ping"}, headers=AUTH
    )
    command_id = answer.json()["command_id"]
    wait_until(lambda: rig.detail(command_id)["state"] == "rejected", 5, "the refusal")
    assert rig.detail(command_id)["result"].startswith("unknown signing key")
