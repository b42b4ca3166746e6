"""Messages through a real Mosquitto into the collector `wattline collect` builds: each
traced message is one trace from receive to acknowledgement."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import CollectorRegistry
from tests.e2e.conftest import forget_session, wait_until

from wattline.config import Settings
from wattline.ingest.sources.base import MqttEndpoint
from wattline.observability.tracing import start_tracing
from wattline.runtime.backends import open_archive, open_store
from wattline.runtime.ingest import build_collector, prepare_ingest

T0 = 1_764_057_600_000
STAGES = {"receive", "decode", "archive", "commit", "ack"}


def publish(endpoint: MqttEndpoint, prefix: str, count: int) -> None:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"pub-{uuid.uuid4().hex}")
    client.connect(endpoint.host, endpoint.port)
    client.loop_start()
    infos = [
        client.publish(
            f"{prefix}/m{seq}/telemetry",
            json.dumps({"seq": seq, "ts": T0 + seq, "metrics": {"power_w": 1.0}}),
            qos=1,
        )
        for seq in range(count)
    ]
    for info in infos:
        info.wait_for_publish(10)
    client.disconnect()
    client.loop_stop()


def test_messages_from_the_broker_are_traced_to_their_acknowledgement(
    mosquitto_url: str, tmp_path: Path
) -> None:
    prefix = f"tr{uuid.uuid4().hex[:8]}"
    client_id = f"wattline-traces-{uuid.uuid4().hex[:8]}"
    settings = Settings(
        data_dir=tmp_path,
        mqtt_url=mosquitto_url,
        mqtt_client_id=client_id,
        topic_prefix=prefix,
        auto_register=True,
    )
    exporter = InMemorySpanExporter()
    tracing = start_tracing(
        "collect", "0.0.test", message_ratio=1.0, processor=SimpleSpanProcessor(exporter)
    )
    ingest = prepare_ingest(settings, CollectorRegistry())
    store = open_store(settings)
    archive = open_archive(settings)
    collector = build_collector(settings, ingest, store, archive, traces=tracing.message_traces())
    collector.start()
    try:
        assert collector.wait_connected(10)
        publish(MqttEndpoint.from_url(mosquitto_url), prefix, 3)
        wait_until(
            lambda: (
                len(store.latest_values()) == 3
                and sum(s.name == "ack" for s in exporter.get_finished_spans()) == 3
            ),
            30,
            "three readings committed and acknowledged",
        )
    finally:
        collector.stop()
        archive.close()
        store.close()
        tracing.shutdown()
        endpoint = MqttEndpoint.from_url(mosquitto_url)
        forget_session(endpoint.host, endpoint.port, client_id)

    traces: dict[int, list[str]] = {}
    topics = set()
    for span in exporter.get_finished_spans():
        traces.setdefault(span.context.trace_id, []).append(span.name)
        if span.name == "ingest message":
            assert span.attributes is not None
            topics.add(span.attributes["messaging.destination.name"])
            assert span.status.is_ok
    assert topics == {f"{prefix}/m{seq}/telemetry" for seq in range(3)}
    assert sorted(map(sorted, traces.values())) == [sorted({"ingest message", *STAGES})] * 3
