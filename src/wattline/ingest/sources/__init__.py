"""Where messages come from: MQTT (paho for 3.1.1, gmqtt for 5) and HTTP.

- ``base.py``: what every MQTT source shares (endpoint, session options,
  ``Delivery``, the ``MessageSource`` protocol);
- ``paho.py``: MQTT 3.1.1 in the collector's process;
- ``gmqtt.py`` + ``receiver.py`` + ``frames.py``: MQTT 5 in a receiver child
  process (``python -m wattline.ingest.sources.receiver``), spoken to in frames;
- ``http.py``: the HTTP ingest of the smart-solar protocol.

``open_source`` picks the MQTT client for a session.
"""

from __future__ import annotations

from collections.abc import Sequence

from wattline.ingest.sources.base import (
    DeliverFn,
    DeliverManyFn,
    MessageSource,
    MqttEndpoint,
    SessionOptions,
)


def open_source(  # noqa: PLR0913 - the session, then where its messages go
    endpoint: MqttEndpoint,
    client_id: str,
    topics: Sequence[str],
    deliver: DeliverFn,
    options: SessionOptions,
    *,
    deliver_many: DeliverManyFn | None = None,
) -> MessageSource:
    """``deliver_many``: where a source that receives in batches hands them (MQTT 5's
    receiver frames); without it, and for paho, every message goes to ``deliver``."""
    # Imported here, not above: the receiver process and the HTTP source import
    # this package too, and need neither MQTT client.
    if options.mqtt5:
        from wattline.ingest.sources.gmqtt import GmqttSource  # noqa: PLC0415 - see above

        return GmqttSource(
            endpoint, client_id, topics, deliver, options=options, deliver_many=deliver_many
        )
    from wattline.ingest.sources.paho import PahoSource  # noqa: PLC0415 - see above

    return PahoSource(endpoint, client_id, topics, deliver, options=options)
