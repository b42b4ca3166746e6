"""A command dispatcher as a process of its own, for a test to SIGKILL.

``python -m tests.integration.commands.dispatcher_process STORE_URL MQTT_URL PREFIX``
opens the store (a ``sqlite:///`` file or a PostgreSQL URL), sends due commands
until killed, and prints ``connected`` once the broker accepted it.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

from sqlalchemy.engine import make_url

from wattline.commands.dispatcher import Dispatcher
from wattline.commands.downlinks import Prefixes
from wattline.commands.keys import SqlCommandKeys
from wattline.commands.service import CommandService
from wattline.commands.store import SqlCommandStore
from wattline.ingest.sources.base import MqttEndpoint
from wattline.storage.postgres import open_postgres_store
from wattline.storage.sql import SqlStore
from wattline.storage.sqlite import open_sqlite_store


def open_store(url: str) -> SqlStore:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return open_sqlite_store(Path(str(parsed.database)))
    # the engine's URL names its driver; the opener takes the plain scheme
    return open_postgres_store(
        parsed.set(drivername="postgresql").render_as_string(hide_password=False)
    )


def main(store_url: str, mqtt_url: str, prefix: str) -> None:
    store = open_store(store_url)
    service = CommandService(SqlCommandStore(store.engine), SqlCommandKeys(store.engine), store)
    dispatcher = Dispatcher(
        service, MqttEndpoint.from_url(mqtt_url), Prefixes(canonical=prefix), poll_s=0.05
    )
    dispatcher.start()
    if not dispatcher.wait_connected(10):
        sys.exit("the broker did not accept the dispatcher")
    print("connected", flush=True)
    threading.Event().wait()  # until SIGKILL


if __name__ == "__main__":
    main(*sys.argv[1:4])
