"""A deterministic ward workload for the benchmark, built with the contract models.

Bedside gateways send one observation set (5 or 6 vitals) per message; a share of messages are
CIWA-B forms and coded clinical events, as on a detox ward. Patients come from the ward
simulator's cohort, so resting values, drugs and withdrawal courses (and therefore how often
the pulse rule fires) are realistic. The same seed and ``now`` give the same bytes.

Messages are serialised as a gateway must send them: without the fields only the pipeline may
set (``received_at``, ``late``) and without nulls.
"""

from __future__ import annotations

import random
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from schemas import CiwaBAssessment, CiwaBItems, ClinicalEvent, Enrolment, VitalSignsObservation
from schemas.common import EventBase
from streams.ward.cohort import PatientProfile, make_cohort
from streams.ward.trajectory import Effects, circadian, intensity, withdrawal_effects

#: Share of each kind among the events after enrolment (vitals dominate at the bedside).
VITALS_SHARE = 0.92
CIWA_B_SHARE = 0.06  # the rest are clinical events
#: Share of observation sets that include a temperature (6 vitals rather than 5).
TEMPERATURE_SHARE = 0.5
#: Time between two events of one patient in a preloaded backlog.
BACKLOG_INTERVAL = timedelta(minutes=1)
#: Coded clinical events staff record on a detox ward, with rough relative frequencies.
CLINICAL_EVENT_TYPES = ("agitation", "vomiting", "fall", "new_confusion", "hallucinations")
CLINICAL_EVENT_WEIGHTS = (40, 30, 15, 10, 5)

_RESERVED = {"received_at", "late"}
_ITEMS = list(CiwaBItems.model_fields)


@dataclass(frozen=True)
class Message:
    """One message as a gateway sends it, with what the benchmark needs to account for it."""

    key: bytes
    value: bytes
    kind: str
    #: Number of vital values carried (0 unless ``kind`` is ``vital_signs``).
    vital_values: int = 0
    #: The event id, kept for probes (readings whose alert and page are timed).
    event_id: str = ""
    probe: bool = False


def encode(event: EventBase) -> bytes:
    """The event as JSON bytes, as a gateway sends it."""
    return event.model_dump_json(exclude_none=True, exclude=_RESERVED).encode()


def message_of(event: EventBase, *, probe: bool = False) -> Message:
    """Wrap a contract event, keyed by its patient as the topics require."""
    values = len(event.vitals()) if isinstance(event, VitalSignsObservation) else 0
    kind = str(getattr(event, "kind", "unknown"))
    return Message(
        key=event.patient_id.encode(),
        value=encode(event),
        kind=kind,
        vital_values=values,
        event_id=str(event.event_id),
        probe=probe,
    )


