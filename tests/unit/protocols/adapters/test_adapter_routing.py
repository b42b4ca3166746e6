"""Routing: which adapter claims a topic, prefixes, the registry and the settings."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from wattline.config import Settings
from wattline.ingest.interpret import InterpretConfig, interpret
from wattline.model.messages import InboundMessage, Interpreted, Rejection, RejectReason
from wattline.protocols.adapters import ADAPTERS, Adapter, Payload, build_adapters
from wattline.protocols.errors import ProtocolError
from wattline.protocols.topics import check_prefix
from wattline.protocols.validation import Limits
from wattline.runtime.errors import StartupError
from wattline.runtime.ingest import prepare_ingest

NOW_MS = 1_764_057_600_000
TELEMETRY = b'{"ts": 1764057600000, "metrics": {"power_w": 1}}'

# One topic of every kind each adapter ingests.
SAMPLE_TOPICS = {
    "canonical": [
        "iot/d/telemetry",
        "iot/d/hello",
        "iot/d/status",
        "iot/d/command/ack",
        "iot/d/ota/status",
    ],
    "smartplug": ["smartplug/d/telemetry", "smartplug/d/status"],
    "smartsolar": ["devices/d/telemetry"],
    "hypervolt": ["HyperVolt/sensors/d/LDR", "HyperVolt/sensors/d/humidity"],
    "tasmota": ["tele/d/SENSOR", "tele/d/LWT"],
    "shelly_gen1": ["shellies/d/relay/0/power", "shellies/d/relay/0/energy"],
    "shelly_gen2": ["d/status/switch:0"],
}


def claims(adapter: Adapter, topic: str) -> bool:
    try:
        return adapter.parse(topic, Payload(b"\xff"), NOW_MS, Limits()) is not None
    except ProtocolError:
        return True  # claimed, then found malformed


def test_the_registry_knows_every_adapter() -> None:
    assert set(ADAPTERS) == set(SAMPLE_TOPICS)
    assert all(name == adapter.name for name, adapter in ADAPTERS.items())


@pytest.mark.parametrize(
    ("name", "topic"), [(name, topic) for name, topics in SAMPLE_TOPICS.items() for topic in topics]
)
def test_each_topic_is_claimed_by_exactly_its_adapter(name: str, topic: str) -> None:
    assert [a.name for a in ADAPTERS.values() if claims(a, topic)] == [name]


@pytest.mark.parametrize("name", list(SAMPLE_TOPICS))
def test_sample_topics_match_the_subscriptions(name: str) -> None:
    filters = ADAPTERS[name].subscriptions()
    for topic in SAMPLE_TOPICS[name]:
        assert any(_matches(f, topic) for f in filters), (topic, filters)


def _matches(topic_filter: str, topic: str) -> bool:
    levels, wanted = topic.split("/"), topic_filter.split("/")
    if wanted[-1] == "#":
        wanted = wanted[:-1]
        levels = levels[: len(wanted)] if len(levels) > len(wanted) else ["#"]
    return len(levels) == len(wanted) and all(
        w in ("+", t) for w, t in zip(wanted, levels, strict=True)
    )


def test_the_default_config_is_the_canonical_protocol_alone() -> None:
    config = InterpretConfig()
    assert [(a.name, a.prefix) for a in config.adapters] == [("canonical", "iot")]
    assert [a.prefix for a in InterpretConfig(topic_prefix="site").adapters] == ["site"]
    out = interpret(InboundMessage("tele/d/LWT", b"Online", NOW_MS), config)
    assert isinstance(out, Rejection)
    assert out.reason is RejectReason.UNKNOWN_TOPIC
    assert "iot/+/telemetry" in out.detail


def test_only_enabled_adapters_are_routed_to() -> None:
    config = InterpretConfig(adapters=build_adapters(["tasmota"]))
    assert isinstance(
        interpret(InboundMessage("tele/d/LWT", b"Online", NOW_MS), config), Interpreted
    )
    out = interpret(InboundMessage("iot/d/telemetry", TELEMETRY, NOW_MS), config)
    assert isinstance(out, Rejection)
    assert out.reason is RejectReason.UNKNOWN_TOPIC


def test_multi_level_prefixes() -> None:
    config = InterpretConfig(
        adapters=build_adapters(["canonical", "tasmota"], {"canonical": "site/a/iot"})
    )
    assert config.adapters[0].subscriptions() == ["site/a/iot/#"]
    assert config.adapters[0].topic_patterns()[0] == "site/a/iot/+/telemetry"
    out = interpret(InboundMessage("site/a/iot/d/telemetry", TELEMETRY, NOW_MS), config)
    assert isinstance(out, Interpreted), out


def test_overlapping_adapters_the_first_listed_wins() -> None:
    # A misconfiguration (both under "devices"), but a deterministic one.
    body = b'{"data_type": "power", "value": 1, "timestamp": 1764057600000}'
    solar_first = InterpretConfig(
        adapters=build_adapters(["smartsolar", "canonical"], {"canonical": "devices"})
    )
    out = interpret(InboundMessage("devices/d/telemetry", body, NOW_MS), solar_first)
    assert isinstance(out, Interpreted), out
    canonical_first = InterpretConfig(
        adapters=build_adapters(["canonical", "smartsolar"], {"canonical": "devices"})
    )
    out = interpret(InboundMessage("devices/d/telemetry", body, NOW_MS), canonical_first)
    assert isinstance(out, Rejection)


def test_build_adapters_refuses_unknown_or_repeated_names() -> None:
    with pytest.raises(ValueError, match="unknown adapters"):
        build_adapters(["canonical", "zigbee"])
    with pytest.raises(ValueError, match="twice"):
        build_adapters(["tasmota", "tasmota"])


@pytest.mark.parametrize("prefix", ["a/+", "#", "a//b", "/a", "a/", "te\0le"])
def test_bad_prefixes(prefix: str) -> None:
    with pytest.raises(ValueError, match="topic prefix"):
        check_prefix(prefix)
    with pytest.raises(ValueError, match="topic prefix"):
        ADAPTERS["tasmota"].with_prefix(prefix)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("ADAPTERS", "TOPIC_PREFIX", "TASMOTA_TOPIC_PREFIX"):
        monkeypatch.delenv(f"WATTLINE_{name}", raising=False)
    return monkeypatch


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ('["canonical", "tasmota"]', ["canonical", "tasmota"]),
        ("canonical, tasmota,shelly_gen2", ["canonical", "tasmota", "shelly_gen2"]),
        ("hypervolt", ["hypervolt"]),
    ],
)
def test_adapters_setting(clean_env: pytest.MonkeyPatch, env: str, expected: list[str]) -> None:
    clean_env.setenv("WATTLINE_ADAPTERS", env)
    assert Settings().adapters == expected


def test_adapters_setting_defaults_to_every_known_format(clean_env: pytest.MonkeyPatch) -> None:
    # Issue 14: a fresh install accepts every seed's devices; WATTLINE_ADAPTERS_OFF opts out.
    settings = Settings()
    assert settings.adapters == list(ADAPTERS)
    assert settings.enabled_adapters == list(ADAPTERS)
    assert set(settings.adapter_prefixes) == set(ADAPTERS)


def test_adapters_off_opts_single_formats_out(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("WATTLINE_ADAPTERS_OFF", "tasmota, shelly_gen2")
    settings = Settings()
    assert settings.enabled_adapters == [
        name for name in ADAPTERS if name not in {"tasmota", "shelly_gen2"}
    ]


@pytest.mark.parametrize("off", ["nosuch", ",".join(ADAPTERS)])
def test_adapters_off_must_name_known_ones_and_leave_one(
    clean_env: pytest.MonkeyPatch, off: str
) -> None:
    clean_env.setenv("WATTLINE_ADAPTERS_OFF", off)
    with pytest.raises(ValueError, match="adapters"):
        Settings()


def test_prefix_settings_reach_the_adapters(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("WATTLINE_TASMOTA_TOPIC_PREFIX", "site-a/tele")
    settings = Settings(adapters="canonical,tasmota", topic_prefix="site-a/iot")
    adapters = build_adapters(settings.adapters, settings.adapter_prefixes)
    assert [a.prefix for a in adapters] == ["site-a/iot", "site-a/tele"]


@pytest.mark.parametrize(
    "changes",
    [
        {"adapters": "[canonical"},
        {"adapters": ","},
    ],
)
def test_bad_adapter_settings_fail_at_start(
    clean_env: pytest.MonkeyPatch, changes: dict[str, str]
) -> None:
    with pytest.raises(ValidationError):
        Settings(**changes)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "changes",
    [
        {"adapters": "canonical,zigbee"},
        {"adapters": "tasmota", "tasmota_topic_prefix": "tele/#"},
    ],
)
def test_unknown_adapters_and_bad_prefixes_fail_where_adapters_are_built(
    clean_env: pytest.MonkeyPatch, changes: dict[str, str]
) -> None:
    settings = Settings(**changes)  # type: ignore[arg-type]
    with pytest.raises(StartupError, match="invalid setting adapters"):
        prepare_ingest(settings)
