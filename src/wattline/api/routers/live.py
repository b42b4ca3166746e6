"""The live stream: WebSockets (``/api/v1/ws`` and the seeds' shapes) and Server-Sent Events.

Only committed readings, device status changes and alert changes are sent,
to callers who may read the device through the REST API (their tenant's, or
shared with them). Close codes: 4401 no or invalid credentials, 4404 device
not readable, 4429 rate limited, 4008 slow consumer (its buffer filled),
1013 no live stream in this process, 1001 server stopping. See docs/live.md.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Header, HTTPException, Query, WebSocket, WebSocketDisconnect, status
from fastapi.responses import StreamingResponse
from pydantic import Field, TypeAdapter, ValidationError

from wattline.api.deps import PrincipalDep, ServicesDep, require
from wattline.api.live_requests import (
    MAX_MESSAGE_CHARS,
    MAX_SUBSCRIPTIONS,
    Auth,
    Subscribe,
    Unsubscribe,
    make_subscription,
    split_names,
)
from wattline.api.live_session import (
    AUTH_TIMEOUT_S,
    BAD_REQUEST_CLOSE,
    GOING_AWAY_CLOSE,
    NOT_FOUND_CLOSE,
    UNAUTHORIZED_CLOSE,
    UNAVAILABLE_CLOSE,
    LiveRefusedError,
    Streamer,
    audience_of,
    bearer_from_headers,
    catch_up,
    close_quietly,
    offered_subprotocol,
    principal_for,
    unreadable,
)
from wattline.api.params import parse_time_ms
from wattline.api.services import ApiServices
from wattline.api.tenancy import not_registered
from wattline.live import wire
from wattline.live.buffer import BufferClosedError
from wattline.live.catchup import CATCH_UP_HEADROOM
from wattline.live.events import EventKind
from wattline.live.hub import SLOW_CONSUMER_CLOSE, LiveHub
from wattline.live.subscriptions import Subscription
from wattline.security.principal import Principal
from wattline.security.roles import Role

router = APIRouter(tags=["live"])

_client_message: TypeAdapter[Subscribe | Unsubscribe | Auth] = TypeAdapter(
    Annotated[Subscribe | Unsubscribe | Auth, Field(discriminator="type")]
)


def _json(value: object) -> str:
    return orjson.dumps(value).decode()


# -- WebSockets ----------------------------------------------------------------


@router.websocket("/api/v1/ws")
async def live_socket(websocket: WebSocket) -> None:
    """Subscribe by device, type, tag, metric and alerts; catch up with ``since``."""
    await _serve_socket(websocket, wire.wattline, None, _commands)


@router.websocket("/ws/devices/{device_id}")
async def device_socket(websocket: WebSocket, device_id: str) -> None:
    """The smart-solar shape: one device's telemetry items as they are committed."""
    subscription = Subscription(devices=frozenset({device_id}))
    await _serve_socket(websocket, wire.smart_solar, subscription, _ignore_messages)


@router.websocket("/ws/sensors")
@router.websocket("/ws/sensors/")
async def sensors_socket(websocket: WebSocket) -> None:
    """The HyperVolt shape: every visible home sensor's readings."""
    subscription = Subscription(
        metrics=wire.HYPER_VOLT_METRICS, kinds=frozenset({EventKind.READING})
    )
    await _serve_socket(websocket, wire.hyper_volt, subscription, _ignore_messages)


Reader = Callable[[WebSocket, Streamer, asyncio.Lock], Coroutine[Any, Any, None]]


async def _serve_socket(
    websocket: WebSocket,
    render: wire.Render,
    fixed: Subscription | None,
    reader: Reader,
) -> None:
    services: ApiServices = websocket.app.state.services
    await websocket.accept(subprotocol=offered_subprotocol(websocket))
    try:
        hub = _hub_or_refuse(services)
        principal = await _authenticated(websocket, services)
        if fixed is not None:
            await _require_readable(services, principal, fixed)
        since_ms = _since(websocket.query_params.get("since"))
        batched = _batched(websocket.query_params.get("batch"))
    except LiveRefusedError as exc:
        await close_quietly(websocket, exc.code, exc.reason)
        return
    client = hub.connect(await audience_of(services, principal), render, "websocket")
    streamer = Streamer(hub, client, services, principal, batched=batched)
    lock = asyncio.Lock()
    try:
        if fixed is not None:
            async with lock:
                hub.subscribe(client, "default", fixed)
                if since_ms is not None:
                    await _send_catch_up(websocket, streamer, fixed, since_ms, None)
        await _stream(websocket, streamer, lock, reader)
    finally:
        hub.disconnect(client)


