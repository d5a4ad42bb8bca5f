"""The report page: one self-contained ``index.html`` a clinical lead opens without Grafana.

The page is built by plain string assembly with :func:`html.escape` on every value rather
than with a template engine: it is a header, two tables and one ``<div>`` per patient, and
the project has no template engine to add a dependency for. Plotly's own JSON already escapes
``<`` (as ``\\u003c``), so no value can close the ``<script>`` that holds a figure.

plotly.js (from the installed ``plotly`` package) is inlined once in ``<head>``: nothing is
fetched when the page is viewed, so it opens on a ward PC with no internet access. Only typed
fields of the contract are shown: pseudonymous ids, never raw message bytes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from html import escape
from pathlib import Path

from plotly.offline import get_plotlyjs  # type: ignore[import-untyped]

from agents.report.burden import BurdenRow, burden_by_priority, burden_by_rule
from agents.report.figures import PRIORITY_COLOURS, figure_html, patient_figure
from agents.report.model import PatientData, group_by_patient, monitored_patient_days
from agents.report.peak import PEAK_WINDOW_HOURS
from schemas import Alert, InboundEvent
from streams.ward import Episode
from streams.ward.detection import DetectionReport, RuleFigures, score_by_rule

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1a1a1a;
  margin: 0 auto; max-width: 1500px; padding: 16px 24px 48px; line-height: 1.4; }
h1 { font-size: 1.5rem; margin: 0.2em 0; }
h2 { font-size: 1.2rem; margin: 1.6em 0 0.4em; border-bottom: 1px solid #ddd; }
h3 { font-size: 1rem; margin: 1.2em 0 0.3em; }
table { border-collapse: collapse; margin: 0.4em 0 1em; font-size: 0.9rem; }
th, td { border: 1px solid #d0d0d0; padding: 3px 10px; text-align: right; }
th:first-child, td:first-child { text-align: left; }
thead th { background: #f2f2f2; }
tr.total td { font-weight: 600; background: #fafafa; }
.meta { color: #555; font-size: 0.9rem; }
.facts { display: flex; flex-wrap: wrap; gap: 4px 22px; font-size: 0.9rem; margin: 0.2em 0; }
.facts span b { font-weight: 600; }
.prio { display: inline-block; width: 0.8em; height: 0.8em; border-radius: 2px;
  margin-right: 5px; vertical-align: -1px; }
.patient { page-break-inside: avoid; }
nav ul { columns: 3; font-size: 0.9rem; padding-left: 1.2em; }
.note { font-size: 0.8rem; color: #666; max-width: 60em; }
"""


def _minutes(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} min"


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _cells(values: Sequence[str], tag: str = "td") -> str:
    return "".join(f"<{tag}>{value}</{tag}>" for value in values)


def _table(head: Sequence[str], rows: Sequence[Sequence[str]], total: Sequence[str] = ()) -> str:
    """A table; every cell must already be escaped (some carry a colour swatch)."""
    body = "".join(f"<tr>{_cells(row)}</tr>" for row in rows)
    foot = f'<tr class="total">{_cells(total)}</tr>' if total else ""
    return f"<table><thead><tr>{_cells(head, 'th')}</tr></thead><tbody>{body}{foot}</tbody></table>"


def _priority_cell(priority: str) -> str:
    colour = PRIORITY_COLOURS.get(priority, "#999999")
    return f'<span class="prio" style="background:{colour}"></span>{escape(priority)}'


def detection_html(detection: DetectionReport | None) -> str:
    """Sensitivity and time to alert per episode kind (ground truth from the simulator)."""
    if detection is None:
        return (
            '<p class="meta">No ground truth for this run, so no sensitivity: '
            "pass episodes (<code>--episodes</code>) to score detection.</p>"
        )
    rows = []
    for kind in detection.by_kind:
        sensitivity = "-" if kind.sensitivity is None else f"{kind.sensitivity:.0%}"
        rows.append(
            [
                escape(kind.kind.replace("_", " ")),
                str(kind.episodes),
                str(kind.detected),
                sensitivity,
                _minutes(kind.median_minutes_to_alert),
                _minutes(kind.max_minutes_to_alert),
            ]
        )
    overall = detection.overall_sensitivity()
    total = [
        "all kinds",
        str(sum(k.episodes for k in detection.by_kind)),
        str(sum(k.detected for k in detection.by_kind)),
        "-" if overall is None else f"{overall:.0%}",
        "",
        "",
    ]
    head = ["episode kind", "episodes", "detected", "sensitivity", "median to alert", "max"]
    return (
        _table(head, rows, total)
        + f"<p>Firings outside every episode window: {detection.alerts_outside_episodes}, "
        f"{detection.alerts_per_patient_day:.2f} per patient-day "
        f"over {detection.patient_days:.1f} patient-days.</p>"
    )


