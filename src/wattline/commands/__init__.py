"""Commands to devices: the state machine, signed envelopes, the store, delivery over MQTT,
relay safety and the configuration twin. Pure parts (``states``, ``envelopes``,
``relay``, ``twin``, ``downlinks``) take data and return data; ``store``, ``keys``
and ``dispatcher`` do the I/O; ``service`` is what the API and other features call."""
