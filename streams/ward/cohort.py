"""The simulated patients: who they are, what they took, how badly they withdraw."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from schemas.drugs import Drug, HalfLifeClass, default_half_life_class

Programme = Literal["inpatient", "telehealth"]

#: Drugs drawn for the cohort, weighted towards what detox services see most.
_DRUGS: tuple[tuple[Drug, float], ...] = (
    ("alprazolam", 0.3),
    ("lorazepam", 0.2),
    ("clonazepam", 0.2),
    ("diazepam", 0.15),
    ("temazepam", 0.1),
    ("zopiclone", 0.05),
)


@dataclass(frozen=True)
class PatientProfile:
    """One patient's fixed parameters."""

    patient_id: str
    device_id: str
    ward: str
    programme: Programme
    drug: Drug
    half_life_class: HalfLifeClass
    last_dose_at: datetime
    admitted_at: datetime
    severity: float  # 0..1: how strongly withdrawal shows in this patient
    resting_pulse: float
    resting_systolic: float
    resting_diastolic: float
    resting_temperature: float
    resting_respiratory_rate: float
    seizure_history: bool


def make_cohort(
    patients: int,
    *,
    seed: int,
    start: datetime,
    telehealth_share: float = 0.25,
    ward: str = "ward-3",
) -> list[PatientProfile]:
    """``patients`` profiles; admissions are spread over the first day."""
    rng = random.Random(seed)
    drugs = [drug for drug, _ in _DRUGS]
    weights = [weight for _, weight in _DRUGS]
    cohort = []
    for index in range(patients):
        programme: Programme = "telehealth" if rng.random() < telehealth_share else "inpatient"
        drug = rng.choices(drugs, weights)[0]
        admitted_at = start + timedelta(minutes=rng.randrange(0, 12 * 60, 15))
        hours_before = rng.uniform(4, 30)
        cohort.append(
            PatientProfile(
                patient_id=f"pt-{index + 1:04d}",
                device_id=f"{'app' if programme == 'telehealth' else 'bm'}-{index + 1:04d}",
                ward="telehealth" if programme == "telehealth" else ward,
                programme=programme,
                drug=drug,
                half_life_class=default_half_life_class(drug),
                last_dose_at=admitted_at - timedelta(hours=hours_before),
                admitted_at=admitted_at,
                severity=rng.uniform(0.3, 1.0),
                resting_pulse=rng.uniform(64, 84),
                resting_systolic=rng.uniform(110, 134),
                resting_diastolic=rng.uniform(68, 84),
                resting_temperature=rng.uniform(36.4, 36.9),
                resting_respiratory_rate=rng.uniform(13, 17),
                seizure_history=rng.random() < 0.15,
            )
        )
    return cohort
