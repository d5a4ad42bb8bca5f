"""The "Alerts" dashboard: what the pager did, for the clinical lead.

Alerts by their latest transition (active, acknowledged, resolved) with the evidence the
pipeline stores, transitions over time, and time to acknowledge.

Time to acknowledge is ``acknowledged.time - firing.time`` of one ``alert_id``. InfluxQL cannot
compute it: ``alert_id`` is a field, InfluxQL has no joins, and ``elapsed()`` over a patient's
transitions cannot tell which gap ends in an acknowledgement. So it is computed where the
acknowledged transition is written: the panels read the field ``ack_latency_s`` (float,
seconds) on ``alerts`` points with ``state = acknowledged``, which the pipeline must add.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import table, timeseries
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as dashboard_models

from dashboards import thresholds
from dashboards.common import (
    DATASOURCE,
    DEFAULT_DATASOURCE_UID,
    STATE_COLOURS,
    WARD_FILTER,
    PanelBuilder,
    colour_by_value,
    colour_series_by_name,
    dashboard,
    datasource_variable,
    keep_rows_where,
    organize,
    table_panel,
    target,
    unit_override,
    ward_variable,
    with_panels,
)

UID = "detoxmon-alerts"
TITLE = "Alerts"

#: The field the pipeline must write on acknowledged transitions (seconds since firing).
ACK_LATENCY_FIELD = "ack_latency_s"

#: States an alert is in while it still needs someone.
ACTIVE_STATES: tuple[str, ...] = ("firing", "renotified", "escalated")

#: Evidence columns of an alert's latest transition, after the selector's ``transition_id``.
EVIDENCE_COLUMNS: tuple[str, ...] = (
    "alert_id",
    "state",
    "priority",
    "summary",
    "value",
    "threshold",
    "escalation_level",
)
#: Tags every latest-transition query groups by: one alert per patient and rule at a time.
ALERT_KEYS: tuple[str, ...] = ("ward", "patient_id", "rule_id")

LOG_COLUMNS: tuple[str, ...] = (
    "ward",
    "patient_id",
    "rule_id",
    "state",
    "priority",
    "summary",
    "value",
    "threshold",
    "escalation_level",
    "alert_id",
    "transition_id",
)


def latest_transitions_query() -> str:
    """Each alert's latest transition (one alert per patient and rule), with its evidence."""
    evidence = ", ".join(f'"{column}"' for column in EVIDENCE_COLUMNS)
    keys = ", ".join(f'"{key}"' for key in ALERT_KEYS)
    return (
        f'SELECT last("transition_id") AS "transition_id", {evidence} FROM "alerts" '  # noqa: S608
        f"WHERE {WARD_FILTER} AND $timeFilter GROUP BY {keys}"
    )


def transitions_over_time_query() -> str:
    """Transitions per interval by state."""
    return (
        'SELECT count("transition_id") AS "transitions" FROM "alerts" '  # noqa: S608 - constants
        f'WHERE {WARD_FILTER} AND $timeFilter GROUP BY time($__interval), "state" fill(0)'
    )


def ack_latency_query() -> str:
    """Time to acknowledge of each acknowledgement, by priority."""
    return (
        f'SELECT max("{ACK_LATENCY_FIELD}") AS "time to acknowledge" FROM "alerts" '  # noqa: S608
        f"WHERE \"state\" = 'acknowledged' AND {WARD_FILTER} AND $timeFilter "
        'GROUP BY time($__interval), "priority" fill(none)'
    )


def ack_latency_summary_query() -> str:
    """Count, mean, 90th percentile and longest time to acknowledge, by priority."""
    field = ACK_LATENCY_FIELD
    return (
        f'SELECT count("{field}") AS "Acknowledged", mean("{field}") AS "Mean", '  # noqa: S608
        f'percentile("{field}", 90) AS "90th percentile", max("{field}") AS "Longest" '
        f'FROM "alerts" WHERE "state" = \'acknowledged\' AND {WARD_FILTER} AND $timeFilter '
        'GROUP BY "priority"'
    )


def log_query() -> str:
    """Every transition in the range, newest first."""
    columns = ", ".join(f'"{column}"' for column in LOG_COLUMNS)
    return (
        f'SELECT {columns} FROM "alerts" WHERE {WARD_FILTER} AND $timeFilter '  # noqa: S608
        "ORDER BY time DESC LIMIT 1000"
    )


