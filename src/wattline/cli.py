"""The ``wattline`` command."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console

import wattline
from wattline.analytics.cli import export as export_command
from wattline.analytics.cli import import_ as import_command
from wattline.archive.cli import app as archive_app
from wattline.config import Settings
from wattline.ingest.cli import app as quarantine_app
from wattline.ingest.sources.base import MqttEndpoint
from wattline.observability.logging import configure_logging
from wattline.runtime import Announcement, ServiceFailedError, StartupError, run_collect, run_up
from wattline.simulator import SIMULATE_ID_PREFIX, FleetPublisher, build_fleet
from wattline.storage.cli import app as retention_app

app = typer.Typer(
    name="wattline",
    help="Wattline: ingest, store and query energy-IoT telemetry.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True, soft_wrap=True)
app.add_typer(archive_app, name="archive")
app.add_typer(quarantine_app, name="quarantine")
app.add_typer(retention_app, name="retention")
app.command("export")(export_command)
app.command("import")(import_command)


def _settings(**flags: Any) -> Settings:  # type: ignore[return]
    """Flags win over WATTLINE_* variables, which win over defaults."""
    given = {name: value for name, value in flags.items() if value not in (None, "")}
    try:
        return Settings(**given)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        _fail(f"invalid setting {where}: {first['msg']}")


def _fail(message: str, code: int = 2) -> Any:
    """One line on stderr; exit code 2 for a usage problem, 1 for a failure while running."""
    console.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


def _announce(info: Announcement) -> None:
    broker = info.broker
    lines = [
        f"[bold green]Wattline {wattline.__version__} is running[/]",
        f"  API          {info.api_url}   (OpenAPI: {info.docs_url})",
        f"  MQTT broker  {info.mqtt_url}   ({broker})",
        f"  database     {info.database}",
        f"  archive      {info.archive}",
        f"  admin token  {info.admin_token}   (from {info.token_source})",
    ]
    if info.simulated_devices:
        lines.append(f"  simulator    {info.simulated_devices} demo devices publishing")
    lines.extend(f"  note         {note}" for note in info.port_notes)
    lines.append(f"  URLs for scripts in {info.urls_file} and mqtt-url beside it")
    lines.append(
        f"  try: curl -H 'Authorization: Bearer {info.admin_token}' {info.api_url}/api/v1/devices"
    )
    lines.append("  Ctrl-C stops everything.")
    console.print("\n".join(lines), highlight=False)


DataDir = Annotated[
    Path | None, typer.Option("--data-dir", envvar="WATTLINE_DATA_DIR", help="where data lives")
]
MqttUrl = Annotated[
    str | None,
    typer.Option(
        "--mqtt-url",
        envvar="WATTLINE_MQTT_URL",
        help="external broker (mqtt://host:port) instead of the embedded one",
    ),
]
ClientId = Annotated[
    str | None,
    typer.Option(
        "--client-id", envvar="WATTLINE_MQTT_CLIENT_ID", help="collector's MQTT session id"
    ),
]
LogLevel = Annotated[str | None, typer.Option("--log-level", envvar="WATTLINE_LOG_LEVEL")]


@app.command()
def up(  # noqa: PLR0917 - one parameter per documented flag
    demo: Annotated[
        bool, typer.Option("--demo", envvar="WATTLINE_DEMO", help="start the simulator fleet")
    ] = False,
    host: Annotated[str | None, typer.Option("--host", envvar="WATTLINE_HOST")] = None,
    http_port: Annotated[
        int | None, typer.Option("--http-port", envvar="WATTLINE_HTTP_PORT")
    ] = None,
    mqtt_port: Annotated[
        int | None,
        typer.Option("--mqtt-port", envvar="WATTLINE_MQTT_PORT", help="embedded broker's port"),
    ] = None,
    mqtt_url: MqttUrl = None,
    broker: Annotated[
        str | None,
        typer.Option(
            "--broker",
            envvar="WATTLINE_BROKER",
            help="embedded broker: auto (Mosquitto if installed, else amqtt), mosquitto or amqtt",
        ),
    ] = None,
    data_dir: DataDir = None,
    admin_token: Annotated[
        str | None, typer.Option("--admin-token", envvar="WATTLINE_ADMIN_TOKEN")
    ] = None,
    auto_register: Annotated[
        bool | None,
        typer.Option(
            "--auto-register/--no-auto-register",
            envvar="WATTLINE_AUTO_REGISTER",
            help="register unknown devices on first contact (on with --demo)",
        ),
    ] = None,
    sim_devices: Annotated[
        int | None, typer.Option("--sim-devices", envvar="WATTLINE_SIM_DEVICES")
    ] = None,
    sim_interval_s: Annotated[
        float | None, typer.Option("--sim-interval-s", envvar="WATTLINE_SIM_INTERVAL_S")
    ] = None,
    client_id: ClientId = None,
    log_level: LogLevel = None,
) -> None:
    """Run everything in one process: broker, ingest, SQLite, API (and the demo fleet)."""
    settings = _settings(
        demo=demo or None,
        host=host,
        http_port=http_port,
        mqtt_port=mqtt_port,
        mqtt_url=mqtt_url,
        broker=broker,
        data_dir=data_dir,
        admin_token=admin_token,
        auto_register=auto_register,
        sim_devices=sim_devices,
        sim_interval_s=sim_interval_s,
        mqtt_client_id=client_id,
        log_level=log_level,
    )
    configure_logging(settings.log_level)
    try:
        asyncio.run(run_up(settings, _announce))
    except StartupError as exc:
        _fail(str(exc))
    except ServiceFailedError as exc:
        _fail(str(exc), code=1)
    console.print("Wattline stopped.")


@app.command()
def collect(
    mqtt_url: MqttUrl = None,
    data_dir: DataDir = None,
    client_id: ClientId = None,
    shared_group: Annotated[
        str | None,
        typer.Option(
            "--shared-group",
            envvar="WATTLINE_MQTT_SHARED_GROUP",
            help="share the stream with other collectors in this group (MQTT 5)",
        ),
    ] = None,
    log_level: LogLevel = None,
) -> None:
    """Run a collector alone, against an external broker."""
    settings = _settings(
        mqtt_url=mqtt_url,
        data_dir=data_dir,
        mqtt_client_id=client_id,
        mqtt_shared_group=shared_group,
        log_level=log_level,
    )
    if settings.mqtt_url is None:
        _fail("collect needs an external broker: pass --mqtt-url or set WATTLINE_MQTT_URL")
    configure_logging(settings.log_level)
    try:
        asyncio.run(run_collect(settings))
    except StartupError as exc:
        _fail(str(exc))
    except ServiceFailedError as exc:
        _fail(str(exc), code=1)


@app.command()
def simulate(  # noqa: PLR0917 - one parameter per documented flag
    broker: Annotated[
        str, typer.Option("--broker", envvar="WATTLINE_MQTT_URL", help="mqtt://host:port")
    ] = "mqtt://127.0.0.1:1883",
    devices: Annotated[int, typer.Option("--devices", min=1, max=10_000)] = 6,
    interval_s: Annotated[float, typer.Option("--interval-s", min=0.01)] = 2.0,
    seed: Annotated[int, typer.Option("--seed")] = 1,
    topic_prefix: Annotated[
        str, typer.Option("--topic-prefix", envvar="WATTLINE_TOPIC_PREFIX")
    ] = "iot",
    rounds: Annotated[
        int | None, typer.Option("--rounds", help="stop after this many readings per device")
    ] = None,
    id_prefix: Annotated[
        str,
        typer.Option(
            "--id-prefix",
            help="put before every device id; the default keeps clear of the demo fleet's ids",
        ),
    ] = SIMULATE_ID_PREFIX,
) -> None:
    """Run the simulated device fleet alone against a broker."""
    configure_logging("INFO")
    try:
        endpoint = MqttEndpoint.from_url(broker)
    except ValueError as exc:
        _fail(str(exc))
    publisher = FleetPublisher(
        endpoint.host,
        endpoint.port,
        build_fleet(devices, seed, id_prefix=id_prefix),
        interval_s=interval_s,
        topic_prefix=topic_prefix,
    )
    stop = threading.Event()
    sent: list[int] = []
    worker = threading.Thread(
        target=lambda: sent.append(publisher.run(stop, max_rounds=rounds)), name="simulator"
    )
    worker.start()
    try:
        while worker.is_alive():
            worker.join(0.5)
    except KeyboardInterrupt:
        # Let the publisher say "offline" and flush before the process ends.
        stop.set()
        worker.join()
    console.print(f"published {sum(sent)} telemetry messages")


@app.command()
def version() -> None:
    """Print the version."""
    print(wattline.__version__)


def main() -> None:
    app()
