"""Builders for the engine tests: events at minute offsets, and a run that feeds them.

Times start on Monday 2026-01-05 08:00 UTC (GMT in Europe/London, so quiet hours are
23:00-07:00 UTC). Kept in a test module so each engine test imports only what it uses.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from agents.engine import PatientState, RuleSet, default_rules, evaluate, new_state, tick
from agents.engine.evaluation import EngineEvent, Evaluation
from schemas import (
    Alert,
    AlertAcknowledgement,
    CheckIn,
    CiwaBAssessment,
    ClinicalEvent,
    Discharge,
    DoseAdministration,
    Enrolment,
    VitalSignsObservation,
)

T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
PATIENT = "pt-0001"
RULES = default_rules()

#: A complete observation set that scores NEWS2 0.
NORMAL: dict[str, Any] = {
    "respiratory_rate": 16,
    "spo2": 97,
    "systolic_bp": 125,
    "diastolic_bp": 80,
    "heart_rate": 75,
    "consciousness": "A",
    "temperature": 36.8,
    "supplemental_oxygen": False,
}


def at(minutes: float) -> datetime:
    """``minutes`` after T0."""
    return T0 + timedelta(minutes=minutes)


def _common(minutes: float, device: str, source: str) -> dict[str, Any]:
    return {
        "event_id": uuid.uuid4(),
        "patient_id": PATIENT,
        "device_id": device,
        "source": source,
        "observed_at": at(minutes),
    }


def enrol(minutes: float = 0, *, last_dose_h: float = -2, **fields: Any) -> Enrolment:
    """An enrolment; the last dose ``last_dose_h`` hours from T0 (alprazolam by default)."""
    data = {
        **_common(minutes, "ehr", "ehr"),
        "ward": "ward-3",
        "programme": "inpatient",
        "drug": "alprazolam",
        "last_dose_at": T0 + timedelta(hours=last_dose_h),
        **fields,
    }
    return Enrolment.model_validate(data)


def vitals(
    minutes: float, *, source: str = "bedside_monitor", device: str = "bm-1", **values: Any
) -> VitalSignsObservation:
    """A vital-signs observation with the given values."""
    return VitalSignsObservation.model_validate({**_common(minutes, device, source), **values})


def full_set(minutes: float, **changes: Any) -> VitalSignsObservation:
    """A complete observation set: :data:`NORMAL` with ``changes``."""
    return vitals(minutes, **{**NORMAL, **changes})


def ciwa_b(minutes: float, total: int) -> CiwaBAssessment:
    """A CIWA-B form whose items add up to ``total``."""
    names = list(CiwaBAssessment.model_fields["items"].annotation.model_fields)  # type: ignore[union-attr]
    items, left = {}, total
    for name in names:
        items[name] = min(4, left)
        left -= items[name]
    return CiwaBAssessment.model_validate(
        {**_common(minutes, "tablet-1", "manual_entry"), "items": items}
    )


def dose(
    minutes: float, drug: str = "diazepam", mg: float = 10, **fields: Any
) -> DoseAdministration:
    """A dose given at ``minutes``."""
    return DoseAdministration.model_validate(
        {**_common(minutes, "emar-1", "manual_entry"), "drug": drug, "dose_mg": mg, **fields}
    )


def clinical(minutes: float, event_type: str, **fields: Any) -> ClinicalEvent:
    """A clinical event reported by staff."""
    return ClinicalEvent.model_validate(
        {**_common(minutes, "ehr", "manual_entry"), "event_type": event_type, **fields}
    )


def check_in(minutes: float, **answers: Any) -> CheckIn:
    """A telehealth check-in."""
    return CheckIn.model_validate({**_common(minutes, "app-1", "telehealth_app"), **answers})


def discharge(minutes: float) -> Discharge:
    """A discharge."""
    return Discharge.model_validate({**_common(minutes, "ehr", "ehr"), "reason": "completed"})


def ack(minutes: float, alert_id: uuid.UUID, *, by: str = "rn-0001") -> AlertAcknowledgement:
    """An acknowledgement of ``alert_id``."""
    return AlertAcknowledgement(
        ack_id=uuid.uuid4(),
        alert_id=alert_id,
        patient_id=PATIENT,
        by=by,
        reason="attending_patient",
        at=at(minutes),
        via="http",
    )


@dataclass
class Run:
    """Feeds events to the engine one at a time, keeping every transition."""

    rules: RuleSet = RULES
    state: PatientState = field(default_factory=lambda: new_state(PATIENT))
    transitions: list[Alert] = field(default_factory=list)
    last: Evaluation | None = None

    def feed(self, *events: EngineEvent) -> Run:
        for event in events:
            now = event.at if isinstance(event, AlertAcknowledgement) else event.observed_at
            self.last = evaluate(self.state, event, self.rules, now=now)
            self.state = self.last.state
            self.transitions.extend(self.last.transitions)
        return self

    def until(self, minutes: float) -> Run:
        self.last = tick(self.state, self.rules, now=at(minutes))
        self.state = self.last.state
        self.transitions.extend(self.last.transitions)
        return self

    def ack(self, minutes: float, rule_id: str) -> Run:
        """Acknowledge the active alert of ``rule_id`` (after letting time pass to it)."""
        probe = tick(self.state, self.rules, now=at(minutes) - timedelta(microseconds=1))
        return self.feed(ack(minutes, probe.state.alerts[rule_id].alert_id))

    def rows(self, *rule_ids: str) -> list[tuple[str, str, str, float]]:
        """(rule, state, priority, minutes after T0) of the transitions, optionally filtered."""
        return [
            (a.rule_id, a.state, a.priority, (a.at - T0).total_seconds() / 60)
            for a in self.transitions
            if not rule_ids or a.rule_id in rule_ids
        ]

    def fired(self) -> set[str]:
        """Rules that have fired."""
        return {a.rule_id for a in self.transitions if a.state == "firing"}


def test_builders_make_valid_events_for_one_patient() -> None:
    events = [
        enrol(),
        full_set(0),
        ciwa_b(5, 80),
        dose(10),
        clinical(15, "fall"),
        check_in(20, anxiety=3),
    ]
    assert {event.patient_id for event in events} == {PATIENT}
    assert ciwa_b(0, 37).total == 37
