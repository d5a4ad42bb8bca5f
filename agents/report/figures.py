"""One Plotly figure per patient: vitals, CIWA-B, doses and alerts on one shared time axis.

A clinician reads a deterioration across rows (pulse rising, then CIWA-B, then a PRN dose and
an alert), so every row is a y axis on one shared x axis and the shaded bands span all rows.
Alert colours follow IEC 60601-1-8 (clinical.md §7): high red, medium yellow-orange, low
cyan-blue; the symbol tells the transition. Times are shown in UTC, the one zone every event
carries.

The figure is a plain plotly.js spec (``data`` and ``layout`` dicts) rather than
``plotly.graph_objects``: the objects validate every property on every update, which took
0.6 s per patient; the spec is checked against Plotly's schema by a unit test instead.

Every string that reaches Plotly is HTML-escaped first (:func:`escape`): Plotly renders a
subset of HTML in hover text, labels and annotations, and rule ids and summaries are free text.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import plotly.io as pio  # type: ignore[import-untyped]

from agents.report.model import PatientData
from schemas import PRIORITY_RANK, Alert, DoseAdministration

#: IEC 60601-1-8 alarm colours (clinical.md §7): red, yellow (an orange-yellow that stays
#: legible on white), and cyan-blue for low priority.
PRIORITY_COLOURS: Final[dict[str, str]] = {
    "high": "#d62728",
    "medium": "#f0a000",
    "low": "#1ba3c6",
}
#: Marker symbol per alert transition.
STATE_SYMBOLS: Final[dict[str, str]] = {
    "firing": "triangle-up",
    "renotified": "circle",
    "escalated": "star",
    "acknowledged": "square",
    "resolved": "triangle-down-open",
}
PEAK_FILL: Final = "rgba(128, 90, 213, 0.10)"
EPISODE_FILL: Final = "rgba(34, 139, 34, 0.14)"
EPISODE_LINE: Final = "rgba(34, 139, 34, 0.7)"

#: A vitals line is broken where readings are further apart than this, so a silent device
#: shows as a gap, not as a straight line: 4-hourly is the slowest inpatient cadence (§11.4)
#: and telehealth vitals come 12-hourly, each with some slack.
LINE_GAP: Final[dict[str, timedelta]] = {
    "inpatient": timedelta(hours=6),
    "telehealth": timedelta(hours=18),
}


@dataclass(frozen=True)
class _Vital:
    field: str
    label: str
    unit: str
    row: int
    colour: str


_VITALS: Final[tuple[_Vital, ...]] = (
    _Vital("heart_rate", "Pulse", "/min", 1, "#1f3a93"),
    _Vital("systolic_bp", "Systolic BP", "mmHg", 2, "#6a3d9a"),
    _Vital("diastolic_bp", "Diastolic BP", "mmHg", 2, "#a78bd0"),
    _Vital("temperature", "Temperature", "°C", 3, "#8c564b"),
    _Vital("spo2", "SpO2", "%", 4, "#17605a"),
    _Vital("respiratory_rate", "Resp. rate", "/min", 5, "#525252"),
)
_VITAL_BY_FIELD: Final = {v.field: v for v in _VITALS}
ROW_CIWA: Final = 6
ROW_DOSES: Final = 7
ROW_ALERTS: Final = 8
_ROW_TITLES: Final = (
    "Pulse<br>/min",
    "BP<br>mmHg",
    "Temp<br>°C",
    "SpO2<br>%",
    "RR<br>/min",
    "CIWA-B<br>0-80",
    "Dose<br>diazepam eq. mg",
    "Alerts",
)
#: Rows a threshold line can go on, by the evidence's measure.
_MEASURE_ROW: Final = {**{v.field: v.row for v in _VITALS}, "ciwa_b": ROW_CIWA}
#: CIWA-B totals where the §11.5 priorities start (moderate: medium, severe: high).
_CIWA_GUIDES: Final = ((21, "moderate 21+"), (41, "severe 41+"))

PLOT_CONFIG: Final[dict[str, Any]] = {
    "displaylogo": False,
    "responsive": True,
    "modeBarButtonsToRemove": ["select2d", "lasso2d"],
}


def escape(text: str) -> str:
    """Text for Plotly: ``<``, ``>`` and ``&`` as entities. Quotes stay as they are, since
    Plotly decodes only a few entities (``&quot;`` would show literally) and its JSON encoder
    already makes quotes safe."""
    return html.escape(text, quote=False)


def _t(at: datetime) -> str:
    """UTC wall time without an offset: Plotly's date axes have no time zones."""
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _when(at: datetime) -> str:
    """A time for hover text, to the minute."""
    return at.astimezone(UTC).strftime("%d %b %H:%M UTC")


