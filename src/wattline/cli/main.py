"""``wattline``: the app, its command groups, and ``up``, ``collect``, ``simulate``, ``version``."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Annotated

import typer

import wattline
from wattline.cli import (
    archive,
    audit,
    backup,
    ca,
    devices,
    quarantine,
    retention,
    transfer,
    users,
)
from wattline.cli.options import (
    ClientId,
    DataDir,
    Host,
    HttpPort,
    LogLevel,
    MqttUrl,
    console,
    fail,
    settings_from,
)
from wattline.runtime.errors import ServiceFailedError, StartupError
from wattline.simulator import SIMULATE_ID_PREFIX

if TYPE_CHECKING:
    from wattline.runtime.up import Announcement

# Each command imports what it runs inside its function (the runtime, the API, the
# backends): `wattline --help` or `wattline version` would otherwise pay for all of it.

app = typer.Typer(
    name="wattline",
    help="Wattline: ingest, store and query energy-IoT telemetry.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(archive.app, name="archive")
app.add_typer(audit.app, name="audit")
app.add_typer(devices.app, name="devices")
app.add_typer(ca.app, name="ca")
app.add_typer(quarantine.app, name="quarantine")
app.add_typer(retention.app, name="retention")
app.add_typer(users.app, name="users")
app.command("export")(transfer.export)
app.command("import")(transfer.import_)
app.command("backup")(backup.backup)
app.command("restore")(backup.restore)


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
    if info.demo_login is not None:
        email, password = info.demo_login
        lines.append(f"  demo login   {email} / {password}   (POST /api/v1/auth/login)")
    lines.extend(f"  note         {note}" for note in info.port_notes)
    lines.append(f"  URLs for scripts in {info.urls_file} and mqtt-url beside it")
    lines.append(
        f"  try: curl -H 'Authorization: Bearer {info.admin_token}' {info.api_url}/api/v1/devices"
    )
    lines.append("  Ctrl-C stops everything.")
    console.print("\n".join(lines), highlight=False)


@app.command()
def up(  # noqa: PLR0917 - one parameter per documented flag
    demo: Annotated[
        bool, typer.Option("--demo", envvar="WATTLINE_DEMO", help="start the simulator fleet")
    ] = False,
    host: Host = None,
    http_port: HttpPort = None,
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
    from wattline.observability.logging import configure_logging
    from wattline.runtime import event_loop
    from wattline.runtime.up import run_up

    settings = settings_from(
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
        event_loop.run(run_up(settings, _announce), settings.event_loop)
    except StartupError as exc:
        fail(str(exc))
    except ServiceFailedError as exc:
        fail(str(exc), code=1)
    console.print("Wattline stopped.")


@app.command()
def serve(
    host: Host = None,
    http_port: HttpPort = None,
    data_dir: DataDir = None,
    log_level: LogLevel = None,
) -> None:
    """Serve the API alone, beside collectors that ingest (`wattline collect`)."""
    from wattline.observability.logging import configure_logging
    from wattline.runtime import event_loop
    from wattline.runtime.up import run_serve

    settings = settings_from(host=host, http_port=http_port, data_dir=data_dir, log_level=log_level)
    configure_logging(settings.log_level)
    try:
        event_loop.run(run_serve(settings), settings.event_loop)
    except StartupError as exc:
        fail(str(exc))
    except ServiceFailedError as exc:
        fail(str(exc), code=1)


@app.command()
def collect(  # noqa: PLR0917 - one parameter per documented flag
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
    metrics_port: Annotated[
        int | None,
        typer.Option(
            "--metrics-port",
            envvar="WATTLINE_METRICS_PORT",
            help="serve Prometheus metrics at http://HOST:PORT/metrics",
        ),
    ] = None,
) -> None:
    """Run a collector alone, against an external broker."""
    from wattline.observability.logging import configure_logging
    from wattline.runtime import event_loop
    from wattline.runtime.collect import run_collect

    settings = settings_from(
        mqtt_url=mqtt_url,
        data_dir=data_dir,
        mqtt_client_id=client_id,
        mqtt_shared_group=shared_group,
        log_level=log_level,
        metrics_port=metrics_port,
    )
    if settings.mqtt_url is None:
        fail("collect needs an external broker: pass --mqtt-url or set WATTLINE_MQTT_URL")
    configure_logging(settings.log_level)
    try:
        event_loop.run(run_collect(settings), settings.event_loop)
    except StartupError as exc:
        fail(str(exc))
    except ServiceFailedError as exc:
        fail(str(exc), code=1)


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
    from wattline.ingest.sources.base import MqttEndpoint
    from wattline.observability.logging import configure_logging
    from wattline.simulator import FleetPublisher, build_fleet

    configure_logging("INFO")
    try:
        endpoint = MqttEndpoint.from_url(broker)
    except ValueError as exc:
        fail(str(exc))
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
def version(
    data_dir: DataDir = None,
    short: Annotated[bool, typer.Option("--short", help="the version number alone")] = False,
) -> None:
    """Print the version, the build's commit, Python and the configured backends."""
    if short:
        print(wattline.__version__)
        return
    from wattline.runtime.build_info import describe

    lines = describe(settings_from(data_dir=data_dir))
    width = max(len(name) for name, _ in lines)
    for name, value in lines:
        print(f"{name:<{width}}  {value}")


def main() -> None:
    app()
