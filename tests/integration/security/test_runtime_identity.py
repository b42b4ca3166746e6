"""The composition root's identity parts: the token key, the demo owner, ``wattline users``."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from wattline.cli.main import app
from wattline.config import Settings
from wattline.runtime.identity import (
    DEMO_OWNER_EMAIL,
    JWT_SECRET_FILE,
    identity_service,
    load_jwt_key,
    reset_demo_owner,
)
from wattline.security.errors import AuthenticationFailedError
from wattline.security.roles import Role
from wattline.storage.schema import DEFAULT_TENANT
from wattline.storage.sql import SqlStore


def test_the_key_is_generated_once_into_the_data_dir(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    key = load_jwt_key(settings)
    assert len(key) >= 32
    assert stat.S_IMODE((tmp_path / JWT_SECRET_FILE).stat().st_mode) == 0o600
    assert load_jwt_key(settings) == key


def test_a_configured_key_wins_and_a_short_one_is_refused(tmp_path: Path) -> None:
    secret = "s" * 32
    assert load_jwt_key(Settings(data_dir=tmp_path, jwt_secret=secret)) == secret.encode()
    assert not (tmp_path / JWT_SECRET_FILE).exists()
    with pytest.raises(ValidationError, match="at least 32 bytes"):
        Settings(jwt_secret="too short")


def test_the_demo_owner_gets_a_new_password_each_start(store: SqlStore, tmp_path: Path) -> None:
    store.identity.ensure_tenant(DEFAULT_TENANT, "Default", 0)
    identity = identity_service(Settings(data_dir=tmp_path), store)
    first = reset_demo_owner(identity)
    session = identity.accounts.login(DEMO_OWNER_EMAIL, first, None)
    assert (session.tenant_id, session.role) == (DEFAULT_TENANT, Role.OWNER)
    second = reset_demo_owner(identity)
    with pytest.raises(AuthenticationFailedError):
        identity.accounts.login(DEMO_OWNER_EMAIL, first, None)
    assert identity.authenticator.authenticate(session.access_token, None) is None
    assert identity.accounts.login(DEMO_OWNER_EMAIL, second, None)


def test_users_create_makes_an_owner(
    store: SqlStore, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    where = ["--data-dir", str(tmp_path)]
    if store.engine.dialect.name == "postgresql":
        url = make_url(request.getfixturevalue("postgres_url"))
        where += ["--database-url", url.render_as_string(hide_password=False)]
    password_file = tmp_path / "password"
    password_file.write_text("the first owner's password\n")
    runner = CliRunner()
    args = ["users", "create", "--email", "First@Example.org", "--role", "owner"]
    result = runner.invoke(
        app, [*args, "--tenant", "acme", "--password-file", str(password_file), *where]
    )
    assert result.exit_code == 0, result.output
    assert "created first@example.org" in result.output
    identity = identity_service(Settings(data_dir=tmp_path), store)
    session = identity.accounts.login("first@example.org", "the first owner's password", None)
    assert (session.tenant_id, session.role) == ("acme", Role.OWNER)
    again = runner.invoke(app, [*args, "--password-file", str(password_file), *where])
    assert again.exit_code == 2
    assert "exists" in again.output
    password_file.write_text("short\n")
    weak = runner.invoke(
        app,
        [
            "users",
            "create",
            "--email",
            "x@example.org",
            "--password-file",
            str(password_file),
            *where,
        ],
    )
    assert weak.exit_code == 2
    assert "at least 12" in weak.output