class Ward:
    """A seeded cohort of enrolled patients and the events their gateways send."""

    def __init__(self, patients: int, *, seed: int, now: datetime) -> None:
        if patients < 1:
            raise ValueError("at least one patient is needed")
        # Reproducible on purpose: the same seed must give the same workload.
        self.rng = random.Random(seed)  # noqa: S311
        self.now = now
        # Last dose 52-90 h ago: around the withdrawal peak, when monitoring is densest and the
        # pulse rule fires. (The cohort's admission times are not used: see ``enrolment``.)
        self.cohort = make_cohort(patients, seed=seed, start=now - timedelta(hours=60))

    def _event_id(self) -> uuid.UUID:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4)

    def _effects(self, profile: PatientProfile, at: datetime) -> Effects:
        hours = (at - profile.last_dose_at).total_seconds() / 3600
        level = intensity(hours, profile.half_life_class) * profile.severity
        return withdrawal_effects(level)

    def enrolment(
        self, profile: PatientProfile, at: datetime, *, patient_id: str | None = None
    ) -> Enrolment:
        """The admission event of ``profile`` at ``at`` (optionally under another patient id).

        Admission is just before the patient's first event: a rule engine that watches for
        overdue observations then sees a patient observed from the start, as on a ward, not
        one left unobserved since an admission days before the backlog begins.
        """
        return Enrolment(
            event_id=self._event_id(),
            patient_id=patient_id or profile.patient_id,
            device_id="ehr",
            ward=profile.ward,
            source="ehr",
            observed_at=at,
            programme=profile.programme,
            drug=profile.drug,
            half_life_class=profile.half_life_class,
            last_dose_at=profile.last_dose_at,
            risk_factors=["seizure_history"] if profile.seizure_history else [],
            risk_tier="high" if profile.seizure_history else "standard",
        )

    def observation(
        self,
        profile: PatientProfile,
        at: datetime,
        *,
        patient_id: str | None = None,
        heart_rate: float | None = None,
    ) -> VitalSignsObservation:
        """One observation set: pulse, blood pressure, SpO2, respiratory rate, maybe temperature."""
        rng, effects = self.rng, self._effects(profile, at)
        rhythm = circadian(at.hour + at.minute / 60)
        systolic = profile.resting_systolic + effects.systolic + 4 * rhythm + rng.gauss(0, 5)
        diastolic = min(
            profile.resting_diastolic + effects.diastolic + 2 * rhythm + rng.gauss(0, 3),
            systolic - 15,
        )
        pulse = profile.resting_pulse + effects.pulse + 4 * rhythm + rng.gauss(0, 3)
        temperature = profile.resting_temperature + effects.temperature + rng.gauss(0, 0.1)
        respiratory = profile.resting_respiratory_rate + effects.respiratory_rate
        return VitalSignsObservation(
            event_id=self._event_id(),
            patient_id=patient_id or profile.patient_id,
            device_id=profile.device_id,
            ward=profile.ward,
            source="telehealth_app" if profile.programme == "telehealth" else "bedside_monitor",
            observed_at=at,
            heart_rate=heart_rate if heart_rate is not None else round(pulse),
            systolic_bp=round(systolic),
            diastolic_bp=round(diastolic),
            temperature=round(temperature, 1) if rng.random() < TEMPERATURE_SHARE else None,
            spo2=round(min(100.0, 97.5 - effects.respiratory_rate / 10 + rng.gauss(0, 0.7))),
            respiratory_rate=round(respiratory + rng.gauss(0, 1)),
        )

    def ciwa_b(self, profile: PatientProfile, at: datetime) -> CiwaBAssessment:
        """A CIWA-B form scored around what the patient's withdrawal level predicts."""
        rng = self.rng
        patient_only = profile.programme == "telehealth"
        rated = _ITEMS[:17] if patient_only else _ITEMS
        target = round(
            min(4 * len(rated), max(0.0, self._effects(profile, at).ciwa_b + rng.gauss(0, 3)))
        )
        items = dict.fromkeys(_ITEMS, 0)
        while sum(items.values()) < target:
            name = rng.choice(rated)
            if items[name] < 4:
                items[name] += 1
        data: dict[str, Any] = {
            "event_id": str(self._event_id()),
            "patient_id": profile.patient_id,
            "device_id": profile.device_id,
            "ward": profile.ward,
            "source": "telehealth_app" if patient_only else "manual_entry",
            "observed_at": at.isoformat(),
            "items": items,
            "rated_by": "patient_only" if patient_only else "patient_and_observer",
        }
        return CiwaBAssessment.model_validate(data)

    def clinical_event(self, profile: PatientProfile, at: datetime) -> ClinicalEvent:
        """A coded clinical event recorded by staff."""
        return ClinicalEvent(
            event_id=self._event_id(),
            patient_id=profile.patient_id,
            device_id=profile.device_id,
            ward=profile.ward,
            source="manual_entry",
            observed_at=at,
            event_type=self.rng.choices(CLINICAL_EVENT_TYPES, CLINICAL_EVENT_WEIGHTS)[0],
            severity=self.rng.choice(("mild", "moderate")),
        )

    def event(self, profile: PatientProfile, at: datetime) -> Message:
        """One event of the usual mix for ``profile`` at ``at``."""
        roll = self.rng.random()
        if roll < VITALS_SHARE:
            return message_of(self.observation(profile, at))
        if roll < VITALS_SHARE + CIWA_B_SHARE:
            return message_of(self.ciwa_b(profile, at))
        return message_of(self.clinical_event(profile, at))

    def backlog(self, messages: int) -> list[Message]:
        """Every patient's enrolment, then events up to ``messages`` in all, the last one now.

        Each patient's events are a minute apart, so no two share a timestamp: InfluxDB keys a
        point by its tags and time, and a collision would overwrite instead of count.
        """
        if messages < len(self.cohort):
            raise ValueError(f"{messages} messages cannot enrol {len(self.cohort)} patients")
        picks = [self.rng.randrange(len(self.cohort)) for _ in range(messages - len(self.cohort))]
        remaining = Counter(picks)
        out = [
            message_of(self.enrolment(profile, self.now - (remaining[i] + 1) * BACKLOG_INTERVAL))
            for i, profile in enumerate(self.cohort)
        ]
        for index in picks:
            at = self.now - remaining[index] * BACKLOG_INTERVAL
            remaining[index] -= 1
            out.append(self.event(self.cohort[index], at))
        return out

    def state(self, readings_each: int) -> list[Message]:
        """Each patient's enrolment followed by ``readings_each`` observation sets, in turn."""
        admitted = self.now - (readings_each + 1) * BACKLOG_INTERVAL
        out: list[Message] = []
        for profile in self.cohort:
            out.append(message_of(self.enrolment(profile, admitted)))
            for round_ in range(readings_each, 0, -1):
                at = self.now - round_ * BACKLOG_INTERVAL
                out.append(message_of(self.observation(profile, at)))
        return out

    def live(
        self, count: int, *, rate: float, start: datetime, probe_every: int, tag: str
    ) -> list[Message]:
        """``count`` messages stamped as if sent at ``rate`` from ``start``, with probes.

        Every ``probe_every``-th message is a probe: a reading with a pulse of 125-140/min for a
        patient admitted half a period earlier (same key, so the same partition and order),
        who therefore has no active alert and must fire one. The other messages are the usual
        mix for the enrolled cohort.
        """
        if probe_every < 2:
            raise ValueError("probe_every must be at least 2 (enrolment, then the probe)")
        out: list[Message] = []
        admit_slot = probe_every // 2 - 1
        for index in range(count):
            at = start + timedelta(seconds=index / rate)
            slot, number = index % probe_every, index // probe_every
            profile = self.cohort[self.rng.randrange(len(self.cohort))]
            probe_id = f"probe-{tag}-{number}"
            if slot == probe_every - 1:
                pulse = float(self.rng.randint(125, 140))
                reading = self.observation(profile, at, patient_id=probe_id, heart_rate=pulse)
                out.append(message_of(reading, probe=True))
            elif slot == admit_slot:
                out.append(message_of(self.enrolment(profile, at, patient_id=probe_id)))
            else:
                out.append(self.event(profile, at))
        return out


def summary(messages: list[Message]) -> dict[str, Any]:
    """Counts and sizes of a message list, for the report."""
    kinds = Counter(message.kind for message in messages)
    size = sum(len(message.value) for message in messages)
    return {
        "messages": len(messages),
        "by_kind": dict(sorted(kinds.items())),
        "observation_sets": kinds.get("vital_signs", 0),
        "vital_values": sum(message.vital_values for message in messages),
        "bytes": size,
        "mean_message_bytes": round(size / len(messages), 1) if messages else 0.0,
    }
