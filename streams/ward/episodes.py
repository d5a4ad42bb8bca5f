"""Labelled deterioration episodes: the ground truth a run is scored against."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from streams.ward.cohort import PatientProfile
from streams.ward.trajectory import Effects, peak_hours

EpisodeKind = Literal["hypertensive_surge", "fever", "seizure", "rising_ciwa", "silent_device"]

#: Chance per patient of each episode over a run of a few days.
_CHANCE: dict[EpisodeKind, float] = {
    "hypertensive_surge": 0.35,
    "fever": 0.25,
    "seizure": 0.1,
    "rising_ciwa": 0.3,
    "silent_device": 0.1,
}
_DURATION_H: dict[EpisodeKind, tuple[float, float]] = {
    "hypertensive_surge": (2, 4),
    "fever": (3, 6),
    "seizure": (0.5, 0.5),
    "rising_ciwa": (8, 12),
    "silent_device": (5, 7),
}


@dataclass(frozen=True)
class Episode:
    """One injected episode for one patient, from ``start`` to ``end`` (event time)."""

    patient_id: str
    kind: EpisodeKind
    start: datetime
    end: datetime

    def active(self, at: datetime) -> bool:
        """Whether ``at`` falls inside the episode."""
        return self.start <= at < self.end

    def effects(self, at: datetime) -> Effects:
        """What the episode adds to the patient's signs at ``at`` (ramping up, then holding)."""
        if not self.active(at):
            return Effects()
        span = (self.end - self.start).total_seconds()
        ramp = min(1.0, (at - self.start).total_seconds() / max(span / 3, 1.0))
        if self.kind == "hypertensive_surge":
            return Effects(pulse=18 * ramp, systolic=65 * ramp, diastolic=32 * ramp)
        if self.kind == "fever":
            return Effects(pulse=18 * ramp, temperature=2.3 * ramp, respiratory_rate=4 * ramp)
        if self.kind == "seizure":
            return Effects(pulse=30, respiratory_rate=6)
        if self.kind == "rising_ciwa":
            progress = (at - self.start).total_seconds() / span
            return Effects(ciwa_b=30 * progress, pulse=12 * progress)
        return Effects()


def draw_episodes(patient: PatientProfile, *, end: datetime, rng: random.Random) -> list[Episode]:
    """Episodes for one patient, placed around the expected peak and inside the run."""
    episodes: list[Episode] = []
    peak = patient.last_dose_at + timedelta(hours=peak_hours(patient.half_life_class))
    for kind, chance in _CHANCE.items():
        if rng.random() >= chance:
            continue
        start = peak + timedelta(hours=rng.uniform(-30, 20))
        earliest = patient.admitted_at + timedelta(hours=2)
        start = max(start, earliest)
        low, high = _DURATION_H[kind]
        finish = start + timedelta(hours=rng.uniform(low, high))
        if finish >= end:
            continue
        overlapping = any(e.start < finish and start < e.end for e in episodes)
        if not overlapping:
            episodes.append(Episode(patient.patient_id, kind, start, finish))
    return episodes
