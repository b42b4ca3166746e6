"""Outside demo mode Wattline refuses to start with a placeholder or too-short admin token."""

from __future__ import annotations

from pathlib import Path

import pytest

from wattline.config import Settings, weak_secret
from wattline.runtime.errors import StartupError
from wattline.runtime.up import load_admin_token

STRONG = "9f2c4e7a1b8d3f6a0c5e2b7d4a1f8c3e"  # 32 characters, generated


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (STRONG, None),
        ("x" * 31, "31 characters; at least 32"),
        ("changeme", "placeholder 'changeme'"),
        ("ChangeMe-please-0123456789abcdef0123", "placeholder 'changeme'"),
        ("my-secret-token-0123456789abcdef0123", "placeholder 'secret'"),
        ("Password1234567890123456789012345678", "placeholder 'password'"),
        ("admin" * 8, "placeholder 'admin'"),
    ],
)
def test_weak_secrets(value: str, problem: str | None) -> None:
    found = weak_secret("the admin token", value)
    if problem is None:
        assert found is None
    else:
        assert found is not None
        assert problem in found
        assert "\n" not in found


def test_a_weak_token_stops_the_start_with_one_line(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, admin_token="changeme")
    with pytest.raises(StartupError, match=r"^the admin token \(WATTLINE_ADMIN_TOKEN\) contains"):
        load_admin_token(settings)


def test_demo_mode_accepts_any_token(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, admin_token="t", demo=True)
    assert load_admin_token(settings) == ("t", "WATTLINE_ADMIN_TOKEN")


def test_the_token_from_a_file_is_checked_too(tmp_path: Path) -> None:
    secret_file = tmp_path / "token"
    secret_file.write_text("short\n")
    with pytest.raises(StartupError, match="5 characters"):
        load_admin_token(Settings(data_dir=tmp_path, admin_token_file=secret_file))
    secret_file.write_text(STRONG + "\n")
    assert load_admin_token(Settings(data_dir=tmp_path, admin_token_file=secret_file)) == (
        STRONG,
        str(secret_file),
    )
    with pytest.raises(StartupError, match="WATTLINE_ADMIN_TOKEN_FILE"):
        load_admin_token(Settings(data_dir=tmp_path, admin_token_file=tmp_path / "missing"))


def test_a_generated_token_is_accepted_on_the_next_start(tmp_path: Path) -> None:
    token, source = load_admin_token(Settings(data_dir=tmp_path))
    assert source.endswith("(generated)")
    assert load_admin_token(Settings(data_dir=tmp_path)) == (token, str(tmp_path / "admin-token"))


def test_cors_origins_are_a_comma_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATTLINE_CORS_ORIGINS", "https://a.example, https://b.example")
    assert Settings().cors_origins == ["https://a.example", "https://b.example"]
