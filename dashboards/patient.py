"""The "Patient vitals" dashboard: one patient in depth, for the nurse at the bedside.

Each vital with the engine's threshold bands (``dashboards.thresholds``: the coloured region
starts where the pager fires), NEWS2 and CIWA-B over time coloured by band, the withdrawal
phase and the expected peak-risk window, and the alert transitions. Doses, alert transitions
and clinical events are annotations, so every graph shows when they happened.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard as dashboard_builders
from grafana_foundation_sdk.builders import statetimeline, table, timeseries
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as dashboard_models

from dashboards import thresholds
from dashboards.common import (
    DATASOURCE,
    DEFAULT_DATASOURCE_UID,
    GRAFANA_UNITS,
    STATE_COLOURS,
    UNIT_TEXT,
    PanelBuilder,
    colour_by_value,
    dashboard,
    datasource_variable,
    query_variable,
    table_panel,
    target,
    thresholds_builder,
    thresholds_model,
    value_colours,
    ward_variable,
    with_panels,
)
from dashboards.influxql import InfluxQLQueryBuilder
from schemas.vitals import VITAL_UNITS

UID = "detoxmon-patient"
TITLE = "Patient vitals"

#: Restricts every query to the selected patient. A regex, not ``= '$patient'``: Grafana
#: regex-escapes variable values in InfluxQL (``p.01`` becomes ``p\.01``), which only a regex
#: match still finds; the tag index answers either form.
PATIENT_FILTER = '"patient_id" =~ /^$patient$/'

PATIENT_VARIABLE_QUERY = (
    'SHOW TAG VALUES FROM "vitals" WITH KEY = "patient_id" WHERE "ward" =~ /^$ward$/'
)

ALERT_COLUMNS: tuple[str, ...] = (
    "state",
    "priority",
    "rule_id",
    "summary",
    "value",
    "threshold",
    "escalation_level",
    "alert_id",
)

#: Colour of each withdrawal phase on the phase timeline (clinical.md section 11.2).
PHASE_COLOURS: dict[str, str] = {
    "early": "blue",
    "acute": "orange",
    "protracted": "purple",
    "unknown": "text",
}
PEAK_WINDOW_COLOURS: dict[str, str] = {"true": "red", "false": "green"}

#: How far past a rule's threshold a vital's axis reaches at least (a ratio, not a threshold).
SOFT_AXIS_MARGIN = 1.15


#: How a rule's comparison reads in a panel description.
OP_WORDS: dict[str, str] = {">=": "at or above", ">": "above", "<=": "at or below", "<": "below"}


def aggregates_for(measure: str) -> tuple[str, ...]:
    """Per interval, the reductions that keep every reading a rule fired on visible.

    ``max`` for a rule firing above a threshold, ``min`` for one firing below (both for a
    two-sided vital), so a reading that paged is never averaged away; ``mean`` when no rule
    watches the vital.
    """
    directions = {limit.upward for limit in thresholds.limits_for(measure)}
    chosen = (("min",) if False in directions else ()) + (("max",) if True in directions else ())
    return chosen or ("mean",)


@dataclass(frozen=True)
class Vital:
    """One time-series panel: which fields, how each is reduced per interval, which unit."""

    title: str
    fields: tuple[tuple[str, str], ...]  # (InfluxDB field, series name)
    what: str

    @property
    def ucum(self) -> str:
        """The UCUM unit of the panel's fields (one unit per panel)."""
        units = {VITAL_UNITS[field] for field, _ in self.fields}
        [unit] = units
        return unit

    def columns(self) -> list[tuple[str, str, str]]:
        """``(function, field, series name)`` of every column; two-sided fields give two."""
        columns = []
        for field, name in self.fields:
            functions = aggregates_for(field)
            for function in functions:
                label = name if len(functions) == 1 else f"{name} {function}"
                columns.append((function, field, label))
        return columns

    def series(self) -> list[str]:
        """The series names the panel shows."""
        return [label for _, _, label in self.columns()]

    def query(self) -> str:
        """InfluxQL for this panel, with Grafana's ``$timeFilter`` and ``$__interval`` macros."""
        selected = ", ".join(
            f'{function}("{field}") AS "{label}"' for function, field, label in self.columns()
        )
        return (
            f'SELECT {selected} FROM "vitals" WHERE {PATIENT_FILTER} AND $timeFilter '  # noqa: S608 - constants
            "GROUP BY time($__interval) fill(none)"
        )

    @property
    def description(self) -> str:
        """What the panel shows and where its bands come from, from the rules themselves."""
        reductions = sorted({function for function, _, _ in self.columns()})
        parts = [f"{self.what} ({' and '.join(reductions)} per interval)."]
        for field, _ in self.fields:
            for limit in thresholds.limits_for(field):
                unit = UNIT_TEXT[limit.unit]
                parts.append(
                    f"{limit.rule_id} ({limit.priority} priority) fires "
                    f"{OP_WORDS[limit.op]} {limit.threshold:g}{unit} and resolves past "
                    f"{limit.resolves_past:g}{unit}."
                )
        if len(parts) == 1:
            parts.append("No alert rule watches this vital, so no band is drawn.")
        return " ".join(parts)


