"""An alert end to end, through the machine's Mosquitto: the simulator's AC meter sags
below the low-voltage rule -> one alert -> a signed webhook and an email -> the voltage
recovers -> the alert clears, and the receivers hear of that too."""

from __future__ import annotations

import random
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from tests.e2e.conftest import forget_session, start_wattline, wait_until
from tests.integration.alerts.receivers import HookLog, Mailbox, smtp_server, webhook_receiver
from wattline.simulator.fleet import telemetry_payload
from wattline.simulator.models import AcMeter


def test_a_sag_raises_one_alert_notifies_and_clears(tmp_path: Path, mosquitto_url: str) -> None:
    mailbox, hooks = Mailbox(), HookLog()
    with smtp_server(mailbox) as smtp_port, webhook_receiver(hooks) as hook_url:
        w = start_wattline(
            tmp_path,
            "--auto-register",
            env={
                "WATTLINE_MQTT_URL": mosquitto_url,
                "WATTLINE_SMTP_HOST": "127.0.0.1",
                "WATTLINE_SMTP_PORT": str(smtp_port),
                "WATTLINE_ALERT_TICK_S": "0.5",
            },
        )
        device = f"ac-meter-{uuid.uuid4().hex[:6]}"
        publisher = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"e2e-{device}")
        publisher.connect(w.mqtt_host, w.mqtt_port)
        publisher.loop_start()
        meter = AcMeter(random.Random(7))
        seq = 0

        def publish(count: int) -> None:
            nonlocal seq
            for _ in range(count):
                seq += 1
                metrics = meter.step(datetime.now(UTC), 1.0)
                payload = telemetry_payload(seq, time.time_ns() // 1_000_000, metrics)
                topic = f"{w.topic_prefix}/{device}/telemetry"
                publisher.publish(topic, payload, qos=1).wait_for_publish(5)

        try:
            publish(3)  # the device exists (auto-registered) before the rule names it
            wait_until(
                lambda: w.client.get(f"/api/v1/devices/{device}").status_code == 200, 20, "device"
            )
            hooks.secret = add_rule_and_channels(w.client, device, hook_url)
            time.sleep(1.5)  # the evaluator re-reads rules and channels within a tick

            meter.sag(6.0)
            publish(5)
            assert hooks.wait_for(1, 20), "no signed webhook for the sag"
            assert mailbox.wait_for(1, 20), "no email for the sag"
            (raised,) = hooks.verified[0]["alerts"]
            assert (raised["change"], raised["device_id"], raised["value"]) == (
                "raised",
                device,
                6.0,
            )
            assert "Low voltage" in mailbox.messages[0]["Subject"]

            meter.sag(None)
            publish(3)
            assert hooks.wait_for(2, 20), "no webhook for the recovery"
            (cleared,) = hooks.verified[1]["alerts"]
            assert (cleared["change"], cleared["alert_id"]) == ("cleared", raised["alert_id"])
            alerts = w.get("/api/v1/alerts", device_id=device)["alerts"]
            assert [(a["status"], a["occurrences"]) for a in alerts] == [("cleared", 1)]
            assert len(hooks.verified) == 2  # raised once, however many low readings
        finally:
            publisher.disconnect()
            publisher.loop_stop()
            code, stderr = w.stop()
            forget_session(w.mqtt_host, w.mqtt_port, f"wattline-{w.topic_prefix}")
    assert code == 0, stderr
    assert "Traceback" not in stderr


def add_rule_and_channels(api: httpx.Client, device: str, hook_url: str) -> str:
    """The low-voltage rule on the device, a webhook and an email channel; the
    webhook's signing secret."""
    rule = {
        "name": "Low voltage",
        "kind": "threshold",
        "severity": "critical",
        "scope": "device",
        "scope_value": device,
        "metric": "voltage_v",
        "params": {"op": "below", "limit": 10, "hysteresis": 5},
    }
    assert api.post("/api/v1/alert-rules", json=rule).status_code == 201
    hook = {"name": "ops hook", "kind": "webhook", "target": hook_url, "allow_private": True}
    created = api.post("/api/v1/alert-channels", json=hook)
    assert created.status_code == 201, created.text
    mail = {"name": "ops mail", "kind": "email", "target": "ops@example.org"}
    assert api.post("/api/v1/alert-channels", json=mail).status_code == 201
    secret: str = created.json()["secret"]
    return secret
