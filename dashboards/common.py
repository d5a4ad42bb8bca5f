"""Shared pieces of every dashboard: the datasource, variables, targets, overrides, transforms.

Every panel queries InfluxDB through the dashboard's ``datasource`` variable, whose options are
the two provisioned InfluxDB datasources (1.x, and 2.x through a DBRP mapping); the default is
chosen when the dashboard is built, so one tree serves either deployment.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from grafana_foundation_sdk.builders import dashboard as dashboard_builders
from grafana_foundation_sdk.builders import stat, statetimeline, table, timeseries
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as dashboard_models

from dashboards.influxql import DATASOURCE_TYPE, InfluxQLQueryBuilder, ResultFormat

#: The provisioned datasources (``dashboards.export``): InfluxDB 1.x queried with InfluxQL, and
#: InfluxDB 2.x queried with InfluxQL through its DBRP mapping (token from the environment).
DATASOURCE_V1_UID = "detoxmon-influxdb"
DATASOURCE_V2_UID = "detoxmon-influxdb2"
DATASOURCE_NAMES: dict[str, str] = {
    DATASOURCE_V1_UID: "detoxmon InfluxDB",
    DATASOURCE_V2_UID: "detoxmon InfluxDB 2",
}
#: Which datasource an InfluxDB API version (``DETOXMON_INFLUX__API_VERSION``) is read through.
DATASOURCE_BY_API_VERSION: dict[int, str] = {1: DATASOURCE_V1_UID, 2: DATASOURCE_V2_UID}
DEFAULT_DATASOURCE_UID = DATASOURCE_V1_UID

DATASOURCE_VARIABLE = "datasource"
#: What every panel, target, variable and annotation refers to.
DATASOURCE = common.DataSourceRef(type_val=DATASOURCE_TYPE, uid="${" + DATASOURCE_VARIABLE + "}")

#: The panel builders the dashboards use.
PanelBuilder = timeseries.Panel | table.Panel | stat.Panel | statetimeline.Panel

#: Tags every generated dashboard carries.
TAGS = ["detoxmon", "generated"]

#: Grafana display unit for each UCUM unit the pipeline stores. Grafana has no mmHg or
#: per-minute unit, hence custom suffixes; an unknown UCUM unit fails the build (KeyError).
GRAFANA_UNITS: dict[str, str] = {
    "/min": "suffix:/min",
    "mm[Hg]": "suffix: mmHg",
    "Cel": "celsius",
    "%": "percent",
}

#: How each UCUM unit reads in a sentence.
UNIT_TEXT: dict[str, str] = {
    "/min": "/min",
    "mm[Hg]": " mmHg",
    "Cel": " °C",
    "%": "%",
    "{score}": "",
}

#: Restricts a query to the selected ward(s). A regex, not ``= '$ward'``: Grafana regex-escapes
#: variable values in InfluxQL (``ward.3`` becomes ``ward\.3``), and "All" is ``.*``.
WARD_FILTER = '"ward" =~ /^$ward$/'

WARD_VARIABLE_QUERY = 'SHOW TAG VALUES FROM "vitals" WITH KEY = "ward"'


def datasource_variable(
    default_uid: str = DEFAULT_DATASOURCE_UID,
) -> dashboard_builders.DatasourceVariable:
    """The InfluxDB datasource picker, limited to the two detoxmon datasources."""
    return (
        dashboard_builders.DatasourceVariable(DATASOURCE_VARIABLE)
        .label("InfluxDB")
        .type(DATASOURCE_TYPE)
        .regex("/^detoxmon InfluxDB/")
        .current(
            dashboard_models.VariableOption(text=DATASOURCE_NAMES[default_uid], value=default_uid)
        )
    )


def query_variable(name: str, label: str, query: str) -> dashboard_builders.QueryVariable:
    """A variable listing tag values, refreshed when the dashboard loads."""
    return (
        dashboard_builders.QueryVariable(name)
        .label(label)
        .datasource(DATASOURCE)
        .query(query)
        .refresh(dashboard_models.VariableRefresh.ON_DASHBOARD_LOAD)
        .sort(dashboard_models.VariableSort.NATURAL_ASC)
    )


def ward_variable() -> dashboard_builders.QueryVariable:
    """The ward; "All" matches every ward through the regex ``.*``."""
    return query_variable("ward", "Ward", WARD_VARIABLE_QUERY).include_all(True).all_value(".*")


def target(
    query: str,
    ref_id: str = "A",
    *,
    result_format: ResultFormat = "time_series",
    alias: str | None = None,
) -> InfluxQLQueryBuilder:
    """A raw InfluxQL target on the dashboard's datasource."""
    built = (
        InfluxQLQueryBuilder(query)
        .ref_id(ref_id)
        .datasource(DATASOURCE)
        .result_format(result_format)
    )
    return built.alias(alias) if alias is not None else built


def table_panel() -> table.Panel:
    """A table on the dashboard's datasource, its cells rendered as Grafana's "auto" type."""
    return table.Panel().datasource(DATASOURCE).cell_options(common.TableAutoCellOptions())


def dashboard(title: str, uid: str, description: str) -> dashboard_builders.Dashboard:
    """A read-only dashboard with the shared tags, cursor sync and browser time zone."""
    return (
        dashboard_builders.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags(TAGS)
        .readonly()
        .timezone("browser")
        .tooltip(dashboard_models.DashboardCursorSync.CROSSHAIR)
    )


