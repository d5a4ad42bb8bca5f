"""The run regrouped by patient: what each chart and table is drawn from.

Events are deduplicated by ``event_id`` and alerts by ``transition_id``, as the pipeline's
idempotent sinks do, so a run with redelivered messages reports each reading once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from uuid import UUID

from agents.report.peak import PeakWindow, peak_window
from schemas import (
    Alert,
    CheckIn,
    CiwaBAssessment,
    ClinicalEvent,
    Discharge,
    DoseAdministration,
    Enrolment,
    InboundEvent,
    VitalSignsObservation,
)
from streams.ward import Episode

DAY = timedelta(days=1)


@dataclass
class PatientData:
    """Everything the report knows about one patient, each list in time order."""

    patient_id: str
    enrolment: Enrolment | None = None
    discharge: Discharge | None = None
    vitals: list[VitalSignsObservation] = field(default_factory=list)
    ciwa_b: list[CiwaBAssessment] = field(default_factory=list)
    doses: list[DoseAdministration] = field(default_factory=list)
    clinical_events: list[ClinicalEvent] = field(default_factory=list)
    check_ins: list[CheckIn] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    episodes: list[Episode] = field(default_factory=list)

    @property
    def peak(self) -> PeakWindow | None:
        """The expected peak window, or None without an enrolment to count from."""
        return peak_window(self.enrolment) if self.enrolment is not None else None

    def times(self) -> list[datetime]:
        """Every event, alert and episode boundary time of this patient."""
        out: list[datetime] = []
        for events in (self.vitals, self.ciwa_b, self.doses, self.clinical_events, self.check_ins):
            out.extend(e.observed_at for e in events)
        for extra in (self.enrolment, self.discharge):
            if extra is not None:
                out.append(extra.observed_at)
        out.extend(a.at for a in self.alerts)
        for episode in self.episodes:
            out.extend((episode.start, episode.end))
        return out

    def hours_since_last_dose(self, at: datetime) -> float | None:
        """Hours from the enrolment's last dose to ``at``, for hover text."""
        if self.enrolment is None:
            return None
        return (at - self.enrolment.last_dose_at).total_seconds() / 3600

    def monitored(self, run_end: datetime) -> timedelta:
        """Time under monitoring: enrolment (else first event) to discharge (else run end)."""
        times = self.times()
        if not times:
            return timedelta(0)
        start = self.enrolment.observed_at if self.enrolment is not None else min(times)
        end = self.discharge.observed_at if self.discharge is not None else run_end
        return max(end - start, timedelta(0))


def group_by_patient(
    events: Iterable[InboundEvent], alerts: Iterable[Alert], episodes: Iterable[Episode]
) -> list[PatientData]:
    """One :class:`PatientData` per patient seen anywhere, ordered by patient id."""
    patients: dict[str, PatientData] = {}

    def of(patient_id: str) -> PatientData:
        if patient_id not in patients:
            patients[patient_id] = PatientData(patient_id)
        return patients[patient_id]

    seen_events: set[UUID] = set()
    for event in sorted(events, key=lambda e: e.observed_at):
        if event.event_id in seen_events:
            continue
        seen_events.add(event.event_id)
        data = of(event.patient_id)
        if isinstance(event, VitalSignsObservation):
            data.vitals.append(event)
        elif isinstance(event, CiwaBAssessment):
            data.ciwa_b.append(event)
        elif isinstance(event, DoseAdministration):
            data.doses.append(event)
        elif isinstance(event, ClinicalEvent):
            data.clinical_events.append(event)
        elif isinstance(event, CheckIn):
            data.check_ins.append(event)
        elif isinstance(event, Enrolment):
            data.enrolment = event  # in time order, so the latest enrolment wins
        else:
            data.discharge = event
    seen_alerts: set[UUID] = set()
    for alert in sorted(alerts, key=lambda a: (a.at, a.sequence)):
        if alert.transition_id not in seen_alerts:
            seen_alerts.add(alert.transition_id)
            of(alert.patient_id).alerts.append(alert)
    for episode in sorted(episodes, key=lambda e: e.start):
        of(episode.patient_id).episodes.append(episode)
    return [patients[key] for key in sorted(patients)]


def run_end(patients: Sequence[PatientData]) -> datetime | None:
    """The last time anything happened in the run."""
    times = [t for p in patients for t in p.times()]
    return max(times) if times else None


def monitored_patient_days(patients: Sequence[PatientData]) -> float:
    """Monitored patient-days of the run, ending open admissions at the run's last event."""
    end = run_end(patients)
    if end is None:
        return 0.0
    return sum((p.monitored(end) for p in patients), timedelta(0)) / DAY
