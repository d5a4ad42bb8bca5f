"""What the engine remembers about one patient between events (kept in a Faust table).

JSON-serialisable pydantic models, so the table's changelog holds plain JSON and a worker
that takes over a partition rebuilds the same state. Only what the rules need is kept: the
latest value of each vital, not the series; CIWA-B totals of the rise window; a few recent
event ids to drop redeliveries; and every active alert with its lifecycle.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from schemas.alerts import AlertEvidence, AlertState, Priority
from schemas.drugs import Drug, HalfLifeClass, default_half_life_class
from schemas.enrolment import RiskFactor, RiskTier, ThresholdOverride
from schemas.state import News2Band

#: How many recent event ids are remembered to drop a redelivered event.
RECENT_EVENT_IDS = 32


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=False)


class Reading(_Model):
    """The latest value of one measure."""

    value: float
    at: AwareDatetime
    event_id: UUID | None = None


class EnrolmentInfo(_Model):
    """What the enrolment said, as the rules need it."""

    ward: str
    programme: Literal["inpatient", "telehealth"]
    drug: Drug
    half_life_class: HalfLifeClass
    risk_tier: RiskTier = "standard"
    risk_factors: list[RiskFactor] = Field(default_factory=list)
    spo2_scale: Literal[1, 2] = 1
    overrides: list[ThresholdOverride] = Field(default_factory=list)
    enrolled_at: AwareDatetime


class News2Record(_Model):
    """The NEWS2 of the latest complete observation set."""

    total: int
    band: News2Band
    single_3: bool
    at: AwareDatetime
    event_id: UUID | None = None


class Score(_Model):
    """One CIWA-B total."""

    total: int
    at: AwareDatetime
    event_id: UUID | None = None


class Pending(_Model):
    """A condition that holds but has not yet persisted long enough to fire."""

    since: AwareDatetime
    readings: int
    priority: Priority
    evidence: AlertEvidence
    facts: dict[str, float | None] = Field(default_factory=dict)


class AlertRecord(_Model):
    """An active alert and where it is in its lifecycle."""

    alert_id: UUID
    rule_id: str
    priority: Priority
    state: AlertState
    sequence: int = 0
    escalation_level: int = 0
    fired_at: AwareDatetime
    notified: bool = Field(
        default=True, description="False while held back by quiet hours (nobody told yet)."
    )
    next_renotify_at: AwareDatetime | None = None
    next_escalate_at: AwareDatetime | None = None
    acknowledged_at: AwareDatetime | None = None
    acknowledged_by: str | None = None
    last_match_at: AwareDatetime | None = Field(
        default=None, description="Event rules: the latest matching event."
    )
    evidence: AlertEvidence
    facts: dict[str, float | None] = Field(
        default_factory=dict, description="Values for the summary template."
    )


class PatientState(_Model):
    """Everything the engine knows about one patient."""

    patient_id: str
    ward: str | None = None
    enrolment: EnrolmentInfo | None = None
    discharged_at: AwareDatetime | None = None
    last_dose_at: AwareDatetime | None = None
    dose_drug: Drug | None = None
    taper_step: int | None = None
    taper_step_at: AwareDatetime | None = None
    baseline: dict[str, float] = Field(
        default_factory=dict, description="Median of the first N readings of each vital."
    )
    baseline_samples: dict[str, list[float]] = Field(default_factory=dict)
    latest: dict[str, Reading] = Field(default_factory=dict)
    consciousness: Literal["A", "C", "V", "P", "U"] | None = None
    consciousness_at: AwareDatetime | None = None
    supplemental_oxygen: bool | None = None
    last_vitals_at: AwareDatetime | None = None
    device_id: str | None = None
    device_last_at: AwareDatetime | None = None
    device_prev_at: AwareDatetime | None = None
    news2: News2Record | None = None
    ciwa_b: list[Score] = Field(default_factory=list, description="Totals of the rise window.")
    alerts: dict[str, AlertRecord] = Field(default_factory=dict)
    pending: dict[str, Pending] = Field(default_factory=dict)
    last_fired: dict[str, tuple[AwareDatetime, int]] = Field(
        default_factory=dict,
        description="Per rule, when its latest alert fired and how many fired at that instant.",
    )
    handled_gaps: dict[str, AwareDatetime] = Field(
        default_factory=dict,
        description="Data-gap rules: the silence (by its start) already paged or inhibited.",
    )
    clock: AwareDatetime | None = Field(
        default=None, description="Event time the engine has evaluated up to."
    )
    last_event_at: AwareDatetime | None = Field(
        default=None, description="Latest event time seen (events only, not ticks)."
    )
    recent_event_ids: list[str] = Field(default_factory=list)

    @property
    def enrolled(self) -> bool:
        """Whether the patient is enrolled and not discharged."""
        return self.enrolment is not None and self.discharged_at is None

    @property
    def half_life_class(self) -> HalfLifeClass | None:
        """The class that times the withdrawal: the enrolment's for its own drug (a clinician
        may have set it), the drug's default class for a different drug given since."""
        if self.enrolment is None:
            return default_half_life_class(self.dose_drug) if self.dose_drug else None
        if self.dose_drug is None or self.dose_drug == self.enrolment.drug:
            return self.enrolment.half_life_class
        return default_half_life_class(self.dose_drug)

    def latest_ciwa_b(self) -> Score | None:
        """The most recent CIWA-B total."""
        return max(self.ciwa_b, key=lambda score: score.at) if self.ciwa_b else None

    def to_json(self) -> dict[str, object]:
        """Compact JSON for the table (defaults and nulls left out)."""
        return self.model_dump(mode="json", exclude_defaults=True)


def new_state(patient_id: str) -> PatientState:
    """The state of a patient the engine has not seen."""
    return PatientState(patient_id=patient_id)


def seen(state: PatientState, event_id: str) -> bool:
    """Whether ``event_id`` was evaluated recently (a redelivery)."""
    return event_id in state.recent_event_ids


def remember(state: PatientState, event_id: str) -> None:
    """Record ``event_id`` as evaluated, forgetting the oldest beyond the limit."""
    state.recent_event_ids.append(event_id)
    del state.recent_event_ids[:-RECENT_EVENT_IDS]


def latest_time(*moments: datetime | None) -> datetime | None:
    """The latest of the given times, ignoring None."""
    present = [moment for moment in moments if moment is not None]
    return max(present) if present else None