#: Display units for the UCUM codes in evidence (schemas.vitals.VITAL_UNITS).
_UNIT_LABELS: Final = {"mm[Hg]": "mmHg", "Cel": "°C"}


def _since_dose(patient: PatientData, at: datetime) -> str:
    hours = patient.hours_since_last_dose(at)
    if hours is None:
        return "last dose unknown"
    return f"{hours:.1f} h since last dose"


def _num(value: float | None, unit: str | None = None) -> str:
    if value is None:
        return "n/a"
    text = f"{value:g}"
    return f"{text} {_UNIT_LABELS.get(unit, unit)}" if unit else text


_SCORE_LABELS: Final = {"news2": "NEWS2", "ciwa_b": "CIWA-B"}


def _measure_label(measure: str) -> str:
    vital = _VITAL_BY_FIELD.get(measure)
    if vital is not None:
        return vital.label
    return _SCORE_LABELS.get(measure, measure.replace("_", " "))


def alert_hover(alert: Alert, patient: PatientData) -> str:
    """Escaped hover text for one alert transition: rule, state, summary and evidence."""
    evidence = alert.evidence
    lines = [
        f"<b>{escape(alert.rule_id)}</b>: {escape(alert.state)}, {escape(alert.priority)} priority",
        escape(alert.summary),
        f"{_when(alert.at)}, {escape(_since_dose(patient, alert.at))}",
        escape(
            f"{_measure_label(evidence.measure)} {_num(evidence.value, evidence.unit)}"
            f" (threshold {_num(evidence.threshold, evidence.unit)})"
        ),
    ]
    if evidence.values:
        shown = []
        for name, value in evidence.values.items():
            vital = _VITAL_BY_FIELD.get(name)
            label, unit = (vital.label, vital.unit) if vital else (name, "")
            shown.append(escape(f"{label} {_num(value, unit)}"))
        lines.append("readings: " + ", ".join(shown))
    scores = []
    if evidence.news2 is not None:
        scores.append(f"NEWS2 {evidence.news2}{' (stale)' if evidence.news2_stale else ''}")
    if evidence.ciwa_b is not None:
        scores.append(f"CIWA-B {evidence.ciwa_b}")
    if evidence.phase is not None:
        scores.append(f"phase {evidence.phase}")
    if evidence.in_peak_window is not None:
        scores.append("in peak window" if evidence.in_peak_window else "outside peak window")
    if scores:
        lines.append(escape(", ".join(scores)))
    if alert.state in ("escalated", "renotified"):
        role = alert.escalate_to.replace("_", " ")
        lines.append(escape(f"to {role} (escalation level {alert.escalation_level})"))
    if alert.acknowledged_by is not None:
        lines.append(escape(f"acknowledged by {alert.acknowledged_by}"))
    return "<br>".join(lines)


def _segments(
    points: Sequence[tuple[datetime, float, str]], gap: timedelta
) -> tuple[list[str | None], list[float | None], list[str | None]]:
    """x, y and hover columns with a ``None`` break wherever readings are far apart."""
    xs: list[str | None] = []
    ys: list[float | None] = []
    hover: list[str | None] = []
    previous: datetime | None = None
    for at, value, text in points:
        if previous is not None and at - previous > gap:
            xs.append(None)
            ys.append(None)
            hover.append(None)
        xs.append(_t(at))
        ys.append(value)
        hover.append(text)
        previous = at
    return xs, ys, hover


Spec = dict[str, Any]


class _Builder:
    """Collects traces, shapes and annotations; rows are y axes ``y``, ``y2``... on axis x."""

    def __init__(self, rows: int) -> None:
        self.rows = rows
        self.data: list[Spec] = []
        self.shapes: list[Spec] = []
        self.annotations: list[Spec] = []
        self.yaxes: dict[int, Spec] = {row: {} for row in range(1, rows + 1)}

    @staticmethod
    def yref(row: int) -> str:
        return "y" if row == 1 else f"y{row}"

    def trace(self, row: int, trace: Spec) -> None:
        self.data.append({"type": "scatter", "xaxis": "x", "yaxis": self.yref(row), **trace})

    def fill_empty_rows(self) -> None:
        """An empty trace on each row without one: plotly.js draws no subplot for an axis
        without a trace, and would then hang the time axis under the wrong row."""
        used = {trace["yaxis"] for trace in self.data}
        for row in range(1, self.rows + 1):
            if self.yref(row) not in used:
                self.trace(row, {"x": [], "y": [], "hoverinfo": "skip", "showlegend": False})

    def hline(self, row: int, y: float, *, colour: str, dash: str, label: str) -> None:
        self.shapes.append(
            {
                "type": "line",
                "xref": "x domain",
                "x0": 0,
                "x1": 1,
                "yref": self.yref(row),
                "y0": y,
                "y1": y,
                "line": {"color": colour, "dash": dash, "width": 1},
                "layer": "below",
            }
        )
        self.annotations.append(
            {
                "xref": "x domain",
                "x": 1,
                "xanchor": "right",
                "yref": self.yref(row),
                "y": y,
                "yanchor": "bottom",
                "text": escape(label),
                "showarrow": False,
                "font": {"size": 9, "color": colour},
            }
        )


