"""Agent: page each alert transition to the people the routing names, once, in order.

For each transition on the alerts topic (keyed by patient, so one alert's transitions arrive
in order on one partition, and are handled one at a time): log it, keep the alert's record
(for acknowledgements and follow-up transitions), plan the targets from the routing, deliver
(:mod:`agents.pager.delivery`: retries, fallback, dedup, audit), then acknowledge the event.
A transition is acknowledged only after every target is served and the broker has each
delivered-pages entry, so a crash or a rebalance redelivers it and the table skips whoever was
already paged.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import aiohttp
import faust
from pydantic import ValidationError

from agents.app import alerts_topic, app
from agents.contract import ContractError, describe
from agents.deadletter import dead_letter
from agents.pager import startup, web  # noqa: F401  (registers the HTTP endpoints)
from agents.pager.channels import log_transition
from agents.pager.delivery import Deliverer
from agents.pager.state import AlertRecord, audit_topic, delivered_table, get_record, put_record
from agents.streaming import manual_ack
from schemas import Alert
from schemas.pager_audit import PagerAudit

log = logging.getLogger(__name__)

startup.install()


async def publish_audit(record: PagerAudit) -> None:
    """Send an audit record to the pager-audit topic, keyed by patient."""
    await audit_topic.send(key=record.patient_id.encode(), value=record.model_dump_json().encode())


def _record_for(alert: Alert) -> AlertRecord:
    known = get_record(alert.alert_id)
    if known is not None:
        return known.updated(alert)
    return AlertRecord(
        alert_id=alert.alert_id,
        patient_id=alert.patient_id,
        ward=alert.ward,
        rule_id=alert.rule_id,
        priority=alert.priority,
        state=alert.state,
        sequence=alert.sequence,
        first_paged_at=datetime.now(UTC),
    )


@app.agent(alerts_topic)
async def notify_pager(stream: faust.StreamT[bytes]) -> None:
    """Deliver every alert transition to its targets."""
    runtime = startup.current_runtime()
    manual = manual_ack(stream)
    async with aiohttp.ClientSession() as session:
        deliverer = Deliverer(
            runtime.channels(session),
            delivered=delivered_table,
            audit=publish_audit,
            policy=runtime.policy,
            confirm=delivered_table.confirmed,
        )
        async for event in manual.events():
            try:
                alert = Alert.model_validate_json(event.value)
            except ValidationError as exc:
                await dead_letter(event, ContractError("schema_violation", describe(exc)))
                await manual.ack(event)
                continue
            log_transition(alert)
            record = _record_for(alert)
            await put_record(record)
            targets = runtime.routing.plan(alert, record.carrier_list())
            carriers = await deliverer.deliver(
                alert, event.value, targets, published_at=event.message.timestamp
            )
            await put_record(record.reached(carriers))
            await manual.ack(event)