async def _require_readable(
    services: ApiServices, principal: Principal, subscription: Subscription
) -> None:
    missing = await unreadable(services, principal, sorted(subscription.devices))
    if missing:
        raise LiveRefusedError(NOT_FOUND_CLOSE, str(not_registered(missing[0]).detail))


def _hub_or_refuse(services: ApiServices) -> LiveHub:
    if services.live is None:
        raise LiveRefusedError(UNAVAILABLE_CLOSE, "this process serves no live stream")
    return services.live


def _batched(text: str | None) -> bool:
    if text is None or text.lower() in {"false", "0"}:
        return False
    if text.lower() in {"true", "1"}:
        return True
    raise LiveRefusedError(BAD_REQUEST_CLOSE, f"batch must be true or false, not {text[:40]!r}")


async def _send(websocket: WebSocket, streamer: Streamer, texts: Sequence[str]) -> None:
    """Messages to the client, framed as it asked; the caller holds the send lock."""
    for frame in wire.frames(texts, batched=streamer.batched):
        await websocket.send_text(frame)


def _since(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        return parse_time_ms(text, "since")
    except ValueError as exc:
        raise LiveRefusedError(BAD_REQUEST_CLOSE, str(exc)) from None


async def _authenticated(websocket: WebSocket, services: ApiServices) -> Principal:
    token = bearer_from_headers(websocket)
    if token is None:
        token = await _first_message_token(websocket)
    return principal_for(services, websocket, token)


async def _first_message_token(websocket: WebSocket) -> str:
    try:
        text = await asyncio.wait_for(websocket.receive_text(), AUTH_TIMEOUT_S)
    except TimeoutError:
        raise LiveRefusedError(UNAUTHORIZED_CLOSE, "no credentials: send an auth message") from None
    except (WebSocketDisconnect, KeyError, RuntimeError):
        raise LiveRefusedError(UNAUTHORIZED_CLOSE, "no credentials") from None
    try:
        message = _client_message.validate_json(text[:MAX_MESSAGE_CHARS])
    except ValidationError:
        message = None
    if not isinstance(message, Auth):
        raise LiveRefusedError(
            UNAUTHORIZED_CLOSE, 'the first message must be {"type": "auth", "token": ...}'
        )
    return message.token


async def _stream(
    websocket: WebSocket, streamer: Streamer, lock: asyncio.Lock, reader: Reader
) -> None:
    """Write buffered messages while reading the client's; whichever ends first ends both."""
    writing = asyncio.create_task(_write(websocket, streamer, lock))
    reading = asyncio.create_task(reader(websocket, streamer, lock))
    # A writer blocked on a client that stopped reading never sees its buffer close:
    # this does, and ends the writer's send.
    cut_off = asyncio.create_task(streamer.client.buffer.closed_event.wait())
    done, pending = await asyncio.wait(
        {writing, reading, cut_off}, return_when=asyncio.FIRST_COMPLETED
    )
    for task in pending:
        task.cancel()
    for task in pending:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
    # retrieved even when the cut-off is seen too (else asyncio logs it at collection)
    writer_error = writing.exception() if writing in done else None
    closed = cut_off in done or isinstance(writer_error, BufferClosedError)
    if closed and reading not in done:
        if streamer.client.slow:
            reason = f"slow consumer: {streamer.hub.buffer_messages} messages unread"
            await close_quietly(websocket, SLOW_CONSUMER_CLOSE, reason)
        else:
            await close_quietly(websocket, GOING_AWAY_CLOSE, "server stopping")
    elif reading in done:
        with contextlib.suppress(Exception):
            reading.result()


async def _write(websocket: WebSocket, streamer: Streamer, lock: asyncio.Lock) -> None:
    sent = streamer.hub.metrics.sent.labels("websocket")
    while True:
        batch = await streamer.next_batch()
        if not batch:
            continue
        async with lock:
            batch = streamer.fresh(batch)
            await _send(websocket, streamer, [message.text for message in batch])
        sent.inc(len(batch))


async def _ignore_messages(websocket: WebSocket, streamer: Streamer, lock: asyncio.Lock) -> None:
    del streamer, lock
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return


async def _commands(websocket: WebSocket, streamer: Streamer, lock: asyncio.Lock) -> None:
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        text = message.get("text")
        if text is None or len(text) > MAX_MESSAGE_CHARS:
            await _reply(
                websocket, streamer, lock, _error(None, "send JSON text messages of at most 64 KiB")
            )
            continue
        try:
            command = _client_message.validate_json(text)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            await _reply(websocket, streamer, lock, _error(None, f"{where}: {first['msg']}"))
            continue
        if isinstance(command, Subscribe):
            await _subscribe(websocket, streamer, lock, command)
        elif isinstance(command, Unsubscribe):
            known = streamer.hub.unsubscribe(streamer.client, command.id)
            reply: dict[str, object] = (
                {"type": "unsubscribed", "id": command.id}
                if known
                else _error(command.id, f"no subscription {command.id!r}")
            )
            await _reply(websocket, streamer, lock, reply)
        else:
            await _reply(websocket, streamer, lock, _error(None, "already authenticated"))


async def _subscribe(
    websocket: WebSocket, streamer: Streamer, lock: asyncio.Lock, command: Subscribe
) -> None:
    client = streamer.client
    if command.id not in client.subscriptions and len(client.subscriptions) >= MAX_SUBSCRIPTIONS:
        await _reply(
            websocket,
            streamer,
            lock,
            _error(command.id, f"at most {MAX_SUBSCRIPTIONS} subscriptions"),
        )
        return
    missing = await unreadable(streamer.services, streamer.principal, command.devices)
    if missing:
        await _reply(
            websocket, streamer, lock, _error(command.id, str(not_registered(missing[0]).detail))
        )
        return
    try:
        since_ms = _since_of(command.since)
    except ValueError as exc:
        await _reply(websocket, streamer, lock, _error(command.id, str(exc)))
        return
    subscription = command.subscription()
    async with lock:
        # Registered under the lock: whatever arrives from now on is written after
        # the catch-up, and a reading the catch-up already served is skipped.
        streamer.hub.subscribe(client, command.id, subscription)
        await _send(websocket, streamer, [_json({"type": "subscribed", "id": command.id})])
        if since_ms is not None:
            await _send_catch_up(websocket, streamer, subscription, since_ms, command.id)


def _since_of(since: str | int | dict[str, str | int] | None) -> int | dict[str, int] | None:
    """A subscribe message's ``since``: one instant, or one per device."""
    if since is None:
        return None
    if isinstance(since, dict):
        return {
            device: parse_time_ms(str(value), f"since[{device}]") for device, value in since.items()
        }
    return parse_time_ms(str(since), "since")


async def _send_catch_up(
    websocket: WebSocket,
    streamer: Streamer,
    subscription: Subscription,
    since_ms: int | dict[str, int],
    subscription_id: str | None,
) -> None:
    """What was missed since ``since_ms`` (the caller holds the send lock)."""
    # live messages queue behind the catch-up meanwhile: room for them (buffer.py)
    with streamer.client.buffer.headroom(CATCH_UP_HEADROOM):
        missed = await catch_up(streamer.services, streamer.principal, subscription, since_ms)
        messages = streamer.rendered(missed, subscription)
        await _send(websocket, streamer, [message.text for message in messages])
        streamer.remember_served(messages)
    summary = {
        "type": "caught_up",
        "id": subscription_id,
        "readings": missed.count(EventKind.READING),
        "truncated": missed.truncated,
        "alerts": missed.count(EventKind.ALERT),
        "alerts_truncated": missed.alerts_truncated,
    }
    if streamer.client.render is wire.wattline:
        await _send(websocket, streamer, [_json(summary)])


async def _reply(
    websocket: WebSocket, streamer: Streamer, lock: asyncio.Lock, reply: dict[str, object]
) -> None:
    async with lock:
        await _send(websocket, streamer, [_json(reply)])


def _error(subscription_id: str | None, detail: str) -> dict[str, object]:
    return {"type": "error", "id": subscription_id, "detail": detail}


# -- Server-Sent Events --------------------------------------------------------

# A comment line this often keeps proxies from closing an idle stream.
KEEPALIVE_S = 15.0


@router.get(
    "/api/v1/stream",
    dependencies=[require(Role.VIEWER)],
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "the event stream"},
        404: {"description": "a device in `devices` is not one you may read"},
        501: {"description": "this process serves no live stream"},
    },
)
async def event_stream(  # noqa: PLR0913, PLR0917 - the filter's query parameters
    principal: PrincipalDep,
    services: ServicesDep,
    devices: Annotated[str | None, Query(description="comma-separated device ids")] = None,
    types: Annotated[str | None, Query(description="comma-separated device types")] = None,
    tags: Annotated[str | None, Query(description="comma-separated tags")] = None,
    metrics: Annotated[str | None, Query(description="comma-separated metrics")] = None,
    kinds: Annotated[str | None, Query(description="reading, status, alert")] = None,
    alerts: bool = False,
    since: Annotated[str | None, Query(description="ISO 8601 or epoch ms")] = None,
    last_event_id: Annotated[str | None, Header()] = None,
) -> StreamingResponse:
    """Server-Sent Events: the same events and filters as ``/api/v1/ws``, one subscription.

    Each event's ``id`` is its timestamp (epoch ms): a reconnecting ``EventSource``
    sends it back as ``Last-Event-ID`` and gets what it missed from the store."""
    if services.live is None:
        raise HTTPException(status.HTTP_501_NOT_IMPLEMENTED, "this process serves no live stream")
    try:
        subscription = make_subscription(
            split_names(devices, "devices"),
            split_names(types, "types"),
            split_names(tags, "tags"),
            split_names(metrics, "metrics"),
            _kinds(split_names(kinds, "kinds")),
            alerts=alerts,
        )
        resume = since if since is not None else last_event_id
        since_ms = None if resume is None else parse_time_ms(resume, "since")
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    missing = await unreadable(services, principal, sorted(subscription.devices))
    if missing:
        raise not_registered(missing[0])
    hub = services.live
    client = hub.connect(await audience_of(services, principal), wire.wattline, "sse")
    hub.subscribe(client, "default", subscription)
    streamer = Streamer(hub, client, services, principal)
    return StreamingResponse(
        _sse(streamer, subscription, since_ms),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _kinds(names: list[str]) -> list[str]:
    known = {kind.value for kind in EventKind}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ValueError(f"kinds: {unknown[0]!r} is not one of {', '.join(sorted(known))}")
    return names


async def _sse(
    streamer: Streamer, subscription: Subscription, since_ms: int | None
) -> AsyncIterator[str]:
    sent = streamer.hub.metrics.sent.labels("sse")
    try:
        yield f"retry: 2000\n: connected; keep-alive every {KEEPALIVE_S:.0f} s\n\n"
        if since_ms is not None:
            with streamer.client.buffer.headroom(CATCH_UP_HEADROOM):
                missed = await catch_up(
                    streamer.services, streamer.principal, subscription, since_ms
                )
                messages = streamer.rendered(missed, subscription)
                streamer.remember_served(messages)
                for message in messages:
                    yield f"id: {message.ts_ms}\nevent: {message.kind}\ndata: {message.text}\n\n"
            sent.inc(len(messages))
        while True:
            try:
                batch = await streamer.next_batch(KEEPALIVE_S)
            except BufferClosedError:
                if streamer.client.slow:
                    yield 'event: error\ndata: {"detail": "slow consumer"}\n\n'
                return
            if not batch:
                yield ": keep-alive\n\n"
                continue
            batch = streamer.fresh(batch)
            yield "".join(f"id: {m.ts_ms}\nevent: {m.kind}\ndata: {m.text}\n\n" for m in batch)
            sent.inc(len(batch))
    finally:
        streamer.hub.disconnect(streamer.client)
