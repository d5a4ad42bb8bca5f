"""The board's cells and page lines as plain text, shared by the live and the plain board."""

from __future__ import annotations

from typing import Final

from agents.demo.ward import PatientRow
from schemas import Alert

#: IEC 60601-1-8 alarm colours, as in the report and the dashboards.
PRIORITY_STYLES: Final[dict[str, str]] = {"high": "bold red", "medium": "yellow", "low": "cyan"}
#: Page lines by transition: red to act on, yellow reminders, cyan taken, green over.
STATE_STYLES: Final[dict[str, str]] = {
    "firing": "red",
    "escalated": "bold red",
    "renotified": "yellow",
    "acknowledged": "cyan",
    "resolved": "green",
}


def _num(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


_NEWS2_BANDS: Final = {"low": "low", "low_medium": "low-med", "medium": "med", "high": "high"}
_CIWA_BANDS: Final = {
    "none": "none",
    "mild": "mild",
    "moderate": "mod",
    "severe": "sev",
    "very_severe": "v-sev",
}


def programme(row: PatientRow) -> str:
    """The ward, or "tele" for the telehealth cohort (kept short for an 80-column terminal)."""
    snapshot = row.snapshot
    if snapshot is None:
        return "-"
    if snapshot.programme == "telehealth":
        return "tele"
    return snapshot.ward or snapshot.programme or "-"


def vitals(row: PatientRow) -> list[str]:
    """Pulse, blood pressure, temperature, SpO2 and respiratory rate, or dashes."""
    v = row.vitals
    if v is None:
        return ["-"] * 5
    bp = f"{_num(v.systolic_bp)}/{_num(v.diastolic_bp)}"
    return [
        _num(v.heart_rate),
        bp,
        _num(v.temperature, 1),
        _num(v.spo2),
        _num(v.respiratory_rate),
    ]


def news2(row: PatientRow, *, short: bool = False) -> str:
    """NEWS2 (with its band unless ``short``), marked stale when the vitals are overdue."""
    s = row.snapshot
    if s is None or s.news2 is None:
        return "-"
    if short:
        return f"{s.news2}" + ("?" if s.news2_stale else "")
    band = _NEWS2_BANDS[s.news2_band] if s.news2_band else ""
    return f"{s.news2} {band}" + (" stale" if s.news2_stale else "")


def ciwa_b(row: PatientRow, *, short: bool = False) -> str:
    """The latest CIWA-B total (with its band unless ``short``)."""
    s = row.snapshot
    if s is None or s.ciwa_b is None:
        return "-"
    if short:
        return str(s.ciwa_b)
    return f"{s.ciwa_b} {_CIWA_BANDS[s.ciwa_b_band] if s.ciwa_b_band else ''}".strip()


def since_dose(row: PatientRow, *, short: bool = False) -> str:
    """Hours since the last dose and the withdrawal phase; ``*`` or words for the peak window."""
    s = row.snapshot
    if s is None or s.hours_since_last_dose is None:
        return "-"
    if short:
        return f"{s.hours_since_last_dose:.0f} h {s.phase}" + ("*" if s.in_peak_window else "")
    peak = ", peak window" if s.in_peak_window else ""
    return f"{s.hours_since_last_dose:.0f} h ago ({s.phase}{peak})"


def alert_state(row: PatientRow) -> str:
    """The open alerts: how many, and the most urgent one's rule and state."""
    urgent = row.most_urgent()
    if urgent is None:
        return "no alert"
    more = f" +{len(row.open_alerts) - 1}" if len(row.open_alerts) > 1 else ""
    return f"{urgent.priority.upper()} {urgent.rule_id} ({urgent.state}){more}"


def page_line(alert: Alert) -> str:
    """One page as a line: state, event time, patient, what and why."""
    value = alert.evidence.value
    unit = alert.evidence.unit or ""
    unit = "" if unit.startswith("{") else unit  # a UCUM annotation such as {score}: no unit
    shown = f"{value:g} {unit}".strip() if value is not None else "-"
    return (
        f"PAGE {alert.state.upper():12} {alert.at:%a %H:%M} {alert.patient_id} {alert.summary} "
        f"({shown}, priority {alert.priority}, rule {alert.rule_id})"
    )