def _add_vitals(fig: _Builder, patient: PatientData) -> None:
    programme = patient.enrolment.programme if patient.enrolment is not None else "inpatient"
    for vital in _VITALS:
        points = [
            (
                obs.observed_at,
                float(value),
                "<br>".join(
                    escape(line)
                    for line in (
                        f"{vital.label} {value:g} {vital.unit}",
                        _when(obs.observed_at),
                        _since_dose(patient, obs.observed_at),
                    )
                ),
            )
            for obs in patient.vitals
            if (value := getattr(obs, vital.field)) is not None
        ]
        if not points:
            continue
        xs, ys, hover = _segments(points, LINE_GAP[programme])
        fig.trace(
            vital.row,
            {
                "x": xs,
                "y": ys,
                "hovertext": hover,
                "hoverinfo": "text",
                "mode": "lines+markers",
                "name": f"{vital.label} ({vital.unit})",
                "legendgroup": "observations",
                "legendgrouptitle": {"text": "Observations"},
                "line": {"color": vital.colour, "width": 1.5},
                "marker": {"size": 5, "color": vital.colour},
                "connectgaps": False,
            },
        )


def _add_ciwa(fig: _Builder, patient: PatientData) -> None:
    top = max((a.total for a in patient.ciwa_b), default=0)
    fig.yaxes[ROW_CIWA]["range"] = [0, max(50, top + 5)]
    for total, label in _CIWA_GUIDES:
        fig.hline(ROW_CIWA, total, colour="#888888", dash="dot", label=label)
    if not patient.ciwa_b:
        return
    hover = [
        "<br>".join(
            escape(line)
            for line in (
                f"CIWA-B {a.total} ({a.band.replace('_', ' ')})",
                f"rated by {a.rated_by.replace('_', ' ')}",
                _when(a.observed_at),
                _since_dose(patient, a.observed_at),
            )
        )
        for a in patient.ciwa_b
    ]
    fig.trace(
        ROW_CIWA,
        {
            "x": [_t(a.observed_at) for a in patient.ciwa_b],
            "y": [a.total for a in patient.ciwa_b],
            "hovertext": hover,
            "hoverinfo": "text",
            "mode": "lines+markers",
            "name": "CIWA-B total",
            "legendgroup": "observations",
            "line": {"color": "#222222", "width": 1.5},
            "marker": {"size": 6, "color": "#222222"},
        },
    )


def _dose_hover(dose: DoseAdministration) -> str:
    equivalent = (
        f"{dose.diazepam_equivalent_mg:g} mg diazepam equivalent"
        if dose.diazepam_equivalent_mg is not None
        else "diazepam equivalent unknown"
    )
    step = f", taper step {dose.taper_step}" if dose.taper_step is not None else ""
    lines = (
        f"{dose.drug} {dose.dose_mg:g} mg {dose.route}{', PRN' if dose.as_needed else ''}",
        equivalent + step,
        _when(dose.observed_at),
    )
    return "<br>".join(escape(line) for line in lines)


def _add_doses(fig: _Builder, patient: PatientData) -> None:
    for as_needed, name, symbol, colour in (
        (False, "scheduled", "circle", "#2b8a3e"),
        (True, "PRN (as needed)", "triangle-up", "#0b5394"),
    ):
        doses = [d for d in patient.doses if d.as_needed is as_needed]
        if not doses:
            continue
        fig.trace(
            ROW_DOSES,
            {
                "x": [_t(d.observed_at) for d in doses],
                "y": [d.diazepam_equivalent_mg or 0 for d in doses],
                "hovertext": [_dose_hover(d) for d in doses],
                "hoverinfo": "text",
                "mode": "markers",
                "name": name,
                "legendgroup": "doses",
                "legendgrouptitle": {"text": "Doses"},
                "marker": {
                    "symbol": symbol,
                    "size": 10,
                    "color": colour,
                    "line": {"width": 1, "color": "#ffffff"},
                },
            },
        )
    top = max((d.diazepam_equivalent_mg or 0 for d in patient.doses), default=10)
    fig.yaxes[ROW_DOSES]["range"] = [0, top * 1.3 + 1]


