"""Users, sessions and API keys for a running Wattline: the token key, the service,
and the demo owner."""

from __future__ import annotations

import os
import secrets

from wattline.config import Settings
from wattline.security.audit import AuditSink
from wattline.security.principal import Principal, PrincipalKind
from wattline.security.roles import Role
from wattline.security.service import IdentityService, build_identity
from wattline.storage.sql import SqlStore
from wattline.storage.tenancy import DEFAULT_TENANT

JWT_SECRET_FILE = "jwt-secret"  # noqa: S105 - a file name, not a secret
DEMO_OWNER_EMAIL = "demo@wattline.local"
# Who makes the demo owner, for the audit log: the default tenant's bootstrap.
_DEMO_MODE = Principal(
    PrincipalKind.BOOTSTRAP, "bootstrap", DEFAULT_TENANT, Role.OWNER, "demo mode"
)


def load_jwt_key(settings: Settings) -> bytes:
    """WATTLINE_JWT_SECRET, else the key generated into the data dir on first start (0600).

    Every API process of one deployment must share it: set the variable, or
    share the data dir.
    """
    if settings.jwt_secret is not None:
        return settings.jwt_secret.get_secret_value().encode()
    path = settings.data_dir / JWT_SECRET_FILE
    if path.exists():
        return path.read_text().strip().encode()
    key = secrets.token_urlsafe(48)  # 384 bits
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(key + "\n")
    return key.encode()


def identity_service(
    settings: Settings, store: SqlStore, audit: AuditSink | None = None
) -> IdentityService:
    return build_identity(
        store.identity, load_jwt_key(settings), audit=audit, open_signup=settings.open_signup
    )


def reset_demo_owner(identity: IdentityService) -> str:
    """The demo owner with a new random password, which the banner prints.

    Made on the first demo start, given a new password (and its sessions ended)
    on each later one: the banner always shows a password that works.
    """
    password = secrets.token_urlsafe(12)
    accounts = identity.accounts
    existing = accounts.store.user_by_email(DEMO_OWNER_EMAIL)
    if existing is None:
        identity.members.create_user(_DEMO_MODE, DEMO_OWNER_EMAIL, password, Role.OWNER, "Demo")
        return password
    now_ms = accounts.now_ms()
    accounts.store.set_password_hash(existing.user_id, accounts.passwords.hash(password), now_ms)
    accounts.store.revoke_user_sessions(existing.user_id, now_ms, keep_family=None)
    accounts.forget_sessions()
    return password
