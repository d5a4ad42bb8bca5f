"""The "Patient vitals" dashboard: one patient's vital-sign trends and alert transitions.

The pulse threshold is read from the rule engine's ``PULSE_HIGH``, not written here, so the red
line a nurse sees is exactly where the pager fires.
"""

from __future__ import annotations

from dataclasses import dataclass

from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard as dashboard_builders
from grafana_foundation_sdk.builders import table, timeseries
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as dashboard_models

from agents.engine import PULSE_HIGH
from dashboards.influxql import DATASOURCE_TYPE, InfluxQLQueryBuilder

UID = "detoxmon-patient"
TITLE = "Patient vitals"
DATASOURCE_UID = "detoxmon-influxdb"
DATASOURCE = common.DataSourceRef(type_val=DATASOURCE_TYPE, uid=DATASOURCE_UID)

#: Grafana display unit for each UCUM unit the pipeline stores. Grafana has no mmHg or
#: per-minute unit, hence custom suffixes; an unknown UCUM unit fails the build (KeyError).
GRAFANA_UNITS: dict[str, str] = {
    "/min": "suffix:/min",
    "mm[Hg]": "suffix: mmHg",
    "Cel": "celsius",
    "%": "percent",
}

#: Restricts vitals and alerts to the selected patient. A regex, not ``= '$patient'``: some
#: Grafana versions regex-escape every variable value (``p.01`` becomes ``p\.01``), which only
#: a regex match still finds; the tag index answers either form.
PATIENT_FILTER = '"patient_id" =~ /^$patient$/'

WARD_VARIABLE_QUERY = 'SHOW TAG VALUES FROM "vitals" WITH KEY = "ward"'
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
    "alert_id",
)


@dataclass(frozen=True)
class Vital:
    """One time-series panel: which fields, how to reduce them per interval, which unit."""

    title: str
    fields: tuple[tuple[str, str], ...]  # (InfluxDB field, series name)
    ucum: str
    aggregate: str
    description: str

    def query(self) -> str:
        """InfluxQL for this panel, with Grafana's ``$timeFilter`` and ``$__interval`` macros."""
        columns = ", ".join(
            f'{self.aggregate}("{field}") AS "{name}"' for field, name in self.fields
        )
        return (
            f'SELECT {columns} FROM "vitals" WHERE {PATIENT_FILTER} AND $timeFilter '  # noqa: S608 - constants
            "GROUP BY time($__interval) fill(none)"
        )


def _number(value: float) -> str:
    return f"{value:g}"


#: Per interval, the pulse shows the reading on the alerting side of the rule (max for an
#: "above" rule), so a reading that paged is never averaged away below the red line.
HEART_RATE = Vital(
    title="Heart rate",
    fields=((PULSE_HIGH.vital, "Heart rate"),),
    ucum=PULSE_HIGH.unit,
    aggregate="max" if PULSE_HIGH.direction == "above" else "min",
    description=(
        f"Highest reading per interval. Red from {_number(PULSE_HIGH.threshold)}{PULSE_HIGH.unit}:"
        f" the {PULSE_HIGH.rule_id} alert ({PULSE_HIGH.priority} priority) fires at or above it"
        f" and resolves below {_number(PULSE_HIGH.threshold - PULSE_HIGH.hysteresis)}"
        f"{PULSE_HIGH.unit}."
    ),
)

OTHER_VITALS: tuple[Vital, ...] = (
    Vital(
        title="Blood pressure",
        fields=(("systolic_bp", "Systolic"), ("diastolic_bp", "Diastolic")),
        ucum="mm[Hg]",
        aggregate="mean",
        description="Mean systolic and diastolic pressure per interval.",
    ),
    Vital(
        title="Temperature",
        fields=(("temperature", "Temperature"),),
        ucum="Cel",
        aggregate="mean",
        description="Mean body temperature per interval.",
    ),
    Vital(
        title="SpO2",
        fields=(("spo2", "SpO2"),),
        ucum="%",
        aggregate="min",
        description="Lowest saturation per interval, so a desaturation is not averaged away.",
    ),
    Vital(
        title="Respiratory rate",
        fields=(("respiratory_rate", "Respiratory rate"),),
        ucum="/min",
        aggregate="mean",
        description="Mean respiratory rate per interval.",
    ),
)

VITALS: tuple[Vital, ...] = (HEART_RATE, *OTHER_VITALS)


def alerts_query() -> str:
    """InfluxQL for the patient's alert transitions, newest first."""
    columns = ", ".join(f'"{column}"' for column in ALERT_COLUMNS)
    return (
        f'SELECT {columns} FROM "alerts" WHERE {PATIENT_FILTER} AND $timeFilter '  # noqa: S608 - constants
        "ORDER BY time DESC LIMIT 500"
    )


