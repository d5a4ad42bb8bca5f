"""Alert lifecycle message, published on the alerts topic and consumed by the pager."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from schemas.common import PatientId, WardId

#: Alarm priority after IEC 60601-1-8 (high: immediate response; medium: prompt; low: awareness).
Priority = Literal["high", "medium", "low"]

AlertState = Literal["firing", "resolved"]


class AlertEvidence(BaseModel):
    """What the rule saw when it changed state: enough for a nurse to judge the page."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    vital: str = Field(description="The vital-sign field the rule watches.")
    value: float = Field(description="The value that caused the transition.")
    unit: str = Field(description="UCUM unit of value and threshold.")
    threshold: float = Field(description="The rule's threshold.")
    reading_event_id: UUID = Field(description="event_id of the reading that caused it.")
    observed_at: AwareDatetime = Field(description="Event time of that reading.")


class Alert(BaseModel):
    """One transition of one alert (one alert per patient and rule)."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="Alert")

    kind: Literal["alert"] = "alert"
    schema_version: Literal[1] = 1
    alert_id: UUID = Field(description="Stable for the alert's whole life (fire to resolve).")
    transition_id: UUID = Field(
        description="Unique per transition and deterministic, so a replay pages nobody twice."
    )
    patient_id: PatientId
    ward: WardId | None = None
    rule_id: str = Field(description="Stable rule identifier, e.g. 'pulse_high'.")
    priority: Priority
    state: AlertState
    at: AwareDatetime = Field(description="Event time of the transition.")
    summary: str = Field(description="One line for the page, without patient-identifying data.")
    source: str = Field(description="Published source of the rule's threshold.")
    evidence: AlertEvidence
