"""On-call shifts: who holds a role at a given moment, and whether a rota leaves any gap.

Shifts are in wall-clock time of the team's time zone (``zoneinfo``), as rotas are written: a
shift from ``19:00`` to ``07:30`` starts on each listed day and ends the next morning, and
still starts at 19:00 local time on both sides of a daylight-saving change. ``start == end``
is a 24-hour shift; ``end`` may be ``24:00``. Resolution is to the minute: a shift that ends at
07:30 no longer covers 07:30:00.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator

from schemas.common import StaffId

Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
DAYS: tuple[Day, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_GROUPS: dict[str, tuple[Day, ...]] = {
    "daily": DAYS,
    "weekdays": DAYS[:5],
    "weekends": DAYS[5:],
}

MINUTES_PER_DAY = 24 * 60
MINUTES_PER_WEEK = 7 * MINUTES_PER_DAY

_CLOCK = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")


def _minutes(text: str, *, allow_24: bool) -> int:
    if allow_24 and text == "24:00":
        return MINUTES_PER_DAY
    match = _CLOCK.match(text)
    if match is None:
        raise ValueError(f"expected a time HH:MM (00:00 to 23:59), got {text!r}")
    return int(match.group(1)) * 60 + int(match.group(2))


class Shift(BaseModel):
    """Receivers who hold a role from ``start`` to ``end`` on each of ``days``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    days: tuple[Day, ...] = Field(
        description="Days the shift starts on: names (mon..sun) or daily, weekdays, weekends."
    )
    start: str = Field(description="Local start time, HH:MM.")
    end: str = Field(description="Local end time, HH:MM (or 24:00); before start: next day.")
    receivers: tuple[StaffId, ...] = Field(description="Receiver ids on duty.")

    @field_validator("days", mode="before")
    @classmethod
    def _expand_days(cls, value: Any) -> Any:
        if isinstance(value, str):
            if value in DAY_GROUPS:
                return DAY_GROUPS[value]
            raise ValueError(
                f"expected a list of days or one of {', '.join(DAY_GROUPS)}, got {value!r}"
            )
        return value

    @field_validator("days")
    @classmethod
    def _unique_days(cls, value: tuple[Day, ...]) -> tuple[Day, ...]:
        if not value:
            raise ValueError("list at least one day")
        if len(set(value)) != len(value):
            raise ValueError("a day is listed twice")
        return value

    @field_validator("receivers")
    @classmethod
    def _someone(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("list at least one receiver")
        return value

    @field_validator("start")
    @classmethod
    def _valid_start(cls, value: str) -> str:
        _minutes(value, allow_24=False)
        return value

    @field_validator("end")
    @classmethod
    def _valid_end(cls, value: str) -> str:
        _minutes(value, allow_24=True)
        return value

    @property
    def start_minute(self) -> int:
        """Minutes after local midnight when the shift starts."""
        return _minutes(self.start, allow_24=False)

    @property
    def length_minutes(self) -> int:
        """How long the shift lasts (a shift ending at or before its start runs overnight)."""
        length = (_minutes(self.end, allow_24=True) - self.start_minute) % MINUTES_PER_DAY
        return length or MINUTES_PER_DAY

    def windows(self) -> Iterable[tuple[int, int]]:
        """``(start, length)`` in minutes of the week (Monday 00:00 is 0), one per day."""
        for day in self.days:
            yield DAYS.index(day) * MINUTES_PER_DAY + self.start_minute, self.length_minutes

    def covers(self, minute_of_week: int) -> bool:
        """Whether the shift is on at ``minute_of_week``."""
        return any(
            (minute_of_week - start) % MINUTES_PER_WEEK < length for start, length in self.windows()
        )


def minute_of_week(at: datetime, time_zone: ZoneInfo) -> int:
    """The local minute of the week (Monday 00:00 is 0) of the aware datetime ``at``."""
    local = at.astimezone(time_zone)
    return local.weekday() * MINUTES_PER_DAY + local.hour * 60 + local.minute


def on_duty(shifts: Sequence[Shift], time_zone: ZoneInfo, at: datetime) -> tuple[str, ...]:
    """Receivers on duty at ``at``, in rota order, each once."""
    minute = minute_of_week(at, time_zone)
    found: dict[str, None] = {}
    for shift in shifts:
        if shift.covers(minute):
            found.update(dict.fromkeys(shift.receivers))
    return tuple(found)


def describe_minute(minute: int) -> str:
    """``Mon 07:30`` for a minute of the week."""
    minute %= MINUTES_PER_WEEK
    day, rest = divmod(minute, MINUTES_PER_DAY)
    return f"{DAYS[day].capitalize()} {rest // 60:02d}:{rest % 60:02d}"


def coverage_gaps(shifts: Sequence[Shift]) -> list[tuple[int, int]]:
    """Uncovered stretches of the week as ``(start, end)`` minutes, a wrap-around merged."""
    covered = bytearray(MINUTES_PER_WEEK)
    for shift in shifts:
        for start, length in shift.windows():
            for offset in range(length):
                covered[(start + offset) % MINUTES_PER_WEEK] = 1
    if all(covered):
        return []
    # Start the scan at a covered minute so a gap across Sunday midnight stays one gap.
    origin = covered.index(1) if any(covered) else 0
    gaps: list[tuple[int, int]] = []
    gap_start: int | None = None
    for step in range(MINUTES_PER_WEEK + 1):
        minute = (origin + step) % MINUTES_PER_WEEK
        free = not covered[minute] and step < MINUTES_PER_WEEK
        if free and gap_start is None:
            gap_start = origin + step
        elif not free and gap_start is not None:
            gaps.append((gap_start % MINUTES_PER_WEEK, (origin + step) % MINUTES_PER_WEEK))
            gap_start = None
    return sorted(gaps)
