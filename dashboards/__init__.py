"""Grafana dashboards and alerting as code, built with Grafana's Foundation SDK.

One module per dashboard (``patient``, ``ward``, ``alerts``, ``pipeline``), one function per
panel; ``alerting`` holds the Grafana-managed rules, contact points and policy; ``thresholds``
turns the engine's rules into colours; ``export`` writes the file-provisioning tree and
``provision`` upserts the same objects through Grafana's HTTP API.

Importing the package registers the InfluxQL query type with the SDK, so dashboard JSON read
back with ``Dashboard.from_json`` decodes InfluxDB targets into :class:`InfluxQLQuery`.
"""

from __future__ import annotations

from dashboards.export import export_tree
from dashboards.influxql import InfluxQLQuery, InfluxQLQueryBuilder

__all__ = ["InfluxQLQuery", "InfluxQLQueryBuilder", "export_tree"]