def _vital_panel(panel_id: int, vital: Vital, *, width: int) -> timeseries.Panel:
    target = InfluxQLQueryBuilder(vital.query()).ref_id("A").datasource(DATASOURCE).alias("$col")
    return (
        timeseries.Panel()
        .id(panel_id)
        .title(vital.title)
        .description(vital.description)
        .datasource(DATASOURCE)
        .with_target(target)
        .unit(GRAFANA_UNITS[vital.ucum])
        .span(width)
        .height(8)
        .line_width(2)
        .show_points(common.VisibilityMode.AUTO)
        .span_nulls(True)
        .legend(
            common_builders.VizLegendOptions()
            .show_legend(True)
            .display_mode(common.LegendDisplayMode.LIST)
            .placement(common.LegendPlacement.BOTTOM)
            .calcs(["lastNotNull", "min", "max"])
        )
        .tooltip(common_builders.VizTooltipOptions().mode(common.TooltipDisplayMode.MULTI))
    )


def _heart_rate_panel(panel_id: int) -> timeseries.Panel:
    """The pulse panel with the alert threshold drawn as a red line and area."""
    return (
        _vital_panel(panel_id, HEART_RATE, width=24)
        .thresholds(
            dashboard_builders.ThresholdsConfig()
            .mode(dashboard_models.ThresholdsMode.ABSOLUTE)
            .steps(
                [
                    dashboard_models.Threshold(value=None, color="transparent"),
                    dashboard_models.Threshold(value=PULSE_HIGH.threshold, color="red"),
                ]
            )
        )
        .thresholds_style(
            common_builders.GraphThresholdsStyleConfig().mode(
                common.GraphThresholdsStyleMode.LINE_AND_AREA
            )
        )
        # Keep the red line in view even when the pulse is far below it.
        .axis_soft_min(40)
        .axis_soft_max(PULSE_HIGH.threshold + 20)
    )


def _colour_by_value(colours: dict[str, str]) -> list[dashboard_models.DynamicConfigValue]:
    """Colour a table column's text by its value (e.g. firing red, resolved green)."""
    mapping = dashboard_models.ValueMap(
        options={
            value: dashboard_models.ValueMappingResult(color=colour, index=index)
            for index, (value, colour) in enumerate(colours.items())
        }
    )
    return [
        dashboard_models.DynamicConfigValue(
            id_val="custom.cellOptions", value=common.TableColorTextCellOptions()
        ),
        dashboard_models.DynamicConfigValue(id_val="mappings", value=[mapping]),
    ]


def _alerts_panel(panel_id: int) -> table.Panel:
    target = (
        InfluxQLQueryBuilder(alerts_query())
        .ref_id("A")
        .datasource(DATASOURCE)
        .result_format("table")
    )
    return (
        table.Panel()
        .id(panel_id)
        .title("Alert transitions")
        .description(
            "Every firing and resolution for this patient in the time range, newest first."
        )
        .datasource(DATASOURCE)
        .with_target(target)
        .span(24)
        .height(9)
        .override_by_name("state", _colour_by_value({"firing": "red", "resolved": "green"}))
        .override_by_name(
            "priority",
            _colour_by_value({"high": "red", "medium": "orange", "low": "blue"}),
        )
    )


def _query_variable(name: str, label: str, query: str) -> dashboard_builders.QueryVariable:
    return (
        dashboard_builders.QueryVariable(name)
        .label(label)
        .datasource(DATASOURCE)
        .query(query)
        .definition(query)
        .refresh(dashboard_models.VariableRefresh.ON_DASHBOARD_LOAD)
        .sort(dashboard_models.VariableSort.NATURAL_ASC)
    )


def build() -> dashboard_models.Dashboard:
    """The dashboard model, ready for ``to_json``."""
    builder = (
        dashboard_builders.Dashboard(TITLE)
        .uid(UID)
        .description("Vital signs and alert transitions of one patient in supervised detox.")
        .tags(["detoxmon", "generated"])
        .readonly()
        .timezone("browser")
        .time("now-6h", "now")
        .refresh("30s")
        .tooltip(dashboard_models.DashboardCursorSync.CROSSHAIR)
        .with_variable(
            # Narrows the patient list; "All" matches every ward through the regex ".*".
            _query_variable("ward", "Ward", WARD_VARIABLE_QUERY).include_all(True).all_value(".*")
        )
        .with_variable(_query_variable("patient", "Patient", PATIENT_VARIABLE_QUERY))
        .with_panel(_heart_rate_panel(1))
    )
    for panel_id, vital in enumerate(OTHER_VITALS, start=2):
        builder = builder.with_panel(_vital_panel(panel_id, vital, width=12))
    return builder.with_panel(_alerts_panel(len(VITALS) + 1)).build()
