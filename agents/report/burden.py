"""Alert burden by rule and priority, per patient-day: the figure alarm-fatigue reviews use.

``streams.ward.detection`` counts firings outside episodes across all rules; a clinical lead
tuning rules needs them per rule (clinical.md §11.7: report actionable ratios per rule), so
they are counted here from the alert transitions themselves. A firing raises an alert;
renotified and escalated transitions page again, so they count as pages too.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from schemas import PRIORITY_RANK, Alert

_PAGING_STATES = frozenset({"firing", "renotified", "escalated"})


@dataclass(frozen=True)
class BurdenRow:
    """Counts for one rule at one priority (``rule_id`` None: every rule at that priority)."""

    rule_id: str | None
    priority: str
    firings: int
    pages: int
    transitions: int
    patients: int
    patient_days: float

    @property
    def firings_per_patient_day(self) -> float | None:
        """Alerts raised per monitored patient-day, or None for a run of no length."""
        return self.firings / self.patient_days if self.patient_days else None

    @property
    def pages_per_patient_day(self) -> float | None:
        """Pages (firing, renotified, escalated) per monitored patient-day."""
        return self.pages / self.patient_days if self.patient_days else None


def _rows(alerts: Iterable[Alert], patient_days: float, *, by_rule: bool) -> list[BurdenRow]:
    groups: dict[tuple[str | None, str], list[Alert]] = {}
    for alert in {a.transition_id: a for a in alerts}.values():
        key = (alert.rule_id if by_rule else None, alert.priority)
        groups.setdefault(key, []).append(alert)
    rows = [
        BurdenRow(
            rule_id=rule_id,
            priority=priority,
            firings=sum(1 for a in group if a.state == "firing"),
            pages=sum(1 for a in group if a.state in _PAGING_STATES),
            transitions=len(group),
            patients=len({a.patient_id for a in group}),
            patient_days=patient_days,
        )
        for (rule_id, priority), group in groups.items()
    ]
    return sorted(rows, key=lambda r: (-PRIORITY_RANK[r.priority], r.rule_id or ""))


def burden_by_rule(alerts: Iterable[Alert], patient_days: float) -> list[BurdenRow]:
    """One row per (rule, priority), most urgent priority first."""
    return _rows(alerts, patient_days, by_rule=True)


def burden_by_priority(alerts: Iterable[Alert], patient_days: float) -> list[BurdenRow]:
    """One row per priority over all rules, most urgent first."""
    return _rows(alerts, patient_days, by_rule=False)
