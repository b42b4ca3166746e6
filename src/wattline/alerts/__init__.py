"""Alert rules, their evaluation on committed readings, alerts and notifications.

- ``conditions.py``, ``lifecycle.py``: what a rule says, pure;
- ``evaluator.py``: feeds committed batches and the clock through the rules, on
  its own thread, under a database lease;
- ``routing.py``: which channel hears of which alert, and when (pure);
- ``notifier.py`` with ``webhook.py``, ``email.py``, ``mqtt.py``: delivery, retries,
  dead letters.
"""
