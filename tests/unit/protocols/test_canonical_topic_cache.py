"""The canonical adapter remembers topics that passed, and only those, within a bound."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wattline.model.messages import RejectReason
from wattline.protocols.adapters import Payload, canonical
from wattline.protocols.adapters.canonical import CanonicalAdapter
from wattline.protocols.errors import ProtocolError
from wattline.protocols.validation import Limits

NOW = 1_764_057_600_000
BODY = Payload(b'{"seq": 1, "ts": 1764057600000, "metrics": {"power_w": 1.5}}')


def parse(adapter: CanonicalAdapter, topic: str) -> tuple[str, str] | None:
    out = adapter.parse(topic, BODY, NOW, Limits())
    return None if out is None else (out.device_id, out.kind)


# Topics of any shape: good and bad device ids, kinds, prefixes, downlinks, extra levels.
levels = st.sampled_from(["iot", "site", "m1", "bad id", "", "x" * 65, "telemetry", "command"])
topics = st.lists(levels, min_size=1, max_size=4).map("/".join)


@given(topic_list=st.lists(topics, max_size=20), prefix=st.sampled_from(["iot", "site", ""]))
def test_a_topic_reads_the_same_the_second_time_and_after_the_cache_is_emptied(
    topic_list: list[str], prefix: str
) -> None:
    adapter = CanonicalAdapter(prefix=prefix)

    def outcome(topic: str) -> object:
        try:
            return parse(adapter, topic)
        except ProtocolError as error:
            return error.reason

    first = [outcome(t) for t in topic_list]
    assert [outcome(t) for t in topic_list] == first
    canonical._KNOWN_TOPICS.clear()
    assert [outcome(t) for t in topic_list] == first


def test_a_bad_device_id_is_refused_every_time_never_remembered() -> None:
    adapter = CanonicalAdapter()
    for _ in range(2):
        with pytest.raises(ProtocolError) as raised:
            parse(adapter, "iot/bad id/telemetry")
        assert raised.value.reason is RejectReason.BAD_DEVICE_ID
    assert ("iot", "iot/bad id/telemetry") not in canonical._KNOWN_TOPICS


def test_two_prefixes_do_not_share_an_entry() -> None:
    assert parse(CanonicalAdapter(prefix="iot"), "iot/m1/telemetry") == ("m1", "telemetry")
    # the same text under another prefix: the device is "iot", and the kind is unknown
    assert parse(CanonicalAdapter(prefix=""), "iot/m1/telemetry") is None


def test_the_cache_never_holds_more_than_its_bound() -> None:
    adapter = CanonicalAdapter()
    for i in range(canonical._KNOWN_TOPICS_MAX + 500):
        assert parse(adapter, f"iot/d{i}/telemetry") == (f"d{i}", "telemetry")
    assert 0 < len(canonical._KNOWN_TOPICS) <= canonical._KNOWN_TOPICS_MAX
