"""The "Pipeline health" dashboard: what the engineer on call reads.

Heartbeats, throughput, consumer lag and sink latency from the workers' ``pipeline_health``
points (``agents/health.py``), dead letters by reason and path, and the pager's delivery
audit. The dead-letter figure is coloured at the surge rule's threshold
(``dashboards.alerting``), so the panel turns red when the engineer is paged.
"""

from __future__ import annotations

import math

from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import stat, table, timeseries
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as dashboard_models

from dashboards import alerting, thresholds
from dashboards.common import (
    DATASOURCE,
    DEFAULT_DATASOURCE_UID,
    PanelBuilder,
    dashboard,
    datasource_variable,
    organize,
    query_variable,
    table_panel,
    target,
    thresholds_builder,
    unit_override,
    with_panels,
)

UID = "detoxmon-pipeline"
TITLE = "Pipeline health"

WORKER_FILTER = '"worker" =~ /^$worker$/'
WORKER_VARIABLE_QUERY = 'SHOW TAG VALUES FROM "pipeline_health" WITH KEY = "worker"'

#: Shortest interval of the rate panels: at least a few heartbeats (every 10 s) per bucket.
RATE_MIN_INTERVAL = "30s"


def last_heartbeat_query() -> str:
    """Each worker's latest heartbeat, with the lag and counter it reported then."""
    return (
        'SELECT last("heartbeat") AS "heartbeat", "consumer_lag", "points_written_total" '  # noqa: S608 - constants
        f'FROM "pipeline_health" WHERE {WORKER_FILTER} AND $timeFilter GROUP BY "worker"'
    )


def heartbeats_query() -> str:
    """Heartbeats per interval and worker; a gap is a worker that stopped beating."""
    return (
        'SELECT count("heartbeat") AS "heartbeats" FROM "pipeline_health" '  # noqa: S608 - constants
        f'WHERE {WORKER_FILTER} AND $timeFilter GROUP BY time($__interval), "worker" fill(0)'
    )


def points_written_query() -> str:
    """Points written to InfluxDB per second, from each worker's running total."""
    return (
        'SELECT non_negative_derivative(max("points_written_total"), 1s) AS "points/s" '  # noqa: S608 - constants
        f'FROM "pipeline_health" WHERE {WORKER_FILTER} AND $timeFilter '
        'GROUP BY time($__interval), "worker" fill(none)'
    )


def messages_in_query() -> str:
    """Messages consumed per second, per topic and worker, from the running totals."""
    return (
        'SELECT non_negative_derivative(max("messages_in_total"), 1s) AS "messages/s" '  # noqa: S608 - constants
        f'FROM "pipeline_health" WHERE {WORKER_FILTER} AND $timeFilter '
        'GROUP BY time($__interval), "worker", "topic" fill(none)'
    )


def consumer_lag_query() -> str:
    """Messages behind the log end, per worker."""
    return (
        'SELECT max("consumer_lag") AS "lag" FROM "pipeline_health" '  # noqa: S608 - constants
        f'WHERE {WORKER_FILTER} AND $timeFilter GROUP BY time($__interval), "worker" fill(none)'
    )


def sink_latency_query() -> str:
    """Mean and worst time from event to InfluxDB write, per worker."""
    return (
        'SELECT mean("sink_latency_ms") AS "mean", max("sink_latency_max_ms") AS "max" '  # noqa: S608 - constants
        f'FROM "pipeline_health" WHERE {WORKER_FILTER} AND $timeFilter '
        'GROUP BY time($__interval), "worker" fill(none)'
    )


def deadletters_by_reason_query() -> str:
    """Dead letters per interval by reason."""
    return (
        'SELECT sum("count") AS "dead letters" FROM "deadletters" '
        'WHERE $timeFilter GROUP BY time($__interval), "reason" fill(0)'
    )


def deadletters_table_query() -> str:
    """Dead letters in the range by reason and path."""
    return (
        'SELECT sum("count") AS "Dead letters" FROM "deadletters" '
        'WHERE $timeFilter GROUP BY "reason", "path"'
    )


def deadletters_window_query() -> str:
    """Dead letters in the panel's window (the surge rule's window)."""
    return alerting.deadletter_query()


