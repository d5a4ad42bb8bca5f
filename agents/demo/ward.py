"""What the ward board shows, kept from the pipeline's own topics.

Vitals come from the observations topic (what validation accepted, so an artefact never
reaches the board), scores and phase from the engine's snapshots, and the alert state from
the alert transitions: an alert is open from firing until resolved.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from uuid import UUID

from schemas import PRIORITY_RANK, Alert, VitalSignsObservation
from schemas.state import PatientSnapshot

_OPEN_STATES = frozenset({"firing", "renotified", "escalated", "acknowledged"})


@dataclass
class PatientRow:
    """One patient's latest known state."""

    patient_id: str
    vitals: VitalSignsObservation | None = None
    snapshot: PatientSnapshot | None = None
    open_alerts: dict[UUID, Alert] = field(default_factory=dict)

    def most_urgent(self) -> Alert | None:
        """The open alert to show: highest priority, then escalated before the rest, newest."""
        if not self.open_alerts:
            return None
        return max(
            self.open_alerts.values(),
            key=lambda a: (PRIORITY_RANK[a.priority], a.escalation_level, a.at),
        )

    @property
    def priority(self) -> str | None:
        """The highest priority among open alerts, or None."""
        urgent = self.most_urgent()
        return urgent.priority if urgent is not None else None


@dataclass
class WardView:
    """Every patient seen so far, and the run's alert transitions (each once)."""

    rows: dict[str, PatientRow] = field(default_factory=dict)
    transitions: dict[UUID, Alert] = field(default_factory=dict)

    def row(self, patient_id: str) -> PatientRow:
        """The patient's row, created on first sight."""
        if patient_id not in self.rows:
            self.rows[patient_id] = PatientRow(patient_id)
        return self.rows[patient_id]

    def on_vitals(self, event: VitalSignsObservation) -> None:
        """Keep the newest observation set by event time (late ones may arrive after)."""
        row = self.row(event.patient_id)
        if row.vitals is None or event.observed_at >= row.vitals.observed_at:
            row.vitals = event

    def on_snapshot(self, snapshot: PatientSnapshot) -> None:
        """Keep the newest snapshot by event time."""
        row = self.row(snapshot.patient_id)
        if row.snapshot is None or snapshot.at >= row.snapshot.at:
            row.snapshot = snapshot

    def on_alert(self, alert: Alert) -> bool:
        """Record a transition; False when it was seen before (a redelivery)."""
        if alert.transition_id in self.transitions:
            return False
        self.transitions[alert.transition_id] = alert
        row = self.row(alert.patient_id)
        current = row.open_alerts.get(alert.alert_id)
        if current is not None and current.sequence > alert.sequence:
            return True
        if alert.state in _OPEN_STATES:
            row.open_alerts[alert.alert_id] = alert
        else:
            row.open_alerts.pop(alert.alert_id, None)
        return True

    def sorted_rows(self) -> list[PatientRow]:
        """Rows by patient id."""
        return [self.rows[key] for key in sorted(self.rows)]

    def alerts(self) -> list[Alert]:
        """Every distinct transition, in event time."""
        return sorted(self.transitions.values(), key=lambda a: (a.at, a.sequence))
