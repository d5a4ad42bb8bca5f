"""PagerDuty Events API v2, against a real local server that checks PagerDuty's contract."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import aiohttp
import pytest

from agents.pager.channels import PagerDutyChannel, dedup_key, pagerduty_event
from agents.pager.errors import DeliveryError
from agents.pager.plan import Receiver
from schemas.alerts import Alert, AlertEvidence, AlertState, EscalationRole, Priority
from tests.support.pagerduty_server import PagerDutyStandIn, contract_violations

ROUTING_KEY = "R0123456789abcdef0123456789abcde"
RECEIVER = Receiver("rn-4411", routing_key=ROUTING_KEY)
AT = datetime(2026, 11, 20, 8, 15, tzinfo=UTC)


def transition(
    state: AlertState,
    *,
    alert_id: uuid.UUID | None = None,
    priority: Priority = "medium",
    sequence: int = 0,
    role: EscalationRole = "bedside_nurse",
) -> Alert:
    return Alert(
        alert_id=alert_id or uuid.uuid4(),
        transition_id=uuid.uuid4(),
        sequence=sequence,
        patient_id="pt-7f3a9c",
        ward="ward-3",
        rule_id="pulse_high",
        priority=priority,
        state=state,
        at=AT,
        summary="Pulse at or above 120/min",
        source="CAMH; NEWS2",
        evidence=AlertEvidence(
            measure="heart_rate", value=124, unit="/min", threshold=120, observed_at=AT
        ),
        escalate_to=role,
    )


@pytest.fixture
def pagerduty() -> Iterator[PagerDutyStandIn]:
    server = PagerDutyStandIn()
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def test_an_alerts_lifecycle_keeps_one_dedup_key_and_payload_only_on_triggers(
    pagerduty: PagerDutyStandIn,
) -> None:
    alert_id = uuid.uuid4()
    lifecycle = [
        transition("firing", alert_id=alert_id),
        transition("renotified", alert_id=alert_id, sequence=1),
        transition("escalated", alert_id=alert_id, sequence=2, role="charge_nurse"),
        transition("acknowledged", alert_id=alert_id, sequence=3),
        transition("resolved", alert_id=alert_id, sequence=4),
    ]
    async with aiohttp.ClientSession() as session:
        channel = PagerDutyChannel(session, url=pagerduty.url, timeout_s=2)
        for alert in lifecycle:
            await channel.send(alert, alert.model_dump_json().encode(), RECEIVER)

    assert pagerduty.violations() == []
    events = pagerduty.accepted()
    assert [e["event_action"] for e in events] == [
        "trigger",
        "trigger",
        "trigger",
        "acknowledge",
        "resolve",
    ]
    assert {e["dedup_key"] for e in events} == {f"detoxmon-{alert_id}"}
    assert {e["routing_key"] for e in events} == {ROUTING_KEY}
    assert [("payload" in e) for e in events] == [True, True, True, False, False]
    assert set(events[3]) == set(events[4]) == {"routing_key", "event_action", "dedup_key"}
    firing = events[0]["payload"]
    assert firing["summary"] == "Pulse at or above 120/min - patient pt-7f3a9c, ward-3"
    assert firing["severity"] == "error"
    assert firing["source"] == "detoxmon/ward-3"
    assert firing["timestamp"] == "2026-11-20T08:15:00+00:00"
    assert (firing["component"], firing["group"], firing["class"]) == (
        "pulse_high",
        "ward-3",
        "heart_rate",
    )
    assert firing["custom_details"]["alert_id"] == str(alert_id)
    assert firing["custom_details"]["value"] == 124
    assert events[2]["payload"]["summary"].endswith("(escalated, for charge nurse)")
    assert events[2]["payload"]["custom_details"]["escalate_to"] == "charge_nurse"
    request = pagerduty.received[0]
    assert request.headers["Content-Type"] == "application/json"


@pytest.mark.parametrize(
    ("priority", "severity"), [("high", "critical"), ("medium", "error"), ("low", "warning")]
)
def test_severity_follows_the_alarm_priority(priority: Priority, severity: str) -> None:
    event = pagerduty_event(transition("firing", priority=priority), ROUTING_KEY)
    assert event["payload"]["severity"] == severity


def test_every_transition_state_yields_a_valid_event() -> None:
    for state in ("firing", "renotified", "escalated", "acknowledged", "resolved"):
        alert = transition(state)  # type: ignore[arg-type]
        body = json.dumps(pagerduty_event(alert, ROUTING_KEY)).encode()
        assert contract_violations("POST", "/v2/enqueue", "application/json", body) == []
    assert dedup_key(uuid.UUID(int=7)) == "detoxmon-00000000-0000-0000-0000-000000000007"


def test_a_long_summary_is_cut_to_pagerdutys_limit() -> None:
    alert = transition("firing").model_copy(update={"summary": "x" * 2000})
    assert len(pagerduty_event(alert, ROUTING_KEY)["payload"]["summary"]) == 1024


async def test_429_and_5xx_are_retryable_with_retry_after_and_400_is_not(
    pagerduty: PagerDutyStandIn,
) -> None:
    alert = transition("firing")
    body = alert.model_dump_json().encode()
    pagerduty.script((429, {"Retry-After": "7"}), 503, 400)
    outcomes = []
    async with aiohttp.ClientSession() as session:
        channel = PagerDutyChannel(session, url=pagerduty.url, timeout_s=2)
        for _ in range(3):
            with pytest.raises(DeliveryError) as caught:
                await channel.send(alert, body, RECEIVER)
            outcomes.append((caught.value.retryable, caught.value.retry_after))
        await channel.send(alert, body, RECEIVER)
    assert outcomes == [(True, 7.0), (True, None), (False, None)]
    assert len(pagerduty.accepted()) == 1


async def test_an_unreachable_service_is_retryable() -> None:
    server = PagerDutyStandIn()
    server.start()
    server.stop()  # the port is now closed
    async with aiohttp.ClientSession() as session:
        channel = PagerDutyChannel(session, url=server.url, timeout_s=2)
        with pytest.raises(DeliveryError) as caught:
            await channel.send(transition("firing"), b"{}", RECEIVER)
    assert caught.value.retryable
    assert "unreachable" in str(caught.value)


def test_the_stand_in_rejects_what_pagerduty_would() -> None:
    bad = b'{"routing_key": "short", "event_action": "resolve", "dedup_key": "k", "payload": {}}'
    assert contract_violations("PUT", "/v2/enqueue", "text/plain", bad) == [
        "method PUT, expected POST",
        "Content-Type 'text/plain', expected application/json",
        "routing_key must be a 32-character string",
        "payload sent with resolve (only a trigger carries one)",
    ]
    assert contract_violations(
        "POST",
        "/v2/enqueue",
        "application/json",
        b'{"routing_key": "' + b"k" * 32 + b'", '
        b'"event_action": "trigger", "dedup_key": "k", "payload": {"summary": "s", '
        b'"source": "x", "severity": "fatal"}}',
    ) == ["payload.severity 'fatal' not in ['critical', 'error', 'info', 'warning']"]
