"""Email delivery over SMTP (smtplib), STARTTLS and login when configured."""

from __future__ import annotations

import smtplib
from dataclasses import dataclass
from email.message import EmailMessage

import orjson

from wattline.model.notifications import Channel, Delivery

TIMEOUT_S = 15.0


@dataclass(frozen=True, slots=True)
class SmtpServer:
    host: str
    port: int = 25
    sender: str = "wattline@localhost"
    username: str | None = None
    password: str | None = None
    starttls: bool = False


def render(payload: str) -> tuple[str, str]:
    """(subject, text body) of a delivery's JSON payload."""
    alerts = orjson.loads(payload)["alerts"]
    first = alerts[0]
    more = f" (+{len(alerts) - 1} more)" if len(alerts) > 1 else ""
    subject = (
        f"[Wattline] {first['change']} {first['severity']}: {first['rule_name']} "
        f"on {first['device_id']}{more}"
    )
    lines = [
        f"{a['change'].upper()} {a['severity']} {a['device_id']}: {a['message']} "
        f"(value {a['value']}, at {a['at']}, alert {a['alert_id']})"
        for a in alerts
    ]
    return subject, "\n".join(lines) + "\n"


class EmailSender:
    def __init__(self, server: SmtpServer) -> None:
        self._server = server

    def send(self, channel: Channel, delivery: Delivery) -> tuple[bool, str]:
        recipients = [r.strip() for r in channel.target.split(",") if r.strip()]
        subject, body = render(delivery.payload)
        message = EmailMessage()
        message["From"] = self._server.sender
        message["To"] = ", ".join(recipients)
        message["Subject"] = subject
        message["Message-ID"] = f"<{delivery.delivery_id}@wattline>"
        message.set_content(body)
        try:
            with smtplib.SMTP(self._server.host, self._server.port, timeout=TIMEOUT_S) as smtp:
                if self._server.starttls:
                    smtp.starttls()
                if self._server.username:
                    smtp.login(self._server.username, self._server.password or "")
                refused = smtp.send_message(message, to_addrs=recipients)
        except (OSError, smtplib.SMTPException) as exc:
            return False, f"{type(exc).__name__}: {exc}"
        if refused:
            return False, f"refused: {', '.join(sorted(refused))}"
        return True, f"sent to {len(recipients)} recipient(s)"
