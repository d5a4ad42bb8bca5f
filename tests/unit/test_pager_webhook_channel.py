"""The signed webhook channel, against a real recording server and the reference receiver."""

from __future__ import annotations

import hashlib
import hmac
import time

import aiohttp
import pytest

from agents.pager.channels import WebhookChannel
from agents.pager.errors import DeliveryError
from agents.pager.plan import Receiver
from agents.pager.receiver import WebhookReceiver
from schemas.alerts import Alert
from tests.support.recording_server import recording_server
from tests.unit.test_pager_pagerduty import transition

SECRET = b"gateway-secret"


async def test_the_request_is_signed_timestamped_and_carries_the_idempotency_key() -> None:
    alert = transition("firing")
    body = alert.model_dump_json().encode()
    with recording_server() as server:
        receiver = Receiver("rn-4411", webhook_url=server.url, webhook_secret=SECRET)
        async with aiohttp.ClientSession() as session:
            await WebhookChannel(session, timeout_s=2).send(alert, body, receiver)
        (request,) = server.accepted()
    assert request.method == "POST"
    assert request.path == "/page"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Idempotency-Key"] == str(alert.transition_id)
    timestamp = request.headers["X-Detoxmon-Timestamp"]
    assert abs(int(timestamp) - time.time()) < 5
    expected = hmac.new(SECRET, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    assert request.headers["X-Detoxmon-Signature"] == f"v1={expected}"
    assert request.body == body  # the transition exactly as published


async def test_the_reference_receiver_accepts_it_once_and_refuses_a_wrong_secret() -> None:
    pages: list[Alert] = []

    async def on_page(alert: Alert) -> None:
        pages.append(alert)

    good = WebhookReceiver(secret=SECRET, on_page=on_page)
    await good.start()
    try:
        alert = transition("escalated", role="charge_nurse")
        body = alert.model_dump_json().encode()
        async with aiohttp.ClientSession() as session:
            channel = WebhookChannel(session, timeout_s=2)
            await channel.send(
                alert, body, Receiver("cn-1", webhook_url=good.url, webhook_secret=SECRET)
            )
            await channel.send(
                alert, body, Receiver("cn-1", webhook_url=good.url, webhook_secret=SECRET)
            )
            with pytest.raises(DeliveryError) as caught:
                await channel.send(
                    alert, body, Receiver("cn-1", webhook_url=good.url, webhook_secret=b"wrong")
                )
    finally:
        await good.stop()
    assert pages == [alert]  # the retry was recognised by its Idempotency-Key
    assert "401" in str(caught.value)
    assert not caught.value.retryable


async def test_5xx_and_429_are_retryable_with_retry_after() -> None:
    alert = transition("firing")
    with recording_server([503, 429]) as server:
        receiver = Receiver("rn-4411", webhook_url=server.url, webhook_secret=SECRET)
        async with aiohttp.ClientSession() as session:
            channel = WebhookChannel(session, timeout_s=2)
            with pytest.raises(DeliveryError) as first:
                await channel.send(alert, b"{}", receiver)
            with pytest.raises(DeliveryError) as second:
                await channel.send(alert, b"{}", receiver)
    assert first.value.retryable
    assert second.value.retryable
