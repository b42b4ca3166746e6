"""Picks the MQTT client for a session: gmqtt for MQTT 5, paho for MQTT 3.1.1."""

from __future__ import annotations

from collections.abc import Sequence

from wattline.ingest.gmqtt_source import GmqttSource
from wattline.ingest.mqtt_source import DeliverFn, MessageSource, MqttEndpoint, SessionOptions
from wattline.ingest.paho_source import PahoSource


def open_source(
    endpoint: MqttEndpoint,
    client_id: str,
    topics: Sequence[str],
    deliver: DeliverFn,
    options: SessionOptions,
) -> MessageSource:
    if options.mqtt5:
        return GmqttSource(endpoint, client_id, topics, deliver, options=options)
    return PahoSource(endpoint, client_id, topics, deliver, options=options)
