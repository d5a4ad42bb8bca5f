"""Delivery: retries, Retry-After, fallback, down marks, never losing and never repeating a page.

Real local servers stand in for PagerDuty and a webhook receiver; only the retry budget is
short.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest

from agents.embedded.process import free_port
from agents.pager.channels import PagerDutyChannel, WebhookChannel
from agents.pager.delivery import Deliverer, RetryPolicy, delivered_key
from agents.pager.plan import Receiver, Target
from schemas.pager_audit import PagerAudit
from tests.support.pagerduty_server import PagerDutyStandIn
from tests.support.recording_server import RecordingServer, recording_server
from tests.unit.test_pager_pagerduty import ROUTING_KEY, transition

POLICY = RetryPolicy(attempts=3, budget_s=5, initial_backoff_s=0.05, max_backoff_s=0.2)


@pytest.fixture
def pagerduty() -> Iterator[PagerDutyStandIn]:
    server = PagerDutyStandIn()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def webhook() -> Iterator[RecordingServer]:
    with recording_server() as server:
        yield server


def target(webhook_url: str) -> Target:
    receiver = Receiver(
        "rn-4411", routing_key=ROUTING_KEY, webhook_url=webhook_url, webhook_secret=b"s"
    )
    return Target(receiver, "bedside_nurse", ("pagerduty", "webhook"))


class Harness:
    """A deliverer with a plain dict for the delivered-pages table and a list for the audit."""

    def __init__(self, session: aiohttp.ClientSession, events_url: str, **policy: Any) -> None:
        self.delivered: dict[str, str] = {}
        self.audit: list[PagerAudit] = []
        channels = {
            "pagerduty": PagerDutyChannel(session, url=events_url, timeout_s=2),
            "webhook": WebhookChannel(session, timeout_s=2),
        }

        async def record(audit: PagerAudit) -> None:
            self.audit.append(audit)

        self.deliverer = Deliverer(
            channels,
            delivered=self.delivered,
            audit=record,
            policy=RetryPolicy(**{**POLICY.__dict__, **policy}),
        )

    def outcomes(self) -> list[tuple[str, str, int, str | None]]:
        return [(a.outcome, a.channel, a.attempt, a.fallback_to) for a in self.audit]


async def test_a_page_is_delivered_once_and_a_redelivery_is_skipped(
    pagerduty: PagerDutyStandIn, webhook: RecordingServer
) -> None:
    alert = transition("firing")
    async with aiohttp.ClientSession() as session:
        harness = Harness(session, pagerduty.url)
        for _ in range(2):  # the second time is a redelivery after a restart
            carriers = await harness.deliverer.deliver(
                alert, b"{}", [target(webhook.url)], published_at=time.time()
            )
    assert [c.channel for c in carriers] == ["pagerduty"]
    assert len(pagerduty.accepted()) == 1
    assert harness.outcomes() == [
        ("delivered", "pagerduty", 1, None),
        ("duplicate_skipped", "pagerduty", 0, None),
    ]
    assert harness.delivered == {delivered_key(alert, target(webhook.url)): "pagerduty"}
    first = harness.audit[0]
    assert first.transition_id == alert.transition_id
    assert first.receiver == "rn-4411"
    assert first.role == "bedside_nurse"
    assert first.latency_ms is not None
    assert first.latency_ms >= 0


async def test_a_channel_that_stays_down_falls_back_and_later_pages_try_it_once(
    pagerduty: PagerDutyStandIn, webhook: RecordingServer
) -> None:
    pagerduty.script(500, 500, 500, 503)
    first, second, third = (transition("firing") for _ in range(3))
    async with aiohttp.ClientSession() as session:
        harness = Harness(session, pagerduty.url)
        for alert in (first, second):
            await harness.deliverer.deliver(
                alert, alert.model_dump_json().encode(), [target(webhook.url)], published_at=0
            )
        down_audit = harness.outcomes()
        harness.audit.clear()
        await harness.deliverer.deliver(third, b"{}", [target(webhook.url)], published_at=0)
    assert down_audit == [
        ("retrying", "pagerduty", 1, None),
        ("retrying", "pagerduty", 2, None),
        ("failed", "pagerduty", 3, None),
        ("fell_back", "pagerduty", 0, "webhook"),
        ("delivered", "webhook", 1, None),
        # PagerDuty is now marked down: one attempt, then straight to the webhook.
        ("failed", "pagerduty", 1, None),
        ("fell_back", "pagerduty", 0, "webhook"),
        ("delivered", "webhook", 1, None),
    ]
    # It answers again: the single attempt succeeds and it is marked up.
    assert harness.outcomes() == [("delivered", "pagerduty", 1, None)]
    assert [r.headers["Idempotency-Key"] for r in webhook.accepted()] == [
        str(first.transition_id),
        str(second.transition_id),
    ]
    assert [e["dedup_key"] for e in pagerduty.accepted()] == [f"detoxmon-{third.alert_id}"]


async def test_retry_after_is_honoured(
    pagerduty: PagerDutyStandIn, webhook: RecordingServer
) -> None:
    pagerduty.script((429, {"Retry-After": "1"}))
    async with aiohttp.ClientSession() as session:
        harness = Harness(session, pagerduty.url)
        started = time.monotonic()
        await harness.deliverer.deliver(
            transition("firing"), b"{}", [target(webhook.url)], published_at=0
        )
        waited = time.monotonic() - started
    assert waited >= 1.0
    assert harness.outcomes() == [
        ("retrying", "pagerduty", 1, None),
        ("delivered", "pagerduty", 2, None),
    ]
    assert "next attempt in 1.0 s" in (harness.audit[0].detail or "")


async def test_a_retry_after_beyond_the_budget_falls_back_at_once(
    pagerduty: PagerDutyStandIn, webhook: RecordingServer
) -> None:
    pagerduty.script((429, {"Retry-After": "120"}))
    async with aiohttp.ClientSession() as session:
        harness = Harness(session, pagerduty.url)
        started = time.monotonic()
        await harness.deliverer.deliver(
            transition("firing"), b"{}", [target(webhook.url)], published_at=0
        )
    assert time.monotonic() - started < 2
    assert [o[:2] for o in harness.outcomes()] == [
        ("failed", "pagerduty"),
        ("fell_back", "pagerduty"),
        ("delivered", "webhook"),
    ]


async def test_a_refusal_is_not_retried(
    pagerduty: PagerDutyStandIn, webhook: RecordingServer
) -> None:
    pagerduty.script(400)
    async with aiohttp.ClientSession() as session:
        harness = Harness(session, pagerduty.url)
        await harness.deliverer.deliver(
            transition("firing"), b"{}", [target(webhook.url)], published_at=0
        )
    assert harness.outcomes()[:2] == [
        ("failed", "pagerduty", 1, None),
        ("fell_back", "pagerduty", 0, "webhook"),
    ]


async def test_when_every_channel_is_down_the_page_waits_and_is_never_dropped() -> None:
    pagerduty = PagerDutyStandIn()
    pagerduty.start()
    pagerduty.stop()  # refuses connections
    nowhere = f"http://127.0.0.1:{free_port()}/page"
    alert = transition("firing")
    async with aiohttp.ClientSession() as session:
        harness = Harness(session, pagerduty.url, attempts=2, budget_s=1)
        delivery = asyncio.create_task(
            harness.deliverer.deliver(alert, b"{}", [target(nowhere)], published_at=0)
        )
        await asyncio.sleep(1.5)
        assert not delivery.done()
        pagerduty.start()  # PagerDuty returns on the same port
        try:
            carriers = await asyncio.wait_for(delivery, timeout=10)
        finally:
            pagerduty.stop()
    assert [c.channel for c in carriers] == ["pagerduty"]
    outcomes = [o[:2] for o in harness.outcomes()]
    assert outcomes.count(("failed", "webhook")) >= 2  # it went round more than once
    assert outcomes[-1] == ("delivered", "pagerduty")
    assert len(pagerduty.accepted()) == 1
