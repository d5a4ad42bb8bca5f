"""The expected peak-risk window of withdrawal, from the enrolment's last dose and drug class.

``shared/reference/clinical.md`` section 11.2 (clock starts at the last recorded dose):
short- or intermediate-acting drugs and Z-drugs 24-96 h (centred on the 72 h peak, §4.2 and
§4.3); long-acting drugs day 3 to day 10, read here as 72-240 h after the last dose, the same
count of whole days after the dose that makes 24-96 h "days 1 to 4"; an unknown or illicit
benzodiazepine the union of both (24-240 h), since its half-life cannot be assumed.

The engine's rules file (``deploy/rules/default.rules.yaml``, ``peak_windows``) holds the
same numbers, but ``agents.engine`` exports no mapping, so the report keeps its own; it only
shades the chart and never drives an alert. The engine's taper-step rebound watch (7 days
after each step) is not shaded here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from schemas import Enrolment
from schemas.drugs import HalfLifeClass

#: Peak-risk window in hours after the last dose, by half-life class (clinical.md §11.2).
PEAK_WINDOW_HOURS: Final[dict[HalfLifeClass, tuple[float, float]]] = {
    "short": (24.0, 96.0),
    "intermediate": (24.0, 96.0),
    "long": (72.0, 240.0),
    "unknown": (24.0, 240.0),
}

_CLASS_WORDS: Final[dict[HalfLifeClass, str]] = {
    "short": "short-acting",
    "intermediate": "intermediate-acting",
    "long": "long-acting",
    "unknown": "unknown half-life",
}


@dataclass(frozen=True)
class PeakWindow:
    """One patient's expected peak-risk window, in event time."""

    half_life_class: HalfLifeClass
    last_dose_at: datetime
    start_h: float
    end_h: float

    @property
    def start(self) -> datetime:
        """When the window opens."""
        return self.last_dose_at + timedelta(hours=self.start_h)

    @property
    def end(self) -> datetime:
        """When the window closes."""
        return self.last_dose_at + timedelta(hours=self.end_h)

    def label(self) -> str:
        """A short caption naming the class and the hours, for the chart."""
        return (
            f"expected peak window: {_CLASS_WORDS[self.half_life_class]}, "
            f"{self.start_h:g}-{self.end_h:g} h after last dose"
        )


def peak_window(enrolment: Enrolment) -> PeakWindow:
    """The window for this enrolment's drug class, counted from its last dose."""
    start_h, end_h = PEAK_WINDOW_HOURS[enrolment.half_life_class]
    return PeakWindow(
        half_life_class=enrolment.half_life_class,
        last_dose_at=enrolment.last_dose_at,
        start_h=start_h,
        end_h=end_h,
    )
