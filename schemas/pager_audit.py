"""The pager's audit trail: one record per notification attempt and per acknowledgement.

Published on the pager-audit topic (keyed by patient id) and stored in InfluxDB as the
``pager_audit`` measurement, so "who was paged, how, when, and did it get through" can be
answered for every alert. Records carry ids and codes only: never the page's text, a secret or
an address.
"""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from schemas.acks import AckReason
from schemas.alerts import AlertState, EscalationRole, Priority
from schemas.common import PatientId, StaffId, WardId

#: Channels that reach a person; ``http`` and ``pagerduty`` also name where an ack came from.
AuditChannel = Literal["pagerduty", "webhook", "email", "http"]

#: What happened: ``delivered`` (the channel accepted it), ``retrying`` (a failed attempt that
#: will be retried), ``failed`` (the channel's budget for this transition is spent, or it refused
#: the page for good), ``fell_back`` (the next channel of the route takes over),
#: ``duplicate_skipped`` (already delivered: a redelivery or replay), ``acknowledged`` (someone
#: took responsibility, by HTTP or PagerDuty).
AuditOutcome = Literal[
    "delivered", "retrying", "failed", "fell_back", "duplicate_skipped", "acknowledged"
]


class PagerAudit(BaseModel):
    """One notification attempt and its outcome, or one acknowledgement."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="PagerAudit")

    kind: Literal["pager_audit"] = "pager_audit"
    schema_version: Literal[1] = 1
    audit_id: UUID = Field(description="Unique per record; a redelivered record repeats it.")
    at: AwareDatetime = Field(description="When the attempt ended or the ack was accepted.")
    outcome: AuditOutcome
    channel: AuditChannel
    alert_id: UUID
    transition_id: UUID | None = Field(
        default=None, description="The transition notified (none for acknowledgements)."
    )
    patient_id: PatientId
    ward: WardId | None = None
    rule_id: str | None = None
    priority: Priority | None = None
    state: AlertState | None = Field(default=None, description="The transition's state.")
    receiver: StaffId | None = Field(
        default=None, description="Pseudonymous receiver id from the routing file."
    )
    role: EscalationRole | None = None
    attempt: int = Field(
        default=0, ge=0, description="Attempt number on this channel for this transition."
    )
    latency_ms: float | None = Field(
        default=None,
        ge=0,
        description="Milliseconds from the transition's publication on the alerts topic to "
        "this attempt's end; for an acknowledgement, from the alert's first page.",
    )
    fallback_to: AuditChannel | None = Field(
        default=None, description="On 'fell_back': the channel that takes over."
    )
    detail: str | None = Field(
        default=None, max_length=500, description="Why an attempt failed (no message content)."
    )
    ack_id: UUID | None = None
    acknowledged_by: StaffId | None = None
    ack_reason: AckReason | None = None
