"""Request and response bodies of the command routes."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from wattline.api.credential_schemas import CommandKeyOut
from wattline.commands.service import CommandService
from wattline.commands.states import Command, Transition
from wattline.commands.twin import Twin
from wattline.model.times import iso_ms

# The longest an API call waits for a device's answer: longer holds a worker
# and a connection for what the list and detail routes show later anyway.
MAX_WAIT_S = 30.0
SeedCommand = Literal["relay_on", "relay_off", "relay_toggle"]


class CommandCreate(BaseModel):
    """``{"name": ..., "parameters": {...}}``, or the smart-plug seed's
    ``{"command": "relay_on"}``."""

    name: str | None = Field(None, min_length=1, max_length=64)
    command: SeedCommand | None = None
    parameters: dict[str, Any] = Field(default_factory=dict)
    expires_at: datetime | None = None
    expires_in_s: float | None = Field(None, gt=0, le=7 * 24 * 3600)

    @model_validator(mode="after")
    def _one_expiry(self) -> CommandCreate:
        if self.expires_at is not None and self.expires_in_s is not None:
            raise ValueError("give at most one of expires_at and expires_in_s")
        if self.expires_at is not None and self.expires_at.tzinfo is None:
            raise ValueError("expires_at needs a time zone (for example Z)")
        return self

    @property
    def command_name(self) -> str | None:
        """The one name given; None when neither or both were (the route answers 422)."""
        if (self.name is None) == (self.command is None):
            return None
        return self.name or str(self.command)


class BulkTarget(BaseModel):
    tag: str | None = Field(None, min_length=1, max_length=64)
    device_type: str | None = Field(None, min_length=1, max_length=64)

    @model_validator(mode="after")
    def _one(self) -> BulkTarget:
        if (self.tag is None) == (self.device_type is None):
            raise ValueError("target needs exactly one of tag and device_type")
        return self


class BulkCommandCreate(BaseModel):
    target: BulkTarget
    name: str = Field(min_length=1, max_length=64)
    parameters: dict[str, Any] = Field(default_factory=dict)
    expires_in_s: float | None = Field(None, gt=0, le=7 * 24 * 3600)
    # devices sent to per second: a fleet switching together is an inrush on the grid
    rate_per_s: float = Field(50.0, gt=0, le=10_000)


class TransitionOut(BaseModel):
    from_state: str | None
    to_state: str
    at: str
    detail: str | None


class CommandOut(BaseModel):
    command_id: str
    device_id: str
    name: str
    parameters: dict[str, Any]
    issuer: str
    state: str
    state_at: str
    created_at: str
    expires_at: str
    attempts: int
    result: str | None
    family: str
    history: list[TransitionOut] | None = None


class CommandList(BaseModel):
    commands: list[CommandOut]
    next_cursor: str | None


class BulkCommandOut(BaseModel):
    issued: list[str]
    refused: dict[str, str]
    # when the last device's command is released, at rate_per_s
    release_s: float


class PublicKeyOut(BaseModel):
    key_id: str
    algorithm: str
    public_key: str
    created_at: str
    valid_until: str | None


def transition_out(transition: Transition) -> TransitionOut:
    return TransitionOut(
        from_state=transition.from_state.value if transition.from_state else None,
        to_state=transition.to_state.value,
        at=iso_ms(transition.at_ms),
        detail=transition.detail,
    )


def command_out(command: Command, history: list[Transition] | None = None) -> CommandOut:
    return CommandOut(
        command_id=command.command_id,
        device_id=command.device_id,
        name=command.name,
        parameters=dict(command.parameters),
        issuer=command.issuer,
        state=command.state.value,
        state_at=iso_ms(command.state_ms),
        created_at=iso_ms(command.created_ms),
        expires_at=iso_ms(command.expires_ms),
        attempts=command.attempts,
        result=command.result,
        family=command.family,
        history=None if history is None else [transition_out(t) for t in history],
    )


class ConfigPut(BaseModel):
    # the whole desired configuration; {} clears it
    desired: dict[str, Any] = Field(default_factory=dict)


class ConfigOut(BaseModel):
    device_id: str
    desired: dict[str, Any]
    desired_version: int | None
    desired_at: str | None
    reported: dict[str, Any] | None
    reported_version: int | None
    reported_at: str | None
    # what the device has still to apply
    delta: dict[str, Any]
    # when the current desired version was last published to the device
    sent_at: str | None


def config_out(device_id: str, twin: Twin | None) -> ConfigOut:
    if twin is None:
        return ConfigOut(
            device_id=device_id,
            desired={},
            desired_version=None,
            desired_at=None,
            reported=None,
            reported_version=None,
            reported_at=None,
            delta={},
            sent_at=None,
        )
    return ConfigOut(
        device_id=device_id,
        desired=dict(twin.desired),
        desired_version=twin.desired_version,
        desired_at=iso_ms(twin.desired_ms),
        reported=dict(twin.reported) if twin.reported is not None else None,
        reported_version=twin.reported_version,
        reported_at=iso_ms(twin.reported_ms) if twin.reported_ms is not None else None,
        delta=twin.delta,
        sent_at=(
            iso_ms(twin.sent_ms)
            if twin.sent_ms is not None and twin.sent_version == twin.desired_version
            else None
        ),
    )


def provisioning_keys(service: CommandService | None, tenant_id: str) -> list[CommandKeyOut]:
    """What a newly provisioned device gets to verify commands; empty without commands."""
    if service is None:
        return []
    return [
        CommandKeyOut(key_id=k.key_id, algorithm=k.algorithm, public_key=k.public_key)
        for k in service.keys.public_keys(tenant_id)
    ]