def detection_by_rule_html(rules: Sequence[RuleFigures]) -> str:
    """Per rule: episodes in whose window it fired, how fast, and its firings outside them."""
    if not rules:
        return ""
    rows = [
        [
            escape(rule.rule_id),
            f"{rule.episodes_caught} of {rule.episodes_total}",
            "-" if rule.share_caught is None else f"{rule.share_caught:.0%}",
            escape(", ".join(kind.replace("_", " ") for kind in rule.kinds)) or "-",
            _minutes(rule.median_minutes_to_alert),
            str(rule.firings_outside),
            _rate(rule.outside_per_patient_day),
        ]
        for rule in rules
    ]
    head = [
        "rule",
        "episodes caught",
        "share",
        "kinds",
        "median to alert",
        "firings outside",
        "outside per patient-day",
    ]
    return "<h3>Detection by rule</h3>" + _table(head, rows)


def _burden_rows(rows: Sequence[BurdenRow], *, by_rule: bool) -> list[list[str]]:
    return [
        ([escape(row.rule_id or "")] if by_rule else [])
        + [
            _priority_cell(row.priority),
            str(row.firings),
            _rate(row.firings_per_patient_day),
            str(row.pages),
            _rate(row.pages_per_patient_day),
            str(row.patients),
        ]
        for row in rows
    ]


def burden_html(alerts: Sequence[Alert], days: float) -> str:
    """Alerts per patient-day by rule and priority, and by priority over all rules."""
    if not alerts:
        return f"<p>No alerts in {days:.1f} patient-days.</p>"
    head = ["firings", "per patient-day", "pages", "pages per patient-day", "patients"]
    by_priority = burden_by_priority(alerts, days)
    firings = sum(r.firings for r in by_priority)
    pages = sum(r.pages for r in by_priority)
    total = [
        "all",
        str(firings),
        _rate(firings / days if days else None),
        str(pages),
        _rate(pages / days if days else None),
        str(len({a.patient_id for a in alerts})),
    ]
    return (
        f"<p>Over {days:.1f} monitored patient-days. A firing raises an alert; pages also "
        "count renotified and escalated transitions.</p>"
        + _table(
            ["rule", "priority", *head], _burden_rows(burden_by_rule(alerts, days), by_rule=True)
        )
        + _table(["priority", *head], _burden_rows(by_priority, by_rule=False), total)
    )


