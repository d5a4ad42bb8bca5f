"""Quiet hours: low-priority alerts held back overnight (clinical.md section 11.7).

Judged in the ward's local time (an IANA zone from the rules file), on event time, so a replay
holds back exactly what the live pipeline held back.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from agents.engine.rules import QuietHours, Rule
from schemas.alerts import Priority


def in_quiet_hours(config: QuietHours, moment: datetime) -> bool:
    """Whether ``moment`` falls in quiet hours."""
    local = moment.astimezone(ZoneInfo(config.timezone)).time()
    start, end = config.start_time(), config.end_time()
    if start < end:
        return start <= local < end
    return local >= start or local < end


def quiet_hours_end(config: QuietHours, moment: datetime) -> datetime:
    """The first end of quiet hours after ``moment``."""
    zone = ZoneInfo(config.timezone)
    local = moment.astimezone(zone)
    day: date = local.date()
    candidate = datetime.combine(day, config.end_time(), tzinfo=zone)
    if candidate <= local:
        candidate = datetime.combine(day + timedelta(days=1), config.end_time(), tzinfo=zone)
    return candidate.astimezone(UTC)


def held_back(config: QuietHours | None, rule: Rule, priority: Priority, moment: datetime) -> bool:
    """Whether an alert of ``rule`` at ``priority`` firing at ``moment`` waits for morning."""
    if config is None or not config.enabled or rule.quiet_hours_exempt:
        return False
    if priority not in config.suppress or rule.kind in config.exempt_kinds:
        return False
    return in_quiet_hours(config, moment)
