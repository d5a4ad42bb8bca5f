"""Simulated time against the wall clock, so the demo's event times never run ahead of now.

The simulated clock runs ``speed`` times faster than the wall clock and meets it when the run
ends: at speed 1 it is real time, and accelerated it replays a history that ends now. Either
way no event claims a time after its arrival, which the contract would refuse
(``future_time``); accelerated readings arrive marked late, as the replayed history they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class SimClock:
    """Maps simulated time to the wall-clock moment it is due, and back."""

    start: datetime
    hours: float
    speed: float
    wall_start: datetime

    @classmethod
    def ending_now(cls, *, hours: float, speed: float, now: datetime) -> SimClock:
        """A clock started at ``now`` whose simulated ``hours`` end as the wall clock gets there."""
        if speed < 1:
            raise ValueError("speed must be at least 1 (simulated seconds per real second)")
        span = timedelta(hours=hours)
        return cls(start=now + span / speed - span, hours=hours, speed=speed, wall_start=now)

    @property
    def end(self) -> datetime:
        """The simulated run's last moment."""
        return self.start + timedelta(hours=self.hours)

    @property
    def real_duration(self) -> timedelta:
        """How long the run takes on the wall clock."""
        return timedelta(hours=self.hours) / self.speed

    def due(self, simulated: datetime) -> datetime:
        """The wall-clock moment a message sent at ``simulated`` is due."""
        return self.wall_start + (simulated - self.start) / self.speed

    def simulated(self, wall: datetime) -> datetime:
        """Simulated time at ``wall``, held within the run."""
        moment = self.start + (wall - self.wall_start) * self.speed
        return min(max(moment, self.start), self.end)

    def progress(self, wall: datetime) -> float:
        """Share of the simulated run elapsed at ``wall``, 0..1."""
        return (self.simulated(wall) - self.start) / timedelta(hours=self.hours)
