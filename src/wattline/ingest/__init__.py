"""The ingest pipeline, one module per stage, in the order a message meets them.

- ``sources/``: receive (MQTT via paho or gmqtt, HTTP); acknowledge on request;
- ``collector.py``: queue, batch, hand each batch through the stages, acknowledge
  after commit (``run_once`` for tests);
- ``interpret.py``: decode and validate one message (protocol adapters, limits);
- ``plan.py``: decode and validate a batch and plan what it writes, pure;
- ``admit.py``: identify, the registry cache: which devices may send, which are new;
- sequence: ``model/sequence.py``, applied by the store inside the commit's transaction;
- ``commit.py``: archive, then commit in one transaction, and count;
- ``poison.py``: a batch the store refuses is halved until the culprit stands alone;
- ``replay.py``: quarantined messages through today's rules;
- ``committer.py``: the stages behind one object for the collector, HTTP ingest,
  import and replay.
"""
