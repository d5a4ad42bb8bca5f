"""Withdrawal intensity over time, and the vital signs and CIWA-B it produces.

The course is a log-normal bump in hours since the last dose: for short- and
intermediate-acting drugs it peaks at 72 h (seed article; onset 1-2 days, RACGP [R8]); for
long-acting drugs at day 7 with a wider, lower curve (onset 3-7 days [R8]). Effect sizes at
full intensity (pulse +35/min, systolic +30 mm[Hg], temperature +0.7 Cel) put a severe course
past the pulse and NEWS2 thresholds, as autonomic hyperactivity does in DSM-5 terms (pulse
above 100, [R19]). These are modelling choices for a believable demo, not clinical data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from schemas.drugs import HalfLifeClass

_PEAK_HOURS = {"short": 72.0, "intermediate": 72.0, "long": 168.0, "unknown": 72.0}
_WIDTH = {"short": 0.35, "intermediate": 0.38, "long": 0.45, "unknown": 0.35}
_HEIGHT = {"short": 1.0, "intermediate": 0.9, "long": 0.7, "unknown": 1.0}


def peak_hours(half_life_class: HalfLifeClass) -> float:
    """Hours after the last dose at which the course peaks."""
    return _PEAK_HOURS[half_life_class]


def intensity(hours_since_last_dose: float, half_life_class: HalfLifeClass) -> float:
    """0..1 withdrawal intensity."""
    if hours_since_last_dose <= 0:
        return 0.0
    peak = _PEAK_HOURS[half_life_class]
    width = _WIDTH[half_life_class]
    z = math.log(hours_since_last_dose / peak) / width
    return _HEIGHT[half_life_class] * math.exp(-z * z / 2)


def circadian(hour_of_day: float) -> float:
    """-1..1, lowest at 04:00 and highest at 16:00 (the usual daily rhythm of pulse and BP)."""
    return -math.cos(2 * math.pi * (hour_of_day - 4) / 24)


@dataclass(frozen=True)
class Effects:
    """How far above resting each sign is, from withdrawal and any episode."""

    pulse: float = 0.0
    systolic: float = 0.0
    diastolic: float = 0.0
    temperature: float = 0.0
    respiratory_rate: float = 0.0
    ciwa_b: float = 0.0

    def __add__(self, other: Effects) -> Effects:
        return Effects(
            self.pulse + other.pulse,
            self.systolic + other.systolic,
            self.diastolic + other.diastolic,
            self.temperature + other.temperature,
            self.respiratory_rate + other.respiratory_rate,
            self.ciwa_b + other.ciwa_b,
        )


def withdrawal_effects(level: float) -> Effects:
    """Effects of withdrawal at ``level`` (intensity times the patient's severity)."""
    return Effects(
        pulse=35 * level,
        systolic=30 * level,
        diastolic=14 * level,
        temperature=0.7 * level,
        respiratory_rate=5 * level,
        ciwa_b=6 + 34 * level,
    )
