"""The "Ward overview" dashboard: the ward at a glance, one row per patient.

The patients table merges three InfluxQL queries grouped by patient (latest vitals, latest
scores, latest derived state) into one row per ``patient_id`` with Grafana's own
transformations, so each query stays simple enough for InfluxDB 1.x, 2.x (DBRP) and 3.x.
Colours come from ``dashboards.thresholds``: a vital is coloured where the engine's rule
fires, NEWS2 and CIWA-B by band, the highest alert priority by its IEC colour.
"""

from __future__ import annotations

from dataclasses import dataclass

from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import stat, table
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as dashboard_models

from dashboards import patient, thresholds
from dashboards.common import (
    DATASOURCE,
    DEFAULT_DATASOURCE_UID,
    GRAFANA_UNITS,
    WARD_FILTER,
    PanelBuilder,
    colour_by_steps,
    colour_by_value,
    dashboard,
    datasource_variable,
    merge,
    organize,
    table_panel,
    target,
    thresholds_builder,
    unit_override,
    ward_variable,
    with_panels,
)
from schemas.vitals import VITAL_UNITS

UID = "detoxmon-ward"
TITLE = "Ward overview"

#: The key every query groups by; rows of the three queries merge on it (and on ``ward``).
KEYS: tuple[str, ...] = ("ward", "patient_id")
_GROUP_BY = ", ".join(f'"{key}"' for key in KEYS)


@dataclass(frozen=True)
class Column:
    """One column of the patients table: an InfluxDB field and its display name."""

    field: str
    name: str


#: Latest reading of each vital, each by its own ``last()`` (a partial observation from a
#: telehealth app must not blank the other vitals).
VITAL_COLUMNS: tuple[Column, ...] = (
    Column("heart_rate", "Pulse"),
    Column("systolic_bp", "Systolic"),
    Column("diastolic_bp", "Diastolic"),
    Column("temperature", "Temperature"),
    Column("spo2", "SpO2"),
    Column("respiratory_rate", "RR"),
)
SCORE_COLUMNS: tuple[Column, ...] = (
    Column("news2", "NEWS2"),
    Column("news2_band", "NEWS2 band"),
    Column("ciwa_b", "CIWA-B"),
    Column("ciwa_b_band", "CIWA-B band"),
)
#: Derived state, all from the patient's latest snapshot: ``active_alerts`` is written on
#: every snapshot, and the other columns are taken from the same point (a field absent from
#: it, such as ``highest_priority`` with no alert active, stays empty instead of showing an
#: older snapshot's value).
STATE_SELECTOR = Column("active_alerts", "Active alerts")
STATE_COLUMNS: tuple[Column, ...] = (
    Column("highest_priority", "Highest priority"),
    Column("hours_since_last_dose", "Hours since dose"),
    Column("phase", "Phase"),
    Column("in_peak_window", "In peak window"),
)


def _lasts(columns: tuple[Column, ...]) -> str:
    return ", ".join(f'last("{c.field}") AS "{c.name}"' for c in columns)


def vitals_query() -> str:
    """Latest value of each vital per patient."""
    return (
        f'SELECT {_lasts(VITAL_COLUMNS)} FROM "vitals" '  # noqa: S608 - constants
        f"WHERE {WARD_FILTER} AND $timeFilter GROUP BY {_GROUP_BY}"
    )


def scores_query() -> str:
    """Latest NEWS2 and CIWA-B (with bands) per patient."""
    return (
        f'SELECT {_lasts(SCORE_COLUMNS)} FROM "scores" '  # noqa: S608 - constants
        f"WHERE {WARD_FILTER} AND $timeFilter GROUP BY {_GROUP_BY}"
    )


def state_query() -> str:
    """Alerts, dose clock and phase from each patient's latest snapshot."""
    others = ", ".join(f'"{c.field}" AS "{c.name}"' for c in STATE_COLUMNS)
    return (
        f'SELECT last("{STATE_SELECTOR.field}") AS "{STATE_SELECTOR.name}", {others} '  # noqa: S608
        f'FROM "patient_state" WHERE {WARD_FILTER} AND $timeFilter GROUP BY {_GROUP_BY}'
    )


#: Query letter -> (query, the columns it adds after the keys).
QUERIES: dict[str, tuple[str, tuple[Column, ...]]] = {
    "A": (vitals_query(), VITAL_COLUMNS),
    "B": (scores_query(), SCORE_COLUMNS),
    "C": (state_query(), (STATE_SELECTOR, *STATE_COLUMNS)),
}

#: Column order of the merged table.
COLUMN_ORDER: tuple[str, ...] = (
    *KEYS,
    *(c.name for c in VITAL_COLUMNS),
    *(c.name for c in SCORE_COLUMNS),
    *(c.name for c in STATE_COLUMNS[1:]),
    STATE_SELECTOR.name,
    STATE_COLUMNS[0].name,
)

PATIENT_LINK = (
    f"/d/{patient.UID}?var-datasource=${{datasource}}&var-ward=${{__data.fields.ward}}"
    "&var-patient=${__value.raw}&${__url_time_range}"
)


def _vital_properties(column: Column) -> list[dashboard_models.DynamicConfigValue]:
    steps = thresholds.measure_steps(column.field)
    return colour_by_steps(steps, unit=GRAFANA_UNITS[VITAL_UNITS[column.field]])