NO_ALERTS: Final = "no alerts"


def _alert_lanes(patient: PatientData) -> list[str]:
    """Alert-row categories: one per rule seen, then one per clinical event type."""
    rules = sorted({a.rule_id for a in patient.alerts})
    events = sorted({f"event: {e.event_type}" for e in patient.clinical_events})
    return [escape(lane) for lane in rules + events] or [NO_ALERTS]


def _add_alerts(fig: _Builder, patient: PatientData) -> None:
    keys = sorted(
        {(a.priority, a.state) for a in patient.alerts},
        key=lambda k: (-PRIORITY_RANK[k[0]], list(STATE_SYMBOLS).index(k[1])),
    )
    for priority, state in keys:
        alerts = [a for a in patient.alerts if (a.priority, a.state) == (priority, state)]
        colour = PRIORITY_COLOURS[priority]
        hollow = STATE_SYMBOLS[state].endswith("-open")
        fig.trace(
            ROW_ALERTS,
            {
                "x": [_t(a.at) for a in alerts],
                "y": [escape(a.rule_id) for a in alerts],
                "hovertext": [alert_hover(a, patient) for a in alerts],
                "hoverinfo": "text",
                "mode": "markers",
                "name": f"{priority}, {state}",
                "legendgroup": "alerts",
                "legendgrouptitle": {"text": "Alerts"},
                "marker": {
                    "symbol": STATE_SYMBOLS[state],
                    "size": 13,
                    "color": colour,
                    "line": {"width": 2 if hollow else 1, "color": colour if hollow else "#333"},
                },
            },
        )
    if patient.clinical_events:
        hover = []
        for event in patient.clinical_events:
            lines = [event.event_type.replace("_", " ")]
            if event.severity:
                lines[0] += f", {event.severity}"
            if event.duration_s is not None:
                lines.append(f"lasting {event.duration_s:g} s")
            lines.append(_when(event.observed_at))
            hover.append("<br>".join(escape(line) for line in lines))
        fig.trace(
            ROW_ALERTS,
            {
                "x": [_t(e.observed_at) for e in patient.clinical_events],
                "y": [escape(f"event: {e.event_type}") for e in patient.clinical_events],
                "hovertext": hover,
                "hoverinfo": "text",
                "mode": "markers",
                "name": "clinical event",
                "legendgroup": "alerts",
                "marker": {"symbol": "x-thin", "size": 13, "line": {"width": 2.5, "color": "#000"}},
            },
        )
    lanes = _alert_lanes(patient)
    if lanes == [NO_ALERTS]:
        times = patient.times()
        fig.trace(
            ROW_ALERTS,
            {
                "x": [_t(min(times))] if times else [],
                "y": [NO_ALERTS] if times else [],
                "mode": "markers",
                "marker": {"opacity": 0},
                "hoverinfo": "skip",
                "showlegend": False,
            },
        )
    fig.yaxes[ROW_ALERTS].update(
        type="category",
        categoryorder="array",
        categoryarray=list(reversed(lanes)),
        range=[-0.7, max(len(lanes), 1) - 0.3],
        showgrid=True,
    )
    thresholds = {
        (a.rule_id, a.evidence.measure, a.evidence.threshold, a.priority)
        for a in patient.alerts
        if a.state == "firing"
        and a.evidence.threshold is not None
        and a.evidence.measure in _MEASURE_ROW
    }
    for rule_id, measure, threshold, priority in sorted(thresholds, key=str):
        fig.hline(
            _MEASURE_ROW[measure],
            threshold,
            colour=PRIORITY_COLOURS[priority],
            dash="dash",
            label=f"{rule_id} threshold {threshold:g}",
        )


def _band(
    fig: _Builder, start: datetime, end: datetime, *, name: str, label: str, fill: str, line: str
) -> None:
    """A band across every row (``yref`` paper), under the traces."""
    fig.shapes.append(
        {
            "type": "rect",
            "xref": "x",
            "yref": "paper",
            "x0": _t(start),
            "x1": _t(end),
            "y0": 0,
            "y1": 1,
            "fillcolor": fill,
            "line": {"width": 1 if line else 0, "color": line or fill, "dash": "dot"},
            "layer": "below",
            "name": escape(name),
            "label": {
                "text": escape(label),
                "textposition": "top left",
                "font": {"size": 10, "color": "#444444"},
                "padding": 4,
            },
        }
    )


