"""The live stream over a real uvicorn server: auth, subscriptions, tenants, seed shapes, SSE."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from tests.integration.live.conftest import T0, two_tenants
from tests.integration.live.server import LiveServer
from tests.integration.security.tenants import ADMIN_TOKEN, add_user
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from wattline.model.messages import ConnectionState, Reading, StatusReport
from wattline.security.roles import Role
from wattline.storage.base import CommitBatch
from wattline.storage.sql import SqlStore
from wattline.storage.tenancy import UserRef

VIEWER = "viewer-default"  # a user of the default tenant (tests/integration/security/tenants.py)
BOB = "owner-t2"  # the owner of tenant t2


def open_socket(
    live: LiveServer, path: str = "/api/v1/ws", token: str | None = VIEWER
) -> ClientConnection:
    headers = {"Authorization": f"Bearer {token}"} if token else None
    return connect(live.ws_url + path, additional_headers=headers, open_timeout=5)


def receive(ws: ClientConnection, timeout_s: float = 20.0) -> dict[str, Any]:
    message = json.loads(ws.recv(timeout=timeout_s))
    assert isinstance(message, dict)
    return message


def subscribe(ws: ClientConnection, **fields: Any) -> None:
    ws.send(json.dumps({"type": "subscribe", **fields}))
    answer = receive(ws)
    assert answer["type"] == "subscribed", answer


def readings(device: str, start: int, count: int, **metrics: float) -> CommitBatch:
    batch = [
        Reading(device, T0 + i * 1000, dict(metrics) or {"power_w": float(i)}, i)
        for i in range(start, start + count)
    ]
    return CommitBatch(readings=batch, seen_ms={device: T0})


def closed_code(ws: ClientConnection, timeout_s: float = 20.0) -> int | None:
    try:
        while True:
            ws.recv(timeout=timeout_s)
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None


def test_a_subscriber_gets_committed_readings_and_statuses_of_its_tenant_only(
    live: LiveServer,
) -> None:
    with open_socket(live) as mine, open_socket(live, token=BOB) as theirs:
        subscribe(mine, devices=["dev-a", "dev-a2"])
        subscribe(theirs)  # everything t2 may see
        live.commit(readings("dev-b", 0, 2))  # t2's device: only for t2
        live.commit(readings("dev-a", 0, 3))
        live.commit(CommitBatch(statuses=[StatusReport("dev-a2", ConnectionState.ONLINE, T0)]))
        got = [receive(mine) for _ in range(4)]
        assert [(m["type"], m["device_id"], m.get("seq")) for m in got] == [
            ("reading", "dev-a", 0),
            ("reading", "dev-a", 1),
            ("reading", "dev-a", 2),
            ("status", "dev-a2", None),
        ]
        assert got[0]["metrics"] == {"power_w": 0.0}
        assert got[0]["ts"] == "2025-11-25T08:00:00.000Z"
        assert got[3]["state"] == "online"
        other = [receive(theirs) for _ in range(2)]
        assert {m["device_id"] for m in other} == {"dev-b"}
        with pytest.raises(TimeoutError):
            theirs.recv(timeout=0.3)  # nothing of the default tenant


def test_filters_by_type_tag_and_metric_and_unsubscribe(live: LiveServer) -> None:
    with open_socket(live) as ws:
        subscribe(ws, id="plugs", types=["smart_plug"], metrics=["voltage_v"])
        subscribe(ws, id="roof", tags=["roof"], kinds=["reading"])
        live.commit(readings("dev-a2", 0, 1, power_w=5.0, voltage_v=230.0))
        live.commit(readings("dev-a", 0, 1, power_w=7.0))
        plug, roof = receive(ws), receive(ws)
        assert (plug["device_id"], plug["metrics"]) == ("dev-a2", {"voltage_v": 230.0})
        assert (roof["device_id"], roof["metrics"]) == ("dev-a", {"power_w": 7.0})
        ws.send(json.dumps({"type": "unsubscribe", "id": "roof"}))
        assert receive(ws) == {"type": "unsubscribed", "id": "roof"}
        live.commit(readings("dev-a", 1, 1))
        live.commit(readings("dev-a2", 1, 1, voltage_v=231.0))
        assert receive(ws)["metrics"] == {"voltage_v": 231.0}


def test_bad_requests_are_answered_with_errors(live: LiveServer) -> None:
    with open_socket(live) as ws:
        ws.send(json.dumps({"type": "subscribe", "devices": ["dev-b"]}))  # t2's: as if absent
        assert receive(ws)["detail"] == "device 'dev-b' is not registered"
        ws.send(json.dumps({"type": "subscribe", "kinds": ["everything"]}))
        assert receive(ws)["type"] == "error"
        ws.send(json.dumps({"type": "subscribe", "devices": ["x"] * 1001}))
        assert "1000" in receive(ws)["detail"]
        ws.send("not json")
        assert receive(ws)["type"] == "error"
        ws.send(json.dumps({"type": "unsubscribe", "id": "never"}))
        assert receive(ws)["detail"] == "no subscription 'never'"


@pytest.mark.parametrize(
    ("how", "code"),
    [
        ("no token, a subscribe first", 4401),
        ("invalid header token", 4401),
        ("invalid first-message token", 4401),
        ("invalid subprotocol token", 4401),
    ],
)
def test_authentication_failures_close_with_4401(live: LiveServer, how: str, code: int) -> None:
    url = live.ws_url + "/api/v1/ws"
    if how == "invalid header token":
        ws = connect(url, additional_headers={"Authorization": "Bearer nope"})
    elif how == "invalid subprotocol token":
        ws = connect(url, subprotocols=["wattline", "bearer.nope"])  # type: ignore[list-item]
    else:
        ws = connect(url)
        first = (
            {"type": "auth", "token": "nope"} if "first-message" in how else {"type": "subscribe"}
        )
        ws.send(json.dumps(first))
    with ws:
        assert closed_code(ws) == code


def test_the_token_may_come_in_the_first_message_or_a_subprotocol(live: LiveServer) -> None:
    with connect(live.ws_url + "/api/v1/ws") as ws:
        ws.send(json.dumps({"type": "auth", "token": VIEWER}))
        subscribe(ws, devices=["dev-a"])
        live.commit(readings("dev-a", 0, 1))
        assert receive(ws)["device_id"] == "dev-a"
    protocols = ["wattline", f"bearer.{ADMIN_TOKEN}"]
    with connect(live.ws_url + "/api/v1/ws", subprotocols=protocols) as ws:  # type: ignore[arg-type]
        assert ws.subprotocol == "wattline"
        subscribe(ws, devices=["dev-a"])
        live.commit(readings("dev-a", 1, 1))
        assert receive(ws)["seq"] == 1


def test_a_device_shared_with_a_user_of_another_tenant_reaches_them(sqlite_store: SqlStore) -> None:
    store = two_tenants(sqlite_store)
    add_user(store, "u-bob", "bob@t2.example")
    bob = UserRef("u-bob", "bob@t2.example")
    store.share_device(
        "dev-a", tenant_id="default", user=bob, role=Role.VIEWER, shared_by="admin", now_ms=T0
    )
    live = LiveServer(store).start()
    try:
        with open_socket(live, token=BOB) as ws:
            subscribe(ws, devices=["dev-a"])  # readable through the share
            live.commit(readings("dev-a2", 0, 1))  # not shared
            live.commit(readings("dev-a", 0, 1))
            assert receive(ws)["device_id"] == "dev-a"
    finally:
        live.stop()


def test_the_seed_shapes(live: LiveServer) -> None:
    with (
        open_socket(live, "/ws/devices/dev-a") as solar,
        open_socket(live, "/ws/sensors/") as sensors,
    ):
        live.commit(readings("home", 0, 1, temperature_c=21.5))
        live.commit(readings("dev-a", 0, 1, power_w=5120.0))
        assert receive(solar) == {
            "device_id": "dev-a",
            "data_type": "power",
            "value": 5120.0,
            "timestamp": "2025-11-25T08:00:00.000Z",
        }
        assert receive(sensors) == {
            "sensor_type": "temperature",
            "location": "home",
            "value": 21.5,
            "timestamp": "2025-11-25T08:00:00.000Z",
        }
    with open_socket(live, "/ws/devices/dev-b") as ws:  # another tenant's
        assert closed_code(ws) == 4404


def test_a_reconnecting_client_catches_up_from_the_store(live: LiveServer) -> None:
    live.commit(readings("dev-a", 0, 5))
    with open_socket(live) as ws:
        subscribe(ws, devices=["dev-a"], since=T0 + 1000)  # after the reading of seq 1
        caught = [receive(ws) for _ in range(3)]
        assert [m["seq"] for m in caught] == [2, 3, 4]
        assert receive(ws) == {
            "type": "caught_up",
            "id": "default",
            "readings": 3,
            "truncated": False,
            "alerts": 0,
            "alerts_truncated": False,
        }
        live.commit(readings("dev-a", 5, 1))
        assert receive(ws)["seq"] == 5
    with open_socket(live, f"/ws/devices/dev-a?since={T0 + 3000}") as ws:
        assert [receive(ws)["value"] for _ in range(2)] == [4.0, 5.0]


def test_a_catch_up_includes_readings_still_staged(live: LiveServer) -> None:
    """Readings a collector committed staged (ADR 0033), not yet folded, are caught up."""
    live.store.stage(readings("dev-a", 0, 4))
    with open_socket(live) as ws:
        subscribe(ws, devices=["dev-a"], since=T0)
        assert [receive(ws)["seq"] for _ in range(3)] == [1, 2, 3]
        assert receive(ws)["type"] == "caught_up"


def test_a_client_resumes_each_device_from_its_own_point(live: LiveServer) -> None:
    # stored while the client was away: in the store only, never on the live stream
    for device in ("dev-a", "dev-a2", "dev-b"):  # dev-b: another tenant's
        live.store.commit(readings(device, 0, 5))
    with open_socket(live) as ws:
        # every device it may see, resumed per device: dev-a after seq 3, dev-a2 after seq 1;
        # dev-b is not its to see, named or not
        since = {"dev-a": T0 + 3000, "dev-a2": T0 + 1000, "dev-b": T0}
        subscribe(ws, kinds=["reading"], since=since)
        caught = [receive(ws) for _ in range(4)]
        assert sorted((m["device_id"], m["seq"]) for m in caught) == [
            ("dev-a", 4),
            ("dev-a2", 2),
            ("dev-a2", 3),
            ("dev-a2", 4),
        ]
        assert receive(ws) == {
            "type": "caught_up",
            "id": "default",
            "readings": 4,
            "truncated": False,
            "alerts": 0,
            "alerts_truncated": False,
        }
        # a subscription naming devices: only those in both
        subscribe(ws, id="named", devices=["dev-a"], since={"dev-a": T0 + 2000, "dev-a2": T0})
        assert [receive(ws)["seq"] for _ in range(2)] == [3, 4]
        assert receive(ws)["readings"] == 2
        for bad in ({}, {"dev-a": "yesterday"}, {f"d{i}": T0 for i in range(101)}):
            ws.send(json.dumps({"type": "subscribe", "id": "bad", "since": bad}))
            answer = receive(ws)
            assert answer["type"] == "error", answer


def test_batch_frames_carry_arrays_of_the_same_messages(live: LiveServer) -> None:
    live.commit(readings("dev-a", 0, 3))
    with open_socket(live, "/api/v1/ws?batch=true") as ws:
        ws.send(json.dumps({"type": "subscribe", "devices": ["dev-a"], "since": T0}))
        frames: list[list[dict[str, Any]]] = []
        while not any(m["type"] == "caught_up" for frame in frames for m in frame):
            frame = json.loads(ws.recv(timeout=20))
            assert isinstance(frame, list)
            assert frame  # never an empty array
            frames.append(frame)
        messages = [m for frame in frames for m in frame]
        assert [m["type"] for m in messages] == ["subscribed", "reading", "reading", "caught_up"]
        assert [m["seq"] for m in messages if m["type"] == "reading"] == [1, 2]
        live.commit(readings("dev-a", 3, 40))  # one commit: few frames, every reading in order
        live_seqs: list[int] = []
        while len(live_seqs) < 40:
            frame = json.loads(ws.recv(timeout=20))
            live_seqs += [m["seq"] for m in frame]
        assert live_seqs == list(range(3, 43))
        ws.send("not json")
        assert json.loads(ws.recv(timeout=20))[0]["type"] == "error"


@pytest.mark.parametrize("value", ["yes", "2", ""])
def test_a_bad_batch_parameter_closes_with_4400(live: LiveServer, value: str) -> None:
    with open_socket(live, f"/api/v1/ws?batch={value}") as ws:
        assert closed_code(ws) == 4400


def test_server_sent_events(live: LiveServer) -> None:
    url = live.http_url + "/api/v1/stream"
    assert httpx.get(url, params={"devices": "dev-a"}).status_code == 401
    headers = {"Authorization": f"Bearer {VIEWER}"}
    assert httpx.get(url, params={"devices": "dev-b"}, headers=headers).status_code == 404
    assert httpx.get(url, params={"kinds": "nope"}, headers=headers).status_code == 422
    live.commit(readings("dev-a", 0, 2))
    params = {"devices": "dev-a", "since": str(T0)}
    with httpx.stream("GET", url, params=params, headers=headers, timeout=5) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = sse_events(response.iter_lines())
        first = next(events)
        assert (first["event"], first["id"]) == ("reading", str(T0 + 1000))
        assert json.loads(first["data"])["seq"] == 1
        live.commit(readings("dev-a", 2, 1))
        assert json.loads(next(events)["data"])["seq"] == 2


def sse_events(lines: Iterator[str]) -> Iterator[dict[str, str]]:
    event: dict[str, str] = {}
    for line in lines:
        if not line:
            if "data" in event:
                yield event
            event = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(": ")
            event[name] = value
