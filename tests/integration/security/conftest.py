"""The identity service over each store backend, with a clock the test moves."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from wattline.security.audit import AuditEvent
from wattline.security.passwords import FAST_FOR_TESTS
from wattline.security.principal import Principal, PrincipalKind
from wattline.security.roles import Role
from wattline.security.service import IdentityService, build_identity
from wattline.storage.schema import DEFAULT_TENANT
from wattline.storage.sql import SqlStore

T0_S = 1_764_057_600.0
OWNER_EMAIL = "owner@example.org"
OWNER_PASSWORD = "a long owner password"
KEY = b"test-key-" + b"x" * 32


@dataclass
class Clock:
    now_s: float = T0_S

    def __call__(self) -> float:
        return self.now_s

    def advance(self, seconds: float) -> None:
        self.now_s += seconds


@dataclass
class Recorded:
    events: list[AuditEvent] = field(default_factory=list)

    def record(self, event: AuditEvent) -> None:
        self.events.append(event)

    def actions(self) -> list[str]:
        return [e.action for e in self.events]


BOOTSTRAP = Principal(
    PrincipalKind.BOOTSTRAP, "bootstrap", DEFAULT_TENANT, Role.OWNER, "admin token"
)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def audit() -> Recorded:
    return Recorded()


@pytest.fixture
def service(store: SqlStore, clock: Clock, audit: Recorded) -> IdentityService:
    built = build_identity(store.identity, KEY, clock=clock, audit=audit, argon2=FAST_FOR_TESTS)
    store.identity.ensure_tenant(DEFAULT_TENANT, "Default", int(T0_S * 1000))
    built.members.create_user(BOOTSTRAP, OWNER_EMAIL, OWNER_PASSWORD, Role.OWNER)
    return built