def _vital(title: str, fields: tuple[tuple[str, str], ...], what: str) -> Vital:
    return Vital(title=title, fields=fields, what=what)


HEART_RATE = _vital("Heart rate", (("heart_rate", "Heart rate"),), "Pulse")
OTHER_VITALS: tuple[Vital, ...] = (
    _vital(
        "Blood pressure",
        (("systolic_bp", "Systolic"), ("diastolic_bp", "Diastolic")),
        "Systolic and diastolic pressure",
    ),
    _vital("Temperature", (("temperature", "Temperature"),), "Body temperature"),
    _vital("SpO2", (("spo2", "SpO2"),), "Oxygen saturation"),
    _vital("Respiratory rate", (("respiratory_rate", "Respiratory rate"),), "Breaths per minute"),
)
VITALS: tuple[Vital, ...] = (HEART_RATE, *OTHER_VITALS)

NEWS2_QUERY = (
    'SELECT max("news2") AS "NEWS2" FROM "scores" '  # noqa: S608 - constants
    f"WHERE {PATIENT_FILTER} AND $timeFilter GROUP BY time($__interval) fill(none)"
)
CIWA_B_QUERY = (
    'SELECT max("ciwa_b") AS "CIWA-B" FROM "scores" '  # noqa: S608 - constants
    f"WHERE {PATIENT_FILTER} AND $timeFilter GROUP BY time($__interval) fill(none)"
)
PHASE_QUERY = (
    'SELECT last("phase") AS "Phase", last("in_peak_window") AS "Peak-risk window" '  # noqa: S608
    f'FROM "patient_state" WHERE {PATIENT_FILTER} AND $timeFilter '
    "GROUP BY time($__interval) fill(previous)"
)
DOSE_CLOCK_QUERY = (
    'SELECT last("hours_since_last_dose") AS "Hours since last dose", '  # noqa: S608 - constants
    'last("peak_window_start_h") AS "Peak-risk window opens", '
    'last("peak_window_end_h") AS "Peak-risk window closes" '
    f'FROM "patient_state" WHERE {PATIENT_FILTER} AND $timeFilter '
    "GROUP BY time($__interval) fill(none)"
)


def alerts_query() -> str:
    """InfluxQL for the patient's alert transitions, newest first."""
    columns = ", ".join(f'"{column}"' for column in ALERT_COLUMNS)
    return (
        f'SELECT {columns} FROM "alerts" WHERE {PATIENT_FILTER} AND $timeFilter '  # noqa: S608 - constants
        "ORDER BY time DESC LIMIT 500"
    )


@dataclass(frozen=True)
class Annotation:
    """An InfluxQL annotation query: its result columns become an event's text and tags."""

    name: str
    colour: str
    query: str
    text: str
    tags: tuple[str, ...]