def patients_panel() -> table.Panel:
    """One row per patient: latest vitals, scores, dose clock, phase and alerts."""
    panel = (
        table_panel()
        .title("Patients")
        .description(
            "One row per patient with data in the time range: the latest reading of each "
            "vital, coloured where the engine's alert rule fires; NEWS2 and CIWA-B coloured "
            "by band; hours since the last dose and the withdrawal phase; active alerts and "
            "their highest priority. Click a patient for the patient dashboard."
        )
        .datasource(DATASOURCE)
        .span(24)
        .height(14)
        .transformations(
            [
                # The time column differs per query (selectors return their point's time):
                # drop it first so the merge joins rows on ward and patient_id alone.
                organize(exclude=("Time",)),
                merge(),
                organize(order=COLUMN_ORDER),
            ]
        )
        .sort_by([common_builders.TableSortByFieldState().display_name("NEWS2").desc(True)])
        .override_by_name(
            "patient_id",
            [
                dashboard_models.DynamicConfigValue(
                    id_val="links",
                    value=[{"title": "Patient dashboard", "url": PATIENT_LINK}],
                ),
                dashboard_models.DynamicConfigValue(id_val="displayName", value="Patient"),
            ],
        )
    )
    for ref_id, (query, _columns) in QUERIES.items():
        panel = panel.with_target(target(query, ref_id, result_format="table"))
    for column in VITAL_COLUMNS:
        panel = panel.override_by_name(column.name, _vital_properties(column))
    news2 = thresholds.news2_bands()
    ciwa_b = thresholds.ciwa_b_bands()
    return (
        panel.override_by_name(
            "NEWS2", colour_by_steps(thresholds.measure_steps("news2"), background=True)
        )
        .override_by_name("NEWS2 band", colour_by_value(thresholds.band_colours(news2)))
        .override_by_name("CIWA-B", colour_by_steps(thresholds.measure_steps("ciwa_b")))
        .override_by_name("CIWA-B band", colour_by_value(thresholds.band_colours(ciwa_b)))
        .override_by_name("Highest priority", colour_by_value(thresholds.PRIORITY_COLOURS))
        .override_by_name("Phase", colour_by_value(patient.PHASE_COLOURS))
        .override_by_name("In peak window", colour_by_value(patient.PEAK_WINDOW_COLOURS))
        .override_by_name(
            "Hours since dose",
            [*unit_override("h"), dashboard_models.DynamicConfigValue(id_val="decimals", value=1)],
        )
    )


def high_news2_query() -> str:
    """Patients whose latest NEWS2 is in the high band (the ward alert rule's figure)."""
    high = thresholds.upward_limit("news2", "high").influxql("news2")
    return (
        'SELECT count("news2") AS "Patients" FROM ('  # noqa: S608 - constants
        f'SELECT last("news2") AS "news2" FROM "scores" WHERE {WARD_FILTER} AND $timeFilter '
        f"GROUP BY {_GROUP_BY}) WHERE {high}"
    )


def active_alerts_query() -> str:
    """Active alerts on the ward: the sum of each patient's latest ``active_alerts``."""
    return (
        'SELECT sum("active_alerts") AS "Alerts" FROM ('  # noqa: S608 - constants
        f'SELECT last("active_alerts") AS "active_alerts" FROM "patient_state" '
        f"WHERE {WARD_FILTER} AND $timeFilter GROUP BY {_GROUP_BY})"
    )


def _count_stat(title: str, description: str, query: str, colour: str) -> stat.Panel:
    return (
        stat.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .with_target(target(query))
        .span(12)
        .height(4)
        .no_value("0")
        .color_mode(common.BigValueColorMode.BACKGROUND)
        .graph_mode(common.BigValueGraphMode.NONE)
        .reduce_options(common_builders.ReduceDataOptions().calcs(["lastNotNull"]))
        .thresholds(
            thresholds_builder(
                [
                    dashboard_models.Threshold(value=None, color=thresholds.NORMAL_COLOUR),
                    dashboard_models.Threshold(value=1, color=colour),
                ]
            )
        )
    )


def high_news2_panel() -> stat.Panel:
    """How many patients are in the NEWS2 high band now."""
    return _count_stat(
        "Patients in the NEWS2 high band",
        "Patients whose latest NEWS2 is in the high band (emergency response). The ward "
        "alert rule pages when several are.",
        high_news2_query(),
        thresholds.PRIORITY_COLOURS["high"],
    )


def active_alerts_panel() -> stat.Panel:
    """How many alerts are active on the ward now."""
    return _count_stat(
        "Active alerts",
        "Alerts not yet resolved, summed over the patients' latest snapshots.",
        active_alerts_query(),
        thresholds.PRIORITY_COLOURS["medium"],
    )


def build(datasource_uid: str = DEFAULT_DATASOURCE_UID) -> dashboard_models.Dashboard:
    """The dashboard model, ready for ``to_json``."""
    builder = (
        dashboard(TITLE, UID, "Every patient of a ward: latest vitals, scores, phase and alerts.")
        .time("now-24h", "now")
        .refresh("30s")
        .with_variable(datasource_variable(datasource_uid))
        .with_variable(ward_variable())
    )
    panels: list[PanelBuilder] = [high_news2_panel(), active_alerts_panel(), patients_panel()]
    return with_panels(builder, panels).build()
