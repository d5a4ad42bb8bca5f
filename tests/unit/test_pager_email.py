"""Email over SMTP, against a real in-process SMTP server (aiosmtpd): plain, STARTTLS with
login, and the server's refusals."""

from __future__ import annotations

import email
import email.policy
import ssl
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from agents.embedded.process import free_port
from agents.pager.channels import EmailChannel, SmtpConfig
from agents.pager.errors import DeliveryError
from agents.pager.plan import Receiver
from tests.unit.test_pager_pagerduty import transition

RECEIVER = Receiver("rn-4411", email_to="rn-4411@wards.hospital.example")


@dataclass
class Mailbox:
    """An aiosmtpd handler that keeps what it accepts; RCPT answers can be scripted."""

    messages: list[tuple[str, list[str], bytes, bool]] = field(default_factory=list)
    rcpt_answers: list[str] = field(default_factory=list)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if self.rcpt_answers:
            return self.rcpt_answers.pop(0)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        tls = session.ssl is not None
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content, tls))
        return "250 Message accepted for delivery"


def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
        b"detoxmon",
        b"mail-pass",
    )
    return AuthResult(success=ok, handled=False)  # not handled: aiosmtpd answers 535


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture
def plain_server() -> Iterator[tuple[Mailbox, int]]:
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield mailbox, port
    finally:
        controller.stop()


@pytest.fixture
def tls_server(certificate: tuple[Path, Path]) -> Iterator[tuple[Mailbox, int]]:
    cert, key = certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(
        mailbox,
        hostname="127.0.0.1",
        port=port,
        tls_context=context,
        require_starttls=True,
        auth_required=True,
        authenticator=authenticate,
    )
    controller.start()
    try:
        yield mailbox, port
    finally:
        controller.stop()


def config(port: int, **overrides: Any) -> SmtpConfig:
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "security": "none",
        "sender": "detoxmon@hospital.example",
        "timeout_s": 5,
    }
    return SmtpConfig(**{**values, **overrides})


async def test_a_page_arrives_with_subject_threading_headers_and_details(
    plain_server: tuple[Mailbox, int],
) -> None:
    mailbox, port = plain_server
    alert = transition("firing")
    await EmailChannel(config(port)).send(alert, b"", RECEIVER)
    ((sender, recipients, content, tls),) = mailbox.messages
    assert sender == "detoxmon@hospital.example"
    assert recipients == ["rn-4411@wards.hospital.example"]
    assert not tls
    message = email.message_from_bytes(content, policy=email.policy.default)
    assert message["Subject"] == (
        "[detoxmon medium] FIRING: Pulse at or above 120/min - patient pt-7f3a9c, ward-3"
    )
    assert message["Message-ID"] == f"<{alert.transition_id}.rn-4411@hospital.example>"
    assert message["References"] == f"<alert-{alert.alert_id}@hospital.example>"
    assert message["Auto-Submitted"] == "auto-generated"
    text = message.get_content()
    assert "Value:     124 /min (threshold 120)" in text
    assert f"Alert:     {alert.alert_id}" in text


async def test_starttls_and_login_are_used_when_configured(
    tls_server: tuple[Mailbox, int], certificate: tuple[Path, Path]
) -> None:
    mailbox, port = tls_server
    secure = config(
        port,
        security="starttls",
        username="detoxmon",
        password="mail-pass",
        ca_file=certificate[0],
    )
    await EmailChannel(secure).send(transition("resolved"), b"", RECEIVER)
    assert [tls for *_, tls in mailbox.messages] == [True]


async def test_refusals_are_classified(
    tls_server: tuple[Mailbox, int], certificate: tuple[Path, Path]
) -> None:
    _, port = tls_server
    alert = transition("firing")
    wrong_password = config(
        port, security="starttls", username="detoxmon", password="nope", ca_file=certificate[0]
    )
    with pytest.raises(DeliveryError) as caught:
        await EmailChannel(wrong_password).send(alert, b"", RECEIVER)
    assert not caught.value.retryable
    assert "535" in str(caught.value)
    untrusted = config(port, security="starttls", username="detoxmon", password="mail-pass")
    with pytest.raises(DeliveryError) as caught:
        await EmailChannel(untrusted).send(alert, b"", RECEIVER)
    assert not caught.value.retryable  # a certificate that does not verify needs an operator
    plain_to_tls_only = config(port)
    with pytest.raises(DeliveryError) as caught:
        await EmailChannel(plain_to_tls_only).send(alert, b"", RECEIVER)
    assert not caught.value.retryable


async def test_4xx_is_retried_5xx_is_not_and_a_closed_port_is_retried(
    plain_server: tuple[Mailbox, int],
) -> None:
    mailbox, port = plain_server
    mailbox.rcpt_answers = ["450 4.2.1 mailbox busy, try later", "550 5.1.1 no such user"]
    channel = EmailChannel(config(port))
    alert = transition("firing")
    with pytest.raises(DeliveryError) as busy:
        await channel.send(alert, b"", RECEIVER)
    with pytest.raises(DeliveryError) as unknown:
        await channel.send(alert, b"", RECEIVER)
    with pytest.raises(DeliveryError) as closed:
        await EmailChannel(config(free_port())).send(alert, b"", RECEIVER)
    assert (busy.value.retryable, unknown.value.retryable, closed.value.retryable) == (
        True,
        False,
        True,
    )
    await channel.send(alert, b"", RECEIVER)
    assert len(mailbox.messages) == 1
