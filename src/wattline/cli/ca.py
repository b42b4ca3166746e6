"""``wattline ca``: Wattline's own certificate authority in the data dir."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer
from rich.console import Console

from wattline.cli.options import DataDir, fail, settings_from

app = typer.Typer(name="ca", help="Wattline's certificate authority.", no_args_is_help=True)
out = Console(soft_wrap=True, highlight=False, markup=False)


@app.command()
def init(
    name: Annotated[str, typer.Option("--name", help="the CA's common name")] = "Wattline CA",
    data_dir: DataDir = None,
) -> None:
    """Make the CA: DATA_DIR/ca/ca.key (0600, never leaves the data dir) and ca.crt."""
    from wattline.security.ca_files import CaExistsError, CaFiles

    settings = settings_from(data_dir=data_dir)
    files = CaFiles.in_data_dir(settings.data_dir)
    try:
        authority = files.init(name, dt.datetime.now(dt.UTC))
    except CaExistsError as exc:
        fail(f"{exc}; it signed the devices' certificates, so it is kept")
    out.print(f"CA {name!r} made: key {files.key} (0600), certificate {files.certificate}")
    out.print(f"valid until {authority.certificate.not_valid_after_utc:%Y-%m-%d}")