def _fmt(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%d %b %Y %H:%M UTC")


def _facts(patient: PatientData) -> str:
    facts: list[tuple[str, str]] = []
    enrolment = patient.enrolment
    if enrolment is None:
        facts.append(("enrolment", "none received: peak window unknown"))
    else:
        facts += [
            ("ward", enrolment.ward),
            ("programme", enrolment.programme),
            ("drug", f"{enrolment.drug} ({enrolment.half_life_class} half-life)"),
            ("risk tier", enrolment.risk_tier),
            ("last dose", _fmt(enrolment.last_dose_at)),
            ("admitted", _fmt(enrolment.observed_at)),
        ]
        if enrolment.risk_factors:
            facts.append(("risk factors", ", ".join(enrolment.risk_factors).replace("_", " ")))
    peak = patient.peak
    if peak is not None:
        facts.append(("expected peak window", f"{_fmt(peak.start)} to {_fmt(peak.end)}"))
    if patient.discharge is not None:
        facts.append(
            ("discharged", f"{_fmt(patient.discharge.observed_at)} ({patient.discharge.reason})")
        )
    states = Counter(a.state for a in patient.alerts)
    facts.append(
        (
            "alerts",
            f"{states['firing']} fired, {len(patient.alerts)} transitions"
            if patient.alerts
            else "none",
        )
    )
    if patient.episodes:
        facts.append(
            (
                "episodes (ground truth)",
                ", ".join(e.kind.replace("_", " ") for e in patient.episodes),
            )
        )
    return (
        '<div class="facts">'
        + "".join(f"<span><b>{escape(k)}:</b> {escape(v)}</span>" for k, v in facts)
        + "</div>"
    )


def _anchor(index: int) -> str:
    return f"patient-{index}"


def _patient_section(index: int, patient: PatientData) -> str:
    return (
        f'<section class="patient" id="{_anchor(index)}">'
        f"<h2>Patient {escape(patient.patient_id)}</h2>"
        + _facts(patient)
        + figure_html(patient_figure(patient), f"plot-{index}")
        + "</section>"
    )


def _contents(patients: Sequence[PatientData]) -> str:
    items = []
    for index, patient in enumerate(patients):
        fired = [a for a in patient.alerts if a.state == "firing"]
        note = f"{len(fired)} alert{'s' if len(fired) != 1 else ''}" if fired else "no alerts"
        items.append(
            f'<li><a href="#{_anchor(index)}">{escape(patient.patient_id)}</a> '
            f'<span class="meta">({escape(note)})</span></li>'
        )
    return f"<nav><ul>{''.join(items)}</ul></nav>"


def _sources() -> str:
    windows = ", ".join(
        f"{cls} {start:g}-{end:g} h" for cls, (start, end) in PEAK_WINDOW_HOURS.items()
    )
    return (
        '<p class="note">Peak-risk windows after the last dose (clinical.md §11.2): '
        f"{escape(windows)}. Alert colours follow IEC 60601-1-8 priorities (high red, medium "
        "yellow, low cyan). Markers: triangle fired, circle renotified, star escalated, "
        "square acknowledged, open down-triangle resolved. Dashed lines are the thresholds "
        "of rules that fired. Green bands are simulated ground-truth episodes. Patients are "
        "named by pseudonymous id only.</p>"
    )


def render_report(
    *,
    events: Sequence[InboundEvent],
    alerts: Sequence[Alert],
    episodes: Sequence[Episode] | None,
    detection: DetectionReport | None,
    title: str,
    patient_days: float | None = None,
) -> str:
    """The whole page as a string (see :func:`write_report`)."""
    patients = group_by_patient(events, alerts, episodes or ())
    days = patient_days
    if days is None:
        days = detection.patient_days if detection is not None else monitored_patient_days(patients)
    unique_alerts = [a for p in patients for a in p.alerts]
    times = [t for p in patients for t in p.times()]
    span = f"{_fmt(min(times))} to {_fmt(max(times))}" if times else "no events"
    summary = (
        f"{len(patients)} patients, {days:.1f} patient-days, {span}. "
        f"{sum(len(p.vitals) for p in patients)} vital-sign sets, "
        f"{sum(len(p.ciwa_b) for p in patients)} CIWA-B scores, "
        f"{sum(len(p.doses) for p in patients)} doses, {len(unique_alerts)} alert transitions."
    )
    sections = "".join(_patient_section(i, p) for i, p in enumerate(patients))
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style>"
        f'<script type="text/javascript">{get_plotlyjs()}</script>'
        "</head><body>"
        f'<h1>{escape(title)}</h1><p class="meta">{escape(summary)}</p>'
        + _contents(patients)
        + "<h2>Detection against ground truth</h2>"
        + detection_html(detection)
        + (
            detection_by_rule_html(score_by_rule(list(episodes), unique_alerts, patient_days=days))
            if episodes is not None and detection is not None
            else ""
        )
        + "<h2>Alert burden by rule and priority</h2>"
        + burden_html(unique_alerts, days)
        + _sources()
        + sections
        + "</body></html>\n"
    )


def write_report(
    directory: Path,
    *,
    events: Sequence[InboundEvent],
    alerts: Sequence[Alert],
    episodes: Sequence[Episode] | None,
    detection: DetectionReport | None,
    title: str,
    patient_days: float | None = None,
) -> Path:
    """Write ``directory/index.html`` and return its path.

    ``patient_days`` defaults to the detection report's (the figure it was scored with),
    else to each patient's time from enrolment to discharge or the run's last event.
    """
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "index.html"
    page = render_report(
        events=events,
        alerts=alerts,
        episodes=episodes,
        detection=detection,
        title=title,
        patient_days=patient_days,
    )
    path.write_text(page, encoding="utf-8")
    return path
