"""Alert lifecycle messages, published on the alerts topic and consumed by the pager.

One alert per patient and rule at a time (deduplicated). Its life is a sequence of
transitions: ``firing`` -> (``renotified`` | ``escalated``)* -> ``acknowledged``? ->
``resolved``. Every transition repeats the alert id and carries a deterministic transition id,
so a replay or redelivery pages nobody twice. Priorities follow IEC 60601-1-8: high
(immediate response), medium (prompt), low (awareness).
"""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from schemas.common import PatientId, StaffId, WardId

Priority = Literal["high", "medium", "low"]

#: Numeric order of priorities, for comparisons (higher is more urgent).
PRIORITY_RANK: dict[str, int] = {"low": 1, "medium": 2, "high": 3}

AlertState = Literal["firing", "renotified", "escalated", "acknowledged", "resolved"]

#: The escalation chain, in order.
EscalationRole = Literal["bedside_nurse", "charge_nurse", "on_call_physician"]
ESCALATION_CHAIN: tuple[EscalationRole, ...] = (
    "bedside_nurse",
    "charge_nurse",
    "on_call_physician",
)

#: Withdrawal phase (clinical.md section 11.2).
Phase = Literal["early", "acute", "protracted", "unknown"]


class AlertEvidence(BaseModel):
    """What the rule saw when the alert changed state: enough for a nurse to judge the page."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    measure: str = Field(
        description="What the rule watches: a vital ('heart_rate'), a score ('news2', "
        "'ciwa_b'), an event type ('seizure') or 'observation_gap'."
    )
    value: float | None = Field(default=None, description="The value behind the transition.")
    unit: str | None = Field(default=None, description="UCUM unit of value and threshold.")
    threshold: float | None = Field(default=None, description="The threshold in force.")
    reading_event_id: UUID | None = Field(
        default=None, description="event_id of the event that caused the transition."
    )
    observed_at: AwareDatetime = Field(description="Event time of that event.")
    values: dict[str, float] = Field(
        default_factory=dict, description="Every vital of the observation set, by field name."
    )
    news2: int | None = Field(default=None, description="Latest NEWS2 aggregate (0-20).")
    news2_stale: bool = Field(
        default=False, description="NEWS2 built from readings older than the cadence."
    )
    ciwa_b: int | None = Field(default=None, description="Latest CIWA-B total (0-80).")
    hours_since_last_dose: float | None = None
    phase: Phase | None = None
    in_peak_window: bool | None = None


class Alert(BaseModel):
    """One transition of one alert."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="Alert")

    kind: Literal["alert"] = "alert"
    schema_version: Literal[1] = 1
    alert_id: UUID = Field(description="Stable for the alert's whole life (fire to resolve).")
    transition_id: UUID = Field(
        description="Unique per transition and deterministic, so a replay pages nobody twice."
    )
    sequence: int = Field(default=0, ge=0, description="Transition number within the alert.")
    patient_id: PatientId
    ward: WardId | None = None
    rule_id: str = Field(description="Stable rule identifier, e.g. 'pulse_high'.")
    priority: Priority
    state: AlertState
    at: AwareDatetime = Field(description="Event time of the transition.")
    summary: str = Field(description="One line for the page, without patient-identifying data.")
    source: str = Field(description="Published source of the rule's threshold.")
    evidence: AlertEvidence
    escalation_level: int = Field(
        default=0, ge=0, description="Index into the escalation chain (0: bedside nurse)."
    )
    escalate_to: EscalationRole = Field(
        default="bedside_nurse", description="Who this transition is for."
    )
    acknowledged_by: StaffId | None = Field(
        default=None, description="Pseudonymous staff id, on 'acknowledged'."
    )
    ack_latency_s: float | None = Field(
        default=None, ge=0, description="Seconds from firing to acknowledgement, on 'acknowledged'."
    )
