"""Flags several commands share, and the one step from flags to settings."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

if TYPE_CHECKING:
    from wattline.config import Settings

# Errors and progress go to stderr, so a command's stdout stays its output.
console = Console(stderr=True, soft_wrap=True, highlight=False)

DataDir = Annotated[
    Path | None, typer.Option("--data-dir", envvar="WATTLINE_DATA_DIR", help="where data lives")
]
DatabaseUrl = Annotated[str | None, typer.Option("--database-url", envvar="WATTLINE_DATABASE_URL")]
ArchiveUrl = Annotated[
    str | None,
    typer.Option(
        "--archive-url", envvar="WATTLINE_ARCHIVE_URL", help="s3://bucket/prefix; unset: folder"
    ),
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
Host = Annotated[str | None, typer.Option("--host", envvar="WATTLINE_HOST")]
HttpPort = Annotated[int | None, typer.Option("--http-port", envvar="WATTLINE_HTTP_PORT")]


def settings_from(**flags: Any) -> Settings:
    """Flags win over WATTLINE_* variables, which win over defaults; a flag not given is None."""
    # Imported here: pydantic-settings and the protocol adapters it validates against
    # are a tenth of a second that `wattline --help` does not need.
    from pydantic import ValidationError

    from wattline.config import Settings

    given = {name: value for name, value in flags.items() if value not in (None, "")}
    try:
        return Settings(**given)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        fail(f"invalid setting {where}: {first['msg']}")


def fail(message: str, code: int = 2) -> NoReturn:
    """One line on stderr; exit code 2 for a usage problem, 1 for a failure while running."""
    console.print(f"[bold red]error:[/] {escape(message)}")
    raise typer.Exit(code)
