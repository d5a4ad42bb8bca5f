"""A small, seeded ward simulator for the walking skeleton and the demo.

Each patient has a resting pulse and blood pressure; some follow a withdrawal course whose
autonomic signs rise to a peak about 72 simulated hours after the last dose (short-acting
drugs, clinical.md section 4.2) and then subside, taking the pulse past the 120/min rule.
Vitals carry physiological noise. Deterministic for a given seed.
"""

from __future__ import annotations

import math
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from schemas import VitalSignsObservation

PEAK_HOURS = 72.0


@dataclass(frozen=True)
class SimulatedPatient:
    """One patient's fixed parameters."""

    patient_id: str
    device_id: str
    ward: str
    resting_pulse: float
    resting_systolic: float
    #: Extra pulse at the peak of withdrawal, /min.
    peak_pulse_rise: float
    #: Hours since the last dose when the simulation starts.
    hours_since_last_dose: float


def make_patients(count: int, *, seed: int, ward: str = "ward-3") -> list[SimulatedPatient]:
    """``count`` patients; about half have a withdrawal course that crosses 120/min."""
    rng = random.Random(seed)
    patients = []
    for index in range(count):
        severe = index % 2 == 0
        patients.append(
            SimulatedPatient(
                patient_id=f"pt-{index + 1:04d}",
                device_id=f"bm-{ward}-{index + 1:02d}",
                ward=ward,
                resting_pulse=rng.uniform(68, 84),
                resting_systolic=rng.uniform(112, 132),
                peak_pulse_rise=rng.uniform(48, 60) if severe else rng.uniform(8, 18),
                hours_since_last_dose=rng.uniform(60, 70) if severe else rng.uniform(10, 40),
            )
        )
    return patients


def withdrawal_intensity(hours_since_last_dose: float) -> float:
    """0..1: a bell-shaped course peaking at 72 h (sd 12 h)."""
    return math.exp(-(((hours_since_last_dose - PEAK_HOURS) / 12.0) ** 2) / 2)


def observations(
    patients: list[SimulatedPatient],
    *,
    start: datetime,
    interval: timedelta,
    steps: int,
    seed: int,
) -> Iterator[VitalSignsObservation]:
    """Observation sets for every patient at each step, in event-time order."""
    rng = random.Random(seed + 1)
    for step in range(steps):
        at = start + interval * step
        elapsed_h = (interval * step).total_seconds() / 3600
        for patient in patients:
            intensity = withdrawal_intensity(patient.hours_since_last_dose + elapsed_h)
            pulse = patient.resting_pulse + patient.peak_pulse_rise * intensity + rng.gauss(0, 3)
            systolic = patient.resting_systolic + 30 * intensity + rng.gauss(0, 5)
            yield VitalSignsObservation(
                event_id=uuid.UUID(int=rng.getrandbits(128), version=4),
                patient_id=patient.patient_id,
                device_id=patient.device_id,
                ward=patient.ward,
                source="simulator",
                observed_at=at,
                heart_rate=round(pulse),
                systolic_bp=round(systolic),
                diastolic_bp=round(systolic * 0.62 + rng.gauss(0, 3)),
                temperature=round(36.8 + 0.8 * intensity + rng.gauss(0, 0.15), 1),
                spo2=round(min(100.0, 97 + rng.gauss(0, 1))),
                respiratory_rate=round(15 + 5 * intensity + rng.gauss(0, 1.5)),
            )
