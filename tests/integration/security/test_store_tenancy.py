"""Tenant scoping in the store itself: every registry call filters by tenant in SQL."""

from __future__ import annotations

import pytest
from tests.integration.security.tenants import add_user

from wattline.security.roles import Role
from wattline.storage.keyset import DeviceFilter
from wattline.storage.sql import SqlStore
from wattline.storage.tenancy import DeviceIdTakenError, UserRef

T0 = 1_764_057_600_000


@pytest.fixture
def two_tenants(store: SqlStore) -> SqlStore:
    store.register_device("a-1", "smart_plug", T0, ["kitchen"], tenant_id="t1")
    store.register_device("a-2", "meter", T0, tenant_id="t1")
    store.register_device("b-1", "smart_plug", T0, ["kitchen"], tenant_id="t2")
    return store


def test_a_tenant_sees_only_its_devices(two_tenants: SqlStore) -> None:
    store = two_tenants
    assert store.get_device("b-1", tenant_id="t1") is None
    assert store.get_device("a-1", tenant_id="t1") is not None
    assert [d.device_id for d in store.list_devices(tenant_id="t1")] == ["a-1", "a-2"]
    assert [d.device_id for d in store.device_page(None, 10, tenant_id="t2")] == ["b-1"]
    kitchen = DeviceFilter(tag="kitchen")
    assert [d.device_id for d in store.device_page(None, 10, kitchen, tenant_id="t1")] == ["a-1"]
    by_type = DeviceFilter(device_type="smart_plug")
    assert [d.device_id for d in store.device_page(None, 10, by_type, tenant_id="t2")] == ["b-1"]
    assert store.list_devices(tenant_id="t3") == []
    assert store.readable_device_ids(["a-1", "b-1"], tenant_id="t1", user_id=None) == {"a-1"}


def test_another_tenants_device_cannot_be_deleted_or_retagged(two_tenants: SqlStore) -> None:
    store = two_tenants
    assert store.delete_device("b-1", tenant_id="t1") is None
    with pytest.raises(DeviceIdTakenError, match=r"^device id is taken$"):
        store.register_device("b-1", None, T0, ["mine"], tenant_id="t1")
    untouched = store.get_device("b-1", tenant_id="t2")
    assert untouched is not None
    assert untouched.tags == ("kitchen",)
    assert store.delete_device("b-1", tenant_id="t2") is not None
    assert store.get_device("b-1", tenant_id="t2") is None


def test_a_share_makes_one_device_readable_until_revoked(two_tenants: SqlStore) -> None:
    store = two_tenants
    add_user(store, "u-bob", "bob@t2.example")
    bob = store.find_user("Bob@T2.example")
    assert bob == UserRef("u-bob", "bob@t2.example")
    assert store.find_user("u-bob") == bob
    assert store.readable_device("a-1", tenant_id="t2", user_id="u-bob") is None

    assert (
        store.share_device(
            "b-1", tenant_id="t1", user=bob, role=Role.VIEWER, shared_by="x", now_ms=T0
        )
        is None
    )  # not t1's to share
    share = store.share_device(
        "a-1", tenant_id="t1", user=bob, role=Role.OPERATOR, shared_by="u-ana", now_ms=T0
    )
    assert share is not None
    grant = store.readable_device("a-1", tenant_id="t2", user_id="u-bob")
    assert grant is not None
    assert (grant.device.device_id, grant.share_role) == ("a-1", Role.OPERATOR)
    assert store.readable_device("a-2", tenant_id="t2", user_id="u-bob") is None
    assert store.readable_device_ids(["a-1", "a-2"], tenant_id="t2", user_id="u-bob") == {"a-1"}
    # the owner's own view is unchanged, and t2's lists still hold only t2's devices
    own = store.readable_device("a-1", tenant_id="t1", user_id=None)
    assert own is not None
    assert own.share_role is None
    assert [d.device_id for d in store.list_devices(tenant_id="t2")] == ["b-1"]
    assert [s.device.device_id for s in store.shared_devices("u-bob")] == ["a-1"]
    assert store.device_shares("a-1", tenant_id="t2") is None
    listed = store.device_shares("a-1", tenant_id="t1")
    assert listed is not None
    assert [(s.user.email, s.role) for s in listed] == [("bob@t2.example", Role.OPERATOR)]

    assert not store.revoke_share("a-1", tenant_id="t2", user_id="u-bob")
    assert store.revoke_share("a-1", tenant_id="t1", user_id="u-bob")
    assert store.readable_device("a-1", tenant_id="t2", user_id="u-bob") is None
    assert store.shared_devices("u-bob") == []


def test_deleting_a_device_ends_its_shares(two_tenants: SqlStore) -> None:
    store = two_tenants
    add_user(store, "u-bob", "bob@t2.example")
    bob = UserRef("u-bob", "bob@t2.example")
    store.share_device("a-1", tenant_id="t1", user=bob, role=Role.VIEWER, shared_by="x", now_ms=T0)
    store.delete_device("a-1", tenant_id="t1")
    # the id registered again, by someone else: the old share does not carry over
    store.register_device("a-1", None, T0, tenant_id="t3")
    assert store.readable_device("a-1", tenant_id="t2", user_id="u-bob") is None
