"""Audit records of the pager and their InfluxDB line protocol.

``pager_audit`` points: tags ``channel``, ``outcome``, ``priority``, ``ward``, ``rule_id``
(``unknown`` when absent: InfluxDB drops empty tags, and a missing tag would split a series);
fields ``alert_id``, ``transition_id`` (strings), ``attempt`` (integer), ``latency_ms``
(float, when known); time is the attempt's, to the microsecond, and the audit id modulo 1000
fills the nanoseconds, so two records of the same series in the same microsecond stay two
points while a redelivered record (same audit id) overwrites itself.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from influxdb_client.client.write.point import Point
from influxdb_client.domain.write_precision import WritePrecision

from schemas.acks import AlertAcknowledgement
from schemas.alerts import Alert, EscalationRole, Priority
from schemas.pager_audit import AuditChannel, AuditOutcome, PagerAudit

UNKNOWN = "unknown"

#: influxdb-client leaves Point's methods unannotated; this keeps mypy --strict on the rest.
_point: Callable[[str], Any] = Point

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def notification_audit(
    alert: Alert,
    *,
    receiver: str,
    role: EscalationRole | None,
    channel: AuditChannel,
    outcome: AuditOutcome,
    attempt: int,
    at: float,
    latency_ms: float | None,
    detail: str | None = None,
    fallback_to: AuditChannel | None = None,
) -> PagerAudit:
    """The record of one attempt (or fallback, or skip) to notify ``receiver`` of ``alert``."""
    return PagerAudit(
        audit_id=uuid.uuid4(),
        at=datetime.fromtimestamp(at, UTC),
        outcome=outcome,
        channel=channel,
        alert_id=alert.alert_id,
        transition_id=alert.transition_id,
        patient_id=alert.patient_id,
        ward=alert.ward,
        rule_id=alert.rule_id,
        priority=alert.priority,
        state=alert.state,
        receiver=receiver,
        role=role,
        attempt=attempt,
        latency_ms=latency_ms,
        fallback_to=fallback_to,
        detail=detail[:500] if detail else None,
    )


def acknowledgement_audit(
    ack: AlertAcknowledgement,
    *,
    ward: str | None,
    rule_id: str | None,
    priority: Priority | None,
    first_paged_at: datetime | None,
) -> PagerAudit:
    """The record of an accepted acknowledgement; latency is time since the first page."""
    latency = None
    if first_paged_at is not None:
        latency = max((ack.at - first_paged_at).total_seconds(), 0.0) * 1000
    return PagerAudit(
        audit_id=uuid.uuid4(),
        at=ack.at,
        outcome="acknowledged",
        channel="pagerduty" if ack.via == "pagerduty" else "http",
        alert_id=ack.alert_id,
        patient_id=ack.patient_id,
        ward=ward,
        rule_id=rule_id,
        priority=priority,
        role=ack.role,
        latency_ms=latency,
        ack_id=ack.ack_id,
        acknowledged_by=ack.by,
        ack_reason=ack.reason,
    )


def audit_point(audit: PagerAudit) -> str:
    """The ``pager_audit`` line of one audit record."""
    nanoseconds = (audit.at - _EPOCH) // _MICROSECOND * 1000 + audit.audit_id.int % 1000
    point = (
        _point("pager_audit")
        .tag("channel", audit.channel)
        .tag("outcome", audit.outcome)
        .tag("priority", audit.priority or UNKNOWN)
        .tag("ward", audit.ward or UNKNOWN)
        .tag("rule_id", audit.rule_id or UNKNOWN)
        .field("alert_id", str(audit.alert_id))
        .field("attempt", int(audit.attempt))
        .time(nanoseconds, WritePrecision.NS)
    )
    if audit.transition_id is not None:
        point.field("transition_id", str(audit.transition_id))
    if audit.latency_ms is not None:
        point.field("latency_ms", float(audit.latency_ms))
    return str(point.to_line_protocol())
