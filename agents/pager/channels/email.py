"""Email over SMTP (aiosmtplib), with STARTTLS or implicit TLS, credentials from settings.

Each message's ``Message-ID`` is derived from the transition and receiver, so a retried
message is recognisably the same one, and ``References`` names the alert, so a mail client
threads an alert's whole life. SMTP replies classify failures: 4xx and lost connections are
retried; 5xx, a refused login and a certificate that does not verify are not (they need an
operator, not patience).
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Literal

import aiosmtplib

from agents.pager.errors import DeliveryError
from agents.pager.plan import Receiver
from agents.pager.routing import ChannelName
from schemas.alerts import Alert


@dataclass(frozen=True)
class SmtpConfig:
    """Where and how to send mail."""

    host: str
    port: int
    security: Literal["starttls", "tls", "none"]
    sender: str
    timeout_s: float
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ca_file: Path | None = None


def _domain(address: str) -> str:
    return address.rpartition("@")[2] or "detoxmon.invalid"


def email_message(alert: Alert, receiver: Receiver, *, sender: str) -> EmailMessage:
    """The message for one transition to one receiver."""
    if receiver.email_to is None:
        raise DeliveryError(f"receiver {receiver.id} has no email address", retryable=False)
    domain = _domain(sender)
    message = EmailMessage()
    message["From"] = sender
    message["To"] = receiver.email_to
    message["Subject"] = (
        f"[detoxmon {alert.priority}] {alert.state.upper()}: {alert.summary}"
        f" - patient {alert.patient_id}, {alert.ward or 'no ward'}"
    )
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = f"<{alert.transition_id}.{receiver.id}@{domain}>"
    message["References"] = f"<alert-{alert.alert_id}@{domain}>"
    message["Auto-Submitted"] = "auto-generated"
    message["X-Detoxmon-Alert-Id"] = str(alert.alert_id)
    message["X-Detoxmon-Transition-Id"] = str(alert.transition_id)
    evidence = alert.evidence
    value = "" if evidence.value is None else f"{evidence.value:g} {evidence.unit or ''}".strip()
    threshold = "" if evidence.threshold is None else f" (threshold {evidence.threshold:g})"
    message.set_content(
        "\n".join(
            [
                alert.summary,
                "",
                f"State:     {alert.state} (for {alert.escalate_to.replace('_', ' ')})",
                f"Patient:   {alert.patient_id}",
                f"Ward:      {alert.ward or 'none'}",
                f"Priority:  {alert.priority}",
                f"Rule:      {alert.rule_id}",
                f"Value:     {value}{threshold}",
                f"Observed:  {evidence.observed_at.isoformat()}",
                f"Source:    {alert.source}",
                f"Alert:     {alert.alert_id}",
                f"Transition: {alert.transition_id} (sequence {alert.sequence})",
                "",
                "Acknowledge in the staff app (POST /alerts/<alert id>/ack).",
            ]
        )
    )
    return message


def _retryable_codes(codes: list[int]) -> bool:
    return bool(codes) and all(400 <= code < 500 for code in codes)


class EmailChannel:
    """Sends transitions by SMTP."""

    def __init__(self, config: SmtpConfig) -> None:
        self._config = config
        self._tls: ssl.SSLContext | None = None
        if config.security != "none":
            cafile = str(config.ca_file) if config.ca_file is not None else None
            self._tls = ssl.create_default_context(cafile=cafile)

    @property
    def name(self) -> ChannelName:
        """``email``."""
        return "email"

    def endpoint(self, receiver: Receiver) -> str:
        """The mail server."""
        return f"smtp://{self._config.host}:{self._config.port}"

    async def send(self, alert: Alert, body: bytes, receiver: Receiver) -> None:
        """Send the message; raise :class:`DeliveryError` unless the server accepts it."""
        config = self._config
        message = email_message(alert, receiver, sender=config.sender)
        try:
            await aiosmtplib.send(
                message,
                hostname=config.host,
                port=config.port,
                username=config.username,
                password=config.password,
                use_tls=config.security == "tls",
                start_tls=config.security == "starttls",
                tls_context=self._tls,
                timeout=config.timeout_s,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [refusal.code for refusal in exc.recipients]
            raise DeliveryError(
                f"mail server refused the recipient ({codes})", retryable=_retryable_codes(codes)
            ) from exc
        except aiosmtplib.SMTPResponseException as exc:
            raise DeliveryError(
                f"mail server answered {exc.code}: {exc.message[:200]}",
                retryable=_retryable_codes([exc.code]),
            ) from exc
        except aiosmtplib.SMTPNotSupported as exc:
            raise DeliveryError(f"mail server: {exc}", retryable=False) from exc
        except ssl.SSLError as exc:
            raise DeliveryError(f"mail server TLS failed: {exc}", retryable=False) from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise DeliveryError(f"mail server unreachable: {exc!r}", retryable=True) from exc
