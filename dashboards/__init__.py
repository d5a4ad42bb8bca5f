"""Grafana dashboards as code, built with Grafana's Foundation SDK.

Importing the package registers the InfluxQL query type with the SDK, so dashboard JSON read
back with ``Dashboard.from_json`` decodes InfluxDB targets into :class:`InfluxQLQuery`.
"""

from __future__ import annotations

from dashboards.export import export_tree
from dashboards.influxql import InfluxQLQuery, InfluxQLQueryBuilder

__all__ = ["InfluxQLQuery", "InfluxQLQueryBuilder", "export_tree"]
