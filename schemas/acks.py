"""Acknowledgements of alerts, from the worker's HTTP endpoint or PagerDuty's webhook.

The reason is a code, not free text: a note could carry a patient's name.
"""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from schemas.alerts import EscalationRole
from schemas.common import PatientId, StaffId

AckReason = Literal[
    "attending_patient",
    "assessed_no_action",
    "treatment_given",
    "known_artefact",
    "escalated_outside_system",
    "other",
]


class AlertAcknowledgement(BaseModel):
    """Someone has taken responsibility for an alert: escalation stops."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="AlertAcknowledgement")

    kind: Literal["alert_ack"] = "alert_ack"
    schema_version: Literal[1] = 1
    ack_id: UUID = Field(description="Unique per acknowledgement (idempotency).")
    alert_id: UUID
    patient_id: PatientId
    by: StaffId
    role: EscalationRole | None = None
    reason: AckReason
    at: AwareDatetime
    via: Literal["http", "pagerduty", "webhook"]