def pager_outcomes_query() -> str:
    """Audit records (attempts and acknowledgements) per interval by outcome.

    Counted on ``alert_id``, which every record has (acknowledgements have no transition).
    """
    return (
        'SELECT count("alert_id") AS "records" FROM "pager_audit" '
        'WHERE $timeFilter GROUP BY time($__interval), "outcome" fill(0)'
    )


def pager_table_query() -> str:
    """Attempts, latency and retries by channel and outcome."""
    return (
        'SELECT count("alert_id") AS "Records", mean("latency_ms") AS "Mean latency", '
        'max("latency_ms") AS "Longest", max("attempt") AS "Most attempts" FROM "pager_audit" '
        'WHERE $timeFilter GROUP BY "channel", "outcome"'
    )


def pager_latency_query() -> str:
    """95th percentile of delivery latency per interval and channel."""
    return (
        'SELECT percentile("latency_ms", 95) AS "p95" FROM "pager_audit" '
        'WHERE $timeFilter GROUP BY time($__interval), "channel" fill(none)'
    )


def _graph(title: str, description: str, query: str, alias: str, unit: str) -> timeseries.Panel:
    return (
        timeseries.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .with_target(target(query, alias=alias))
        .unit(unit)
        .span(12)
        .height(8)
        .line_width(1)
        .show_points(common.VisibilityMode.NEVER)
        .legend(
            common_builders.VizLegendOptions()
            .show_legend(True)
            .display_mode(common.LegendDisplayMode.LIST)
            .placement(common.LegendPlacement.BOTTOM)
        )
        .tooltip(common_builders.VizTooltipOptions().mode(common.TooltipDisplayMode.MULTI))
    )


def _bars(panel: timeseries.Panel) -> timeseries.Panel:
    return (
        panel.draw_style(common.GraphDrawStyle.BARS)
        .fill_opacity(80)
        .stacking(common_builders.StackingConfig().mode(common.StackingMode.NORMAL))
    )


def last_heartbeat_panel() -> table.Panel:
    """When each worker last beat, how far behind it was, and what it had written."""
    return (
        table_panel()
        .title("Last heartbeat by worker")
        .description(
            "Each worker's latest heartbeat (every 10 s by default) and the consumer lag and "
            "points written it reported then. The dead-man's switch pages when no worker "
            f"has beaten for {alerting.HEARTBEAT_SILENCE_S // 60} minutes."
        )
        .datasource(DATASOURCE)
        .with_target(target(last_heartbeat_query(), result_format="table"))
        .span(12)
        .height(8)
        .transformations([organize(exclude=("heartbeat",), rename={"Time": "Last heartbeat"})])
        .override_by_name("Last heartbeat", unit_override("dateTimeFromNow"))
    )


def heartbeats_panel() -> timeseries.Panel:
    """Heartbeats per interval by worker."""
    return _bars(
        _graph(
            "Heartbeats",
            "Heartbeats per interval by worker; a worker that stops beating drops to zero.",
            heartbeats_query(),
            "$tag_worker",
            "none",
        ).interval("1m")
    )


def throughput_panel() -> timeseries.Panel:
    """Points written per second by worker."""
    return _graph(
        "Throughput: points written",
        "Points written to InfluxDB per second by each worker (from its running total).",
        points_written_query(),
        "$tag_worker",
        "short",
    ).interval(RATE_MIN_INTERVAL)


def messages_in_panel() -> timeseries.Panel:
    """Messages consumed per second by topic and worker."""
    return _graph(
        "Throughput: messages in",
        "Messages consumed per second, by topic and worker.",
        messages_in_query(),
        "$tag_topic ($tag_worker)",
        "short",
    ).interval(RATE_MIN_INTERVAL)


def consumer_lag_panel() -> timeseries.Panel:
    """Consumer lag by worker."""
    return _graph(
        "Consumer lag",
        "Messages behind the end of the log, summed over each worker's partitions.",
        consumer_lag_query(),
        "$tag_worker",
        "short",
    ).min(0)


def sink_latency_panel() -> timeseries.Panel:
    """Mean and worst sink latency by worker."""
    return _graph(
        "Sink latency",
        "Time from an event's arrival to its InfluxDB write: mean and worst per interval.",
        sink_latency_query(),
        "$tag_worker $col",
        "ms",
    ).min(0)


