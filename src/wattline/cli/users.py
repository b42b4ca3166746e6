"""``wattline users``: accounts made from the command line, the first owner above all."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from wattline.cli.options import DatabaseUrl, DataDir, fail, settings_from
from wattline.security.errors import AccountError
from wattline.security.principal import Principal, PrincipalKind
from wattline.security.roles import Role
from wattline.storage.base import StoreUnavailableError
from wattline.storage.tenancy import DEFAULT_TENANT

app = typer.Typer(name="users", help="Manage user accounts.", no_args_is_help=True)
out = Console(soft_wrap=True, highlight=False, markup=False)


def _password(password_file: Path | None) -> str:
    if password_file is not None:
        try:
            return password_file.read_text().rstrip("\r\n")
        except OSError as exc:
            fail(f"cannot read the password file: {exc.strerror}")
    password: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return password


@app.command()
def create(  # noqa: PLR0913, PLR0917 - one parameter per documented flag
    email: Annotated[str, typer.Option("--email", help="the login name")],
    role: Annotated[Role, typer.Option("--role", help="the role in the tenant")] = Role.VIEWER,
    tenant: Annotated[
        str, typer.Option("--tenant", help="the tenant; made when it does not exist")
    ] = DEFAULT_TENANT,
    password_file: Annotated[
        Path | None,
        typer.Option("--password-file", help="read the password from this file; else prompt"),
    ] = None,
    display_name: Annotated[str | None, typer.Option("--name", help="a display name")] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Create an account in a tenant, e.g. the first owner: --role owner."""
    from wattline.runtime.backends import open_store
    from wattline.runtime.identity import identity_service

    settings = settings_from(data_dir=data_dir, database_url=database_url)
    password = _password(password_file)
    try:
        store = open_store(settings)
    except StoreUnavailableError as exc:
        fail(f"database unavailable: {exc}", code=1)
    try:
        identity = identity_service(settings, store)
        store.identity.ensure_tenant(tenant, tenant, identity.accounts.now_ms())
        # The command line acts as the tenant's owner, as the admin token does.
        actor = Principal(PrincipalKind.BOOTSTRAP, "cli", tenant, Role.OWNER, "command line")
        member = identity.members.create_user(actor, email, password, role, display_name)
    except AccountError as exc:
        fail(str(exc))
    except StoreUnavailableError as exc:
        fail(f"database unavailable: {exc}", code=1)
    finally:
        store.close()
    out.print(f"created {member.email} ({member.user_id}) as {member.role.value} of {tenant}")
