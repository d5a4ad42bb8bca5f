"""Withdrawal phase and peak-risk windows from the last dose (clinical.md section 11.2).

The clock starts at the last recorded dose, so every dose moves it. The peak-risk window
depends on the half-life class (short/intermediate 24-96 h, long-acting day 3 to day 10,
unknown the union; all from the rules file). A taper step opens a rebound watch of its own
(default 7 days, ASAM [R11]: symptoms after a step may take up to a week), which counts as a
peak-risk window too. Phases follow the seeds: early until the window opens, acute from then,
protracted from day 30.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from agents.engine.rules import PhaseConfig
from schemas.alerts import Phase
from schemas.drugs import HalfLifeClass

Interval = tuple[datetime, datetime]


@dataclass(frozen=True)
class PhaseInfo:
    """Where the patient is in withdrawal at one instant."""

    phase: Phase
    hours_since_last_dose: float | None
    in_peak_window: bool
    peak_start_h: float | None
    peak_end_h: float | None
    half_life_class: HalfLifeClass | None


def peak_intervals(
    config: PhaseConfig,
    *,
    last_dose_at: datetime | None,
    half_life_class: HalfLifeClass | None,
    taper_step_at: datetime | None,
) -> list[Interval]:
    """The peak-risk windows in event time: the drug's window and any taper rebound watch."""
    intervals: list[Interval] = []
    if last_dose_at is not None:
        window = config.peak_windows[half_life_class or "unknown"]
        intervals.append(
            (
                last_dose_at + timedelta(hours=window.start_hours),
                last_dose_at + timedelta(hours=window.end_hours),
            )
        )
    if taper_step_at is not None:
        intervals.append((taper_step_at, taper_step_at + timedelta(days=config.taper_watch_days)))
    return intervals


def in_any(intervals: list[Interval], moment: datetime) -> bool:
    """Whether ``moment`` lies in one of the intervals (start inclusive, end exclusive)."""
    return any(start <= moment < end for start, end in intervals)


def phase_at(
    config: PhaseConfig,
    now: datetime,
    *,
    last_dose_at: datetime | None,
    half_life_class: HalfLifeClass | None,
    intervals: list[Interval],
) -> PhaseInfo:
    """The phase, hours since the last dose and peak-window membership at ``now``.

    ``intervals`` are the patient's peak-risk windows (:func:`peak_intervals`).
    """
    in_peak = in_any(intervals, now)
    if last_dose_at is None:
        return PhaseInfo("unknown", None, in_peak, None, None, half_life_class)
    window = config.peak_windows[half_life_class or "unknown"]
    hours = max(0.0, (now - last_dose_at).total_seconds() / 3600)
    if hours >= config.protracted_after_days * 24:
        phase: Phase = "protracted"
    elif hours >= window.start_hours:
        phase = "acute"
    else:
        phase = "early"
    return PhaseInfo(
        phase=phase,
        hours_since_last_dose=round(hours, 2),
        in_peak_window=in_peak,
        peak_start_h=window.start_hours,
        peak_end_h=window.end_hours,
        half_life_class=half_life_class,
    )
