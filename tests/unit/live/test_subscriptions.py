"""Subscription matching and visibility: tables for the rules, hypothesis for the laws."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wattline.live.catchup import MAX_DEVICES, catch_up_devices
from wattline.live.events import EventKind, LiveEvent
from wattline.live.subscriptions import ALL_METRICS, Audience, Subscription, wanted_metrics
from wattline.model.devices import Device
from wattline.model.messages import ConnectionState


def reading(
    device: str = "d1",
    metrics: dict[str, float] | None = None,
    device_type: str | None = "meter",
    tags: tuple[str, ...] = ("roof",),
    tenant: str = "t1",
) -> LiveEvent:
    payload = {"metrics": metrics or {"power_w": 1.0}, "seq": 1}
    return LiveEvent(EventKind.READING, tenant, device, 1000, payload, device_type, tags)


ANY = Subscription()


@pytest.mark.parametrize(
    ("subscription", "event", "expected"),
    [
        (ANY, reading(), True),
        (Subscription(devices=frozenset({"d1"})), reading(), True),
        (Subscription(devices=frozenset({"d2"})), reading(), False),
        (Subscription(types=frozenset({"meter"})), reading(), True),
        (Subscription(types=frozenset({"plug"})), reading(), False),
        (Subscription(types=frozenset({"plug"})), reading(device_type=None), False),
        (Subscription(tags=frozenset({"roof", "cellar"})), reading(), True),
        (Subscription(tags=frozenset({"cellar"})), reading(), False),
        (Subscription(metrics=frozenset({"power_w"})), reading(), True),
        (Subscription(metrics=frozenset({"voltage_v"})), reading(), False),
        # dimensions narrow together
        (Subscription(devices=frozenset({"d1"}), types=frozenset({"plug"})), reading(), False),
        # kinds: alerts only when asked for
        (ANY, LiveEvent(EventKind.ALERT, "t1", "d1", 1, {}), False),
        (
            Subscription(kinds=frozenset({EventKind.ALERT})),
            LiveEvent(EventKind.ALERT, "t1", "d1", 1, {}),
            True,
        ),
        # a tenant-wide alert reaches only subscriptions not narrowed to devices
        (
            Subscription(kinds=frozenset({EventKind.ALERT})),
            LiveEvent(EventKind.ALERT, "t1", None, 1, {}),
            True,
        ),
        (
            Subscription(devices=frozenset({"d1"}), kinds=frozenset({EventKind.ALERT})),
            LiveEvent(EventKind.ALERT, "t1", None, 1, {}),
            False,
        ),
        # a status is not filtered by metric
        (
            Subscription(metrics=frozenset({"voltage_v"})),
            LiveEvent(EventKind.STATUS, "t1", "d1", 1, {"state": "online"}),
            True,
        ),
        (
            Subscription(kinds=frozenset({EventKind.READING})),
            LiveEvent(EventKind.STATUS, "t1", "d1", 1, {}),
            False,
        ),
    ],
)
def test_matches(subscription: Subscription, event: LiveEvent, expected: bool) -> None:
    assert subscription.matches(event) is expected


def test_audience_is_the_tenant_plus_shared_devices() -> None:
    audience = Audience("t1", frozenset({"shared-1"}))
    assert audience.may_see(reading(tenant="t1"))
    assert not audience.may_see(reading(tenant="t2"))
    assert audience.may_see(reading(device="shared-1", tenant="t2"))
    assert not audience.may_see(LiveEvent(EventKind.ALERT, "t2", None, 1, {}))


def test_wanted_metrics_is_the_union_of_matching_filters() -> None:
    event = reading(metrics={"power_w": 1.0, "voltage_v": 230.0, "current_a": 2.0})
    power = Subscription(metrics=frozenset({"power_w"}))
    volts = Subscription(metrics=frozenset({"voltage_v", "frequency_hz"}))
    other = Subscription(devices=frozenset({"elsewhere"}))
    assert wanted_metrics([power, volts], event) == {"power_w", "voltage_v", "frequency_hz"}
    assert wanted_metrics([power, ANY], event) == ALL_METRICS
    assert wanted_metrics([other], event) is None
    assert wanted_metrics([], event) is None


names = st.sampled_from(["a", "b", "c", "d"])
name_sets = st.frozensets(names, max_size=3)
subscriptions = st.builds(
    Subscription, devices=name_sets, types=name_sets, tags=name_sets, metrics=name_sets
)
events = st.builds(
    lambda device, device_type, tags, metrics: reading(
        device, dict.fromkeys(metrics, 1.0) or {"a": 1.0}, device_type, tuple(tags)
    ),
    names,
    st.none() | names,
    st.lists(names, max_size=3),
    st.lists(names, min_size=1, max_size=3),
)


@given(subscriptions, events)
def test_a_match_satisfies_every_listed_dimension(sub: Subscription, event: LiveEvent) -> None:
    expected = (
        (not sub.devices or event.device_id in sub.devices)
        and (not sub.types or event.device_type in sub.types)
        and (not sub.tags or bool(sub.tags & set(event.tags)))
        and (not sub.metrics or bool(sub.metrics & set(event.payload["metrics"])))
    )
    assert sub.matches(event) is expected


@given(st.lists(subscriptions, max_size=4), events)
def test_wanted_metrics_agrees_with_matches(subs: list[Subscription], event: LiveEvent) -> None:
    wanted = wanted_metrics(subs, event)
    matching = [s for s in subs if s.matches(event)]
    if not matching:
        assert wanted is None
    elif any(not s.metrics for s in matching):
        assert wanted == ALL_METRICS
    else:
        assert wanted == frozenset().union(*(s.metrics for s in matching))


def device(device_id: str, device_type: str | None = None, tags: tuple[str, ...] = ()) -> Device:
    return Device(device_id, device_type, None, (), 0, None, ConnectionState.UNKNOWN, None, tags)


def test_a_catch_up_covers_the_visible_devices_the_subscription_names_at_most_a_limit() -> None:
    visible = [device("a", "meter", ("roof",)), device("b", "plug"), device("c", "meter")]
    by_type = Subscription(types=frozenset({"meter"}))
    assert catch_up_devices(by_type, visible) == (["a", "c"], False)
    by_tag = Subscription(tags=frozenset({"roof"}), devices=frozenset({"a", "b"}))
    assert catch_up_devices(by_tag, visible) == (["a"], False)
    many = [device(f"d{i:03d}") for i in range(MAX_DEVICES + 1)]
    chosen, cut = catch_up_devices(Subscription(), many)
    assert (len(chosen), cut) == (MAX_DEVICES, True)