def with_panels(
    builder: dashboard_builders.Dashboard, panels: Sequence[PanelBuilder]
) -> dashboard_builders.Dashboard:
    """Add ``panels`` in order, numbering them 1, 2, ... (stable ids for links and rules)."""
    for panel_id, panel in enumerate(panels, start=1):
        builder = builder.with_panel(panel.id(panel_id))
    return builder


def thresholds_builder(
    steps: list[dashboard_models.Threshold],
) -> dashboard_builders.ThresholdsConfig:
    """Absolute thresholds from a list of steps, for a panel's ``thresholds``."""
    return (
        dashboard_builders.ThresholdsConfig()
        .mode(dashboard_models.ThresholdsMode.ABSOLUTE)
        .steps(steps)
    )


def thresholds_model(steps: list[dashboard_models.Threshold]) -> dashboard_models.ThresholdsConfig:
    """Absolute thresholds from a list of steps, for an override's property."""
    return dashboard_models.ThresholdsConfig(
        mode=dashboard_models.ThresholdsMode.ABSOLUTE, steps=steps
    )


def colour_text() -> dashboard_models.DynamicConfigValue:
    """Colour a table cell's text by its thresholds or value mappings."""
    return dashboard_models.DynamicConfigValue(
        id_val="custom.cellOptions", value=common.TableColorTextCellOptions()
    )


def colour_background() -> dashboard_models.DynamicConfigValue:
    """Colour a table cell's background by its thresholds or value mappings."""
    return dashboard_models.DynamicConfigValue(
        id_val="custom.cellOptions",
        value=common.TableColoredBackgroundCellOptions(
            mode=common.TableCellBackgroundDisplayMode.BASIC
        ),
    )


def value_colours(colours: Mapping[str, str]) -> dashboard_models.ValueMap:
    """A value mapping giving each listed text its colour."""
    return dashboard_models.ValueMap(
        options={
            value: dashboard_models.ValueMappingResult(color=colour, index=index)
            for index, (value, colour) in enumerate(colours.items())
        }
    )


def colour_by_value(colours: Mapping[str, str]) -> list[dashboard_models.DynamicConfigValue]:
    """Override properties colouring a text column by its value (e.g. firing red)."""
    return [
        colour_text(),
        dashboard_models.DynamicConfigValue(id_val="mappings", value=[value_colours(colours)]),
    ]


def colour_series_by_name(panel: timeseries.Panel, colours: Mapping[str, str]) -> timeseries.Panel:
    """Give each named series (e.g. an alert state or a priority) its fixed colour."""
    for name, colour in colours.items():
        panel = panel.override_by_name(
            name,
            [
                dashboard_models.DynamicConfigValue(
                    id_val="color",
                    value=dashboard_models.FieldColor(
                        mode=dashboard_models.FieldColorModeId.FIXED, fixed_color=colour
                    ),
                )
            ],
        )
    return panel


def colour_by_steps(
    steps: list[dashboard_models.Threshold],
    *,
    unit: str | None = None,
    background: bool = False,
) -> list[dashboard_models.DynamicConfigValue]:
    """Override properties colouring a numeric column's text (or background) by steps."""
    properties = [
        colour_background() if background else colour_text(),
        dashboard_models.DynamicConfigValue(id_val="thresholds", value=thresholds_model(steps)),
        dashboard_models.DynamicConfigValue(
            id_val="color",
            value=dashboard_models.FieldColor(mode=dashboard_models.FieldColorModeId.THRESHOLDS),
        ),
    ]
    if unit is not None:
        properties.append(dashboard_models.DynamicConfigValue(id_val="unit", value=unit))
    return properties


def unit_override(unit: str) -> list[dashboard_models.DynamicConfigValue]:
    """Override properties setting a column's unit only."""
    return [dashboard_models.DynamicConfigValue(id_val="unit", value=unit)]


#: Colour of each alert state on every alert table.
STATE_COLOURS: dict[str, str] = {
    "firing": "red",
    "renotified": "red",
    "escalated": "purple",
    "acknowledged": "orange",
    "resolved": "green",
}


def organize(
    *,
    exclude: Sequence[str] = (),
    order: Sequence[str] = (),
    rename: Mapping[str, str] | None = None,
) -> dashboard_models.DataTransformerConfig:
    """Grafana's "Organize fields" transformation: drop, order and rename columns."""
    options: dict[str, Any] = {
        "excludeByName": {name: True for name in exclude},
        "indexByName": {name: index for index, name in enumerate(order)},
        "renameByName": dict(rename or {}),
    }
    return dashboard_models.DataTransformerConfig(id_val="organize", options=options)


def merge() -> dashboard_models.DataTransformerConfig:
    """Grafana's "Merge" transformation: one table from several, rows joined on shared columns."""
    return dashboard_models.DataTransformerConfig(id_val="merge", options={})


def keep_rows_where(field: str, values: Sequence[str]) -> dashboard_models.DataTransformerConfig:
    """Grafana's "Filter data by values": keep the rows whose ``field`` is one of ``values``."""
    return dashboard_models.DataTransformerConfig(
        id_val="filterByValue",
        options={
            "type": "include",
            "match": "any",
            "filters": [
                {"fieldName": field, "config": {"id": "equal", "options": {"value": value}}}
                for value in values
            ],
        },
    )