def deadletters_window_panel() -> stat.Panel:
    """Dead letters in the surge rule's window, red where the rule fires."""
    fires_from = math.floor(alerting.DEADLETTER_SURGE_COUNT) + 1  # counts are whole numbers
    return (
        stat.Panel()
        .title(f"Dead letters, last {alerting.DEADLETTER_WINDOW_S // 60} minutes")
        .description(
            "Dead letters of every reason in the surge rule's window; red where the rule pages "
            f"(more than {alerting.DEADLETTER_SURGE_COUNT})."
        )
        .datasource(DATASOURCE)
        .with_target(target(deadletters_window_query()))
        .time_from(f"{alerting.DEADLETTER_WINDOW_S // 60}m")
        .hide_time_override(False)
        .span(6)
        .height(8)
        .no_value("0")
        .color_mode(common.BigValueColorMode.BACKGROUND)
        .graph_mode(common.BigValueGraphMode.NONE)
        .reduce_options(common_builders.ReduceDataOptions().calcs(["sum"]))
        .thresholds(
            thresholds_builder(
                [
                    dashboard_models.Threshold(value=None, color=thresholds.NORMAL_COLOUR),
                    dashboard_models.Threshold(
                        value=fires_from, color=thresholds.PRIORITY_COLOURS["medium"]
                    ),
                ]
            )
        )
    )


def deadletters_panel() -> timeseries.Panel:
    """Dead letters per interval by reason."""
    return _bars(
        _graph(
            "Dead letters by reason",
            "Rejected messages per interval by reason code.",
            deadletters_by_reason_query(),
            "$tag_reason",
            "none",
        )
    ).span(18)


def deadletters_table_panel() -> table.Panel:
    """Dead letters by reason and path in the time range."""
    return (
        table_panel()
        .title("Dead letters by reason and path")
        .description("Where rejected messages came from and why, over the time range.")
        .datasource(DATASOURCE)
        .with_target(target(deadletters_table_query(), result_format="table"))
        .span(12)
        .height(8)
        .transformations([organize(exclude=("Time",))])
        .sort_by([common_builders.TableSortByFieldState().display_name("Dead letters").desc(True)])
    )


def pager_outcomes_panel() -> timeseries.Panel:
    """Pager attempts per interval by outcome."""
    return _bars(
        _graph(
            "Pager attempts by outcome",
            "Every notification attempt the pager audited, by outcome.",
            pager_outcomes_query(),
            "$tag_outcome",
            "none",
        )
    )


def pager_table_panel() -> table.Panel:
    """Pager attempts and latency by channel and outcome."""
    return (
        table_panel()
        .title("Pager deliveries by channel and outcome")
        .description(
            "Attempts, mean and longest latency, and most attempts of one delivery, per channel."
        )
        .datasource(DATASOURCE)
        .with_target(target(pager_table_query(), result_format="table"))
        .span(12)
        .height(8)
        .transformations([organize(exclude=("Time",))])
        .override_by_name("Mean latency", unit_override("ms"))
        .override_by_name("Longest", unit_override("ms"))
    )


def pager_latency_panel() -> timeseries.Panel:
    """95th percentile pager latency by channel."""
    return _graph(
        "Pager latency (95th percentile)",
        "Time from alert transition to the channel accepting it, 95th percentile.",
        pager_latency_query(),
        "$tag_channel",
        "ms",
    ).min(0)


def build(datasource_uid: str = DEFAULT_DATASOURCE_UID) -> dashboard_models.Dashboard:
    """The dashboard model, ready for ``to_json``."""
    builder = (
        dashboard(TITLE, UID, "Heartbeats, throughput, lag, dead letters and pager deliveries.")
        .time("now-3h", "now")
        .refresh("30s")
        .with_variable(datasource_variable(datasource_uid))
        .with_variable(
            query_variable("worker", "Worker", WORKER_VARIABLE_QUERY)
            .include_all(True)
            .all_value(".*")
        )
    )
    panels: list[PanelBuilder] = [
        last_heartbeat_panel(),
        heartbeats_panel(),
        throughput_panel(),
        messages_in_panel(),
        consumer_lag_panel(),
        sink_latency_panel(),
        deadletters_window_panel(),
        deadletters_panel(),
        deadletters_table_panel(),
        pager_table_panel(),
        pager_outcomes_panel(),
        pager_latency_panel(),
    ]
    return with_panels(builder, panels).build()