def _add_bands(fig: _Builder, patient: PatientData) -> None:
    peak = patient.peak
    if peak is not None:
        _band(
            fig,
            peak.start,
            peak.end,
            name="peak window",
            label=peak.label(),
            fill=PEAK_FILL,
            line="",
        )
    for episode in patient.episodes:
        _band(
            fig,
            episode.start,
            episode.end,
            name=f"episode {episode.kind}",
            label=f"episode: {episode.kind.replace('_', ' ')}",
            fill=EPISODE_FILL,
            line=EPISODE_LINE,
        )


def _x_range(patient: PatientData) -> list[str] | None:
    """The patient's own data span, so a long-acting window ending on day 10 does not squash
    a three-day run (the band is clipped; its dates are in the section header)."""
    times = patient.times()
    if not times:
        return None
    start, end = min(times), max(times)
    pad = max((end - start) * 0.01, timedelta(minutes=30))
    return [_t(start - pad), _t(end + pad)]


def _domains(heights: Sequence[float], gap: float) -> list[list[float]]:
    """Vertical [bottom, top] of each row, top row first, ``gap`` apart (paper fraction)."""
    usable = 1 - gap * (len(heights) - 1)
    total = sum(heights)
    domains, top = [], 1.0
    for height in heights:
        bottom = top - usable * height / total
        domains.append([round(max(bottom, 0.0), 5), round(top, 5)])
        top = bottom - gap
    return domains


def patient_figure(patient: PatientData) -> Spec:
    """The patient's figure as a plotly.js spec: ``{"data": [...], "layout": {...}}``."""
    lanes = len(_alert_lanes(patient))
    heights = [1.0, 1.0, 0.75, 0.75, 0.75, 1.0, 0.6, 0.3 + 0.25 * lanes]
    fig = _Builder(len(heights))
    _add_bands(fig, patient)
    _add_vitals(fig, patient)
    _add_ciwa(fig, patient)
    _add_doses(fig, patient)
    _add_alerts(fig, patient)
    fig.fill_empty_rows()
    x_range = _x_range(patient)
    layout: Spec = {
        "height": int(100 + 110 * sum(heights)),
        "margin": {"l": 90, "r": 10, "t": 20, "b": 50},
        "paper_bgcolor": "#ffffff",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "hovermode": "closest",
        "showlegend": True,
        "legend": {
            "orientation": "v",
            "yanchor": "top",
            "y": 1.0,
            "xanchor": "left",
            "x": 1.01,
            "font": {"size": 11},
            "groupclick": "toggleitem",
        },
        "shapes": fig.shapes,
        "annotations": fig.annotations,
        "xaxis": {
            "type": "date",
            "anchor": fig.yref(len(heights)),
            "range": x_range,
            "autorange": x_range is None,
            "tickformat": "%d %b\n%H:%M",
            "title": {"text": "time (UTC)", "font": {"size": 11}},
            "showline": True,
            "linecolor": "#bbbbbb",
            "gridcolor": "#ececec",
            "showspikes": True,
            "spikemode": "across",
            "spikesnap": "cursor",
            "spikethickness": 1,
            "spikedash": "dot",
            "spikecolor": "#888888",
        },
    }
    for row, (title, domain) in enumerate(
        zip(_ROW_TITLES, _domains(heights, 0.014), strict=True), 1
    ):
        axis: Spec = {
            "anchor": "x",
            "automargin": True,
            "nticks": 6 if heights[row - 1] >= 1 else 4,
            "domain": domain,
            "title": {"text": title, "font": {"size": 11}},
            "tickfont": {"size": 10},
            "gridcolor": "#ececec",
            "zeroline": False,
            "showline": True,
            "linecolor": "#bbbbbb",
            "mirror": True,
            **fig.yaxes[row],
        }
        layout["yaxis" if row == 1 else f"yaxis{row}"] = axis
    return {"data": fig.data, "layout": layout}


def figure_html(fig: Spec, div_id: str) -> str:
    """The figure as a ``<div>`` and its ``Plotly.newPlot`` call; plotly.js is loaded once by
    the page, not per figure (it is 4.8 MB)."""
    html: str = pio.to_html(
        fig,
        validate=False,
        include_plotlyjs=False,
        full_html=False,
        div_id=div_id,
        config=PLOT_CONFIG,
        default_width="100%",
    )
    return html