def _alert_table(title: str, description: str) -> table.Panel:
    return (
        table_panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .with_target(target(latest_transitions_query(), result_format="table"))
        .span(24)
        .height(8)
        .sort_by([common_builders.TableSortByFieldState().display_name("Time").desc(True)])
        .override_by_name("state", colour_by_value(STATE_COLOURS))
        .override_by_name("priority", colour_by_value(thresholds.PRIORITY_COLOURS))
    )


def active_panel() -> table.Panel:
    """Alerts whose latest transition is firing, renotified or escalated: nobody has them yet."""
    return _alert_table(
        "Active alerts",
        "Alerts whose latest transition is firing, renotified or escalated: not yet "
        "acknowledged. Time is the latest transition; value and threshold are its evidence.",
    ).transformations([keep_rows_where("state", ACTIVE_STATES)])


def acknowledged_panel() -> table.Panel:
    """Alerts someone has acknowledged that have not resolved."""
    return _alert_table(
        "Acknowledged alerts",
        "Alerts acknowledged and not yet resolved: escalation has stopped.",
    ).transformations([keep_rows_where("state", ("acknowledged",))])


def resolved_panel() -> table.Panel:
    """Alerts whose latest transition in the range is their resolution."""
    return _alert_table(
        "Resolved alerts",
        "Alerts that resolved in the time range, with the value that resolved them.",
    ).transformations([keep_rows_where("state", ("resolved",))])


def transitions_panel() -> timeseries.Panel:
    """Transitions per interval, stacked by state."""
    panel = (
        timeseries.Panel()
        .title("Transitions by state")
        .description("Alert transitions per interval, stacked by state.")
        .datasource(DATASOURCE)
        .with_target(target(transitions_over_time_query(), alias="$tag_state"))
        .span(12)
        .height(8)
        .draw_style(common.GraphDrawStyle.BARS)
        .fill_opacity(80)
        .stacking(common_builders.StackingConfig().mode(common.StackingMode.NORMAL))
        .unit("none")
    )
    return colour_series_by_name(panel, STATE_COLOURS)


def ack_latency_panel() -> timeseries.Panel:
    """Each acknowledgement's time to acknowledge, by priority."""
    panel = (
        timeseries.Panel()
        .title("Time to acknowledge")
        .description(
            "Seconds from firing to acknowledgement of each acknowledged alert, by priority "
            f"(the pipeline's {ACK_LATENCY_FIELD} field)."
        )
        .datasource(DATASOURCE)
        .with_target(target(ack_latency_query(), alias="$tag_priority"))
        .span(12)
        .height(8)
        .draw_style(common.GraphDrawStyle.POINTS)
        .point_size(8)
        .unit("s")
        .min(0)
    )
    return colour_series_by_name(panel, thresholds.PRIORITY_COLOURS)


def ack_latency_summary_panel() -> table.Panel:
    """Time to acknowledge by priority: how many, mean, 90th percentile, longest."""
    return (
        table_panel()
        .title("Time to acknowledge by priority")
        .description("Acknowledged alerts in the time range and how long they took, by priority.")
        .datasource(DATASOURCE)
        .with_target(target(ack_latency_summary_query(), result_format="table"))
        .span(24)
        .height(6)
        .transformations([organize(exclude=("Time",))])
        .override_by_name("priority", colour_by_value(thresholds.PRIORITY_COLOURS))
        .override_by_name("Mean", unit_override("s"))
        .override_by_name("90th percentile", unit_override("s"))
        .override_by_name("Longest", unit_override("s"))
    )


def log_panel() -> table.Panel:
    """Every transition, newest first: the audit trail."""
    return (
        table_panel()
        .title("All transitions")
        .description("Every alert transition in the time range, newest first.")
        .datasource(DATASOURCE)
        .with_target(target(log_query(), result_format="table"))
        .span(24)
        .height(10)
        .override_by_name("state", colour_by_value(STATE_COLOURS))
        .override_by_name("priority", colour_by_value(thresholds.PRIORITY_COLOURS))
    )


def build(datasource_uid: str = DEFAULT_DATASOURCE_UID) -> dashboard_models.Dashboard:
    """The dashboard model, ready for ``to_json``."""
    builder = (
        dashboard(TITLE, UID, "Alerts by state with their evidence, and time to acknowledge.")
        .time("now-24h", "now")
        .refresh("30s")
        .with_variable(datasource_variable(datasource_uid))
        .with_variable(ward_variable())
    )
    panels: list[PanelBuilder] = [
        active_panel(),
        acknowledged_panel(),
        resolved_panel(),
        transitions_panel(),
        ack_latency_panel(),
        ack_latency_summary_panel(),
        log_panel(),
    ]
    return with_panels(builder, panels).build()