ANNOTATIONS: tuple[Annotation, ...] = (
    Annotation(
        name="Doses",
        colour="blue",
        query=(
            'SELECT "diazepam_equivalent_mg", "dose_mg", "drug", "route", "taper_step" '  # noqa: S608
            f'FROM "doses" WHERE {PATIENT_FILTER} AND $timeFilter'
        ),
        text="dose_mg",
        tags=("drug", "route"),
    ),
    Annotation(
        name="Alert transitions",
        colour="red",
        query=(
            'SELECT "summary", "state", "priority", "rule_id" FROM "alerts" '  # noqa: S608
            f"WHERE {PATIENT_FILTER} AND $timeFilter"
        ),
        text="summary",
        tags=("state", "priority", "rule_id"),
    ),
    Annotation(
        name="Clinical events",
        colour="purple",
        query=(
            'SELECT "severity", "event_type" FROM "clinical_events" '  # noqa: S608
            f"WHERE {PATIENT_FILTER} AND $timeFilter"
        ),
        text="event_type",
        tags=("severity",),
    ),
)


def _legend() -> common_builders.VizLegendOptions:
    return (
        common_builders.VizLegendOptions()
        .show_legend(True)
        .display_mode(common.LegendDisplayMode.LIST)
        .placement(common.LegendPlacement.BOTTOM)
        .calcs(["lastNotNull", "min", "max"])
    )


def _graph(title: str, description: str, query: str, unit: str) -> timeseries.Panel:
    """A time series of one patient, with the shared legend and tooltip."""
    return (
        timeseries.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .with_target(target(query, alias="$col"))
        .unit(unit)
        .height(8)
        .line_width(2)
        .show_points(common.VisibilityMode.AUTO)
        .span_nulls(True)
        .legend(_legend())
        .tooltip(common_builders.VizTooltipOptions().mode(common.TooltipDisplayMode.MULTI))
    )


def _shade(panel: timeseries.Panel, steps: list[dashboard_models.Threshold]) -> timeseries.Panel:
    """Draw the steps as a line and shaded area, if there is more than the base step."""
    panel = panel.thresholds(thresholds_builder(steps))
    if len(steps) > 1:
        panel = panel.thresholds_style(
            common_builders.GraphThresholdsStyleConfig().mode(
                common.GraphThresholdsStyleMode.LINE_AND_AREA
            )
        )
    return panel


def vital_panel(vital: Vital, *, width: int) -> timeseries.Panel:
    """A vital with the engine's threshold bands: per field, so systolic and diastolic differ."""
    panel = _graph(vital.title, vital.description, vital.query(), GRAFANA_UNITS[vital.ucum]).span(
        width
    )
    if len(vital.fields) == 1:
        steps = thresholds.measure_steps(vital.fields[0][0], normal=thresholds.NO_COLOUR)
        panel = _shade(panel, steps)
        # Keep the band in view even when the reading is far from it.
        limits = thresholds.limits_for(vital.fields[0][0])
        above = [limit.threshold for limit in limits if limit.upward]
        below = [limit.threshold for limit in limits if not limit.upward]
        if above:
            panel = panel.axis_soft_max(max(above) * SOFT_AXIS_MARGIN)
        if below:
            panel = panel.axis_soft_min(min(below) / SOFT_AXIS_MARGIN)
        return panel
    for field, name in vital.fields:
        steps = thresholds.measure_steps(field, normal=thresholds.NO_COLOUR)
        if len(steps) > 1:
            panel = panel.override_by_regexp(
                f"^{re.escape(name)}( (min|max))?$",
                [
                    dashboard_models.DynamicConfigValue(
                        id_val="thresholds", value=thresholds_model(steps)
                    ),
                    dashboard_models.DynamicConfigValue(
                        id_val="custom.thresholdsStyle",
                        value=common.GraphThresholdsStyleConfig(
                            mode=common.GraphThresholdsStyleMode.LINE_AND_AREA
                        ),
                    ),
                ],
            )
    return panel


def heart_rate_panel() -> timeseries.Panel:
    """The pulse, full width: the first vital a nurse looks at in withdrawal."""
    return vital_panel(HEART_RATE, width=24)


