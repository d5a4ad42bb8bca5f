"""Audit records and their ``pager_audit`` InfluxDB points."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from agents.pager.audit import acknowledgement_audit, audit_point, notification_audit
from schemas.acks import AlertAcknowledgement
from schemas.pager_audit import PagerAudit
from tests.unit.test_pager_pagerduty import transition

AT = datetime(2026, 11, 20, 8, 15, 30, 123456, tzinfo=UTC)
AT_NS = 1_795_162_530_123_456_000


def test_a_notification_attempt_becomes_one_line_with_tags_fields_and_attempt_time() -> None:
    alert = transition("firing")
    audit = notification_audit(
        alert,
        receiver="rn-4411",
        role="bedside_nurse",
        channel="pagerduty",
        outcome="retrying",
        attempt=2,
        at=AT.timestamp(),
        latency_ms=1500,
        detail="PagerDuty answered 500",
    ).model_copy(update={"audit_id": uuid.UUID(int=1234), "at": AT})
    assert audit_point(audit) == (
        "pager_audit,channel=pagerduty,outcome=retrying,priority=medium,rule_id=pulse_high,"
        f'ward=ward-3 alert_id="{alert.alert_id}",attempt=2i,latency_ms=1500,'
        f'transition_id="{alert.transition_id}" {AT_NS + 234}'
    )


def test_two_records_in_the_same_microsecond_do_not_overwrite_each_other() -> None:
    alert = transition("firing")
    base = notification_audit(
        alert,
        receiver="rn-4411",
        role=None,
        channel="webhook",
        outcome="failed",
        attempt=1,
        at=AT.timestamp(),
        latency_ms=None,
    )
    one = base.model_copy(update={"audit_id": uuid.UUID(int=1), "at": AT})
    two = base.model_copy(update={"audit_id": uuid.UUID(int=2), "at": AT})
    assert audit_point(one).rsplit(" ", 1)[1] != audit_point(two).rsplit(" ", 1)[1]
    assert audit_point(one) == audit_point(one)  # a redelivered record overwrites itself


def test_an_acknowledgement_is_audited_with_time_since_the_first_page() -> None:
    ack = AlertAcknowledgement(
        ack_id=uuid.UUID(int=9),
        alert_id=uuid.UUID(int=8),
        patient_id="pt-7f3a9c",
        by="rn-4411",
        role="bedside_nurse",
        reason="attending_patient",
        at=AT,
        via="http",
    )
    audit = acknowledgement_audit(
        ack,
        ward=None,
        rule_id="pulse_high",
        priority="high",
        first_paged_at=datetime(2026, 11, 20, 8, 14, 30, 123456, tzinfo=UTC),
    ).model_copy(update={"audit_id": uuid.UUID(int=1000)})
    assert (audit.outcome, audit.channel, audit.acknowledged_by, audit.latency_ms) == (
        "acknowledged",
        "http",
        "rn-4411",
        60000.0,
    )
    assert audit_point(audit) == (
        "pager_audit,channel=http,outcome=acknowledged,priority=high,rule_id=pulse_high,"
        f'ward=unknown alert_id="{uuid.UUID(int=8)}",attempt=0i,latency_ms=60000 {AT_NS}'
    )
    assert PagerAudit.model_validate_json(audit.model_dump_json()) == audit