def news2_panel() -> timeseries.Panel:
    """NEWS2 over time, shaded by clinical-risk band."""
    panel = _graph(
        "NEWS2",
        "Highest NEWS2 aggregate per interval. Orange from the medium band, red from the high "
        "band (clinical.md section 2.2).",
        NEWS2_QUERY,
        "none",
    ).span(12)
    return _shade(
        panel.line_interpolation(common.LineInterpolation.STEP_AFTER).min(0),
        thresholds.measure_steps("news2", normal=thresholds.NO_COLOUR),
    )


def ciwa_b_panel() -> timeseries.Panel:
    """CIWA-B over time, shaded by severity band."""
    panel = _graph(
        "CIWA-B",
        "Highest CIWA-B total per interval. Orange from the moderate band, red from severe "
        "(bands of the contract, schemas/assessments.py).",
        CIWA_B_QUERY,
        "none",
    ).span(12)
    return _shade(
        panel.line_interpolation(common.LineInterpolation.STEP_AFTER).min(0),
        thresholds.measure_steps("ciwa_b", normal=thresholds.NO_COLOUR),
    )


def phase_panel() -> statetimeline.Panel:
    """Withdrawal phase and whether the patient is inside the expected peak-risk window."""
    return (
        statetimeline.Panel()
        .title("Phase and peak-risk window")
        .description(
            "Withdrawal phase and whether the patient is inside the expected peak-risk window "
            "(clinical.md section 11.2), as the rule engine derives them from the last dose."
        )
        .datasource(DATASOURCE)
        .with_target(target(PHASE_QUERY, alias="$col"))
        .span(24)
        .height(5)
        .show_value(common.VisibilityMode.AUTO)
        .merge_values(True)
        .row_height(0.8)
        .mappings([value_colours({**PHASE_COLOURS, **PEAK_WINDOW_COLOURS})])
    )


def dose_clock_panel() -> timeseries.Panel:
    """Hours since the last dose between the opening and closing of the peak-risk window."""
    return (
        _graph(
            "Hours since last dose",
            "Hours since the last recorded dose, with the expected peak-risk window's opening "
            "and closing as lines: while the first lies between the other two the patient is "
            "in the window.",
            DOSE_CLOCK_QUERY,
            "h",
        )
        .span(24)
        .height(6)
        .min(0)
    )


def alerts_panel() -> table.Panel:
    """The patient's alert transitions with their evidence, newest first."""
    return (
        table_panel()
        .title("Alert transitions")
        .description(
            "Every transition of this patient's alerts in the time range, newest first, with "
            "the value and threshold behind it."
        )
        .datasource(DATASOURCE)
        .with_target(target(alerts_query(), result_format="table"))
        .span(24)
        .height(9)
        .override_by_name("state", colour_by_value(STATE_COLOURS))
        .override_by_name("priority", colour_by_value(thresholds.PRIORITY_COLOURS))
    )


def annotation(item: Annotation) -> dashboard_builders.AnnotationQuery:
    """An InfluxQL annotation query on the dashboard's datasource."""
    return (
        dashboard_builders.AnnotationQuery()
        .name(item.name)
        .datasource(DATASOURCE)
        .enable(True)
        .icon_color(item.colour)
        .target(
            InfluxQLQueryBuilder(item.query)
            .ref_id("Anno")
            .datasource(DATASOURCE)
            .result_format("table")
            .annotation_columns(text=item.text, tags=item.tags)
        )
    )


def build(datasource_uid: str = DEFAULT_DATASOURCE_UID) -> dashboard_models.Dashboard:
    """The dashboard model, ready for ``to_json``."""
    builder = (
        dashboard(TITLE, UID, "Vital signs, scores, withdrawal phase and alerts of one patient.")
        .time("now-6h", "now")
        .refresh("30s")
        .with_variable(datasource_variable(datasource_uid))
        .with_variable(ward_variable())
        .with_variable(query_variable("patient", "Patient", PATIENT_VARIABLE_QUERY))
    )
    for item in ANNOTATIONS:
        builder = builder.annotation(annotation(item))
    panels: list[PanelBuilder] = [
        heart_rate_panel(),
        *(vital_panel(vital, width=12) for vital in OTHER_VITALS),
        news2_panel(),
        ciwa_b_panel(),
        phase_panel(),
        dose_clock_panel(),
        alerts_panel(),
    ]
    return with_panels(builder, panels).build()
