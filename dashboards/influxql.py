"""A raw InfluxQL query for Grafana's InfluxDB datasource, as a Foundation SDK data query.

The SDK ships query types for Prometheus, Loki and others but none for InfluxDB, so panel
targets would otherwise be untyped dicts. This model plugs into the SDK the way its own query
types do: it subclasses ``Dataquery``, has ``to_json``/``from_json``, a ``Builder``, and is
registered as the ``influxdb`` variant, so ``Dashboard.from_json`` decodes InfluxDB targets back
into this class instead of the SDK's opaque ``UnknownDataquery``.
"""

from __future__ import annotations

from typing import Any, Literal, Self, cast

from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import runtime as cogruntime
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.models.common import DataSourceRef

#: Grafana's plugin id for the InfluxDB datasource; also the dataquery variant key.
DATASOURCE_TYPE = "influxdb"

ResultFormat = Literal["time_series", "table", "logs"]

#: Keys this model owns; anything else in a target (e.g. the visual editor's ``select``,
#: ``groupBy`` or ``tags`` after someone edits a panel in Grafana) is kept in ``extra`` so a
#: from_json/to_json round trip loses nothing.
_KNOWN_KEYS = frozenset(
    {"refId", "datasource", "query", "rawQuery", "resultFormat", "alias", "hide"}
)


class InfluxQLQuery(cogvariants.Dataquery):
    """One InfluxQL target in raw-query mode, serialised as Grafana stores it."""

    query: str
    ref_id: str | None
    datasource: DataSourceRef | None
    raw_query: bool
    result_format: ResultFormat
    alias: str | None
    hide: bool | None
    extra: dict[str, Any]

    def __init__(
        self,
        query: str = "",
        *,
        ref_id: str | None = None,
        datasource: DataSourceRef | None = None,
        raw_query: bool = True,
        result_format: ResultFormat = "time_series",
        alias: str | None = None,
        hide: bool | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.query = query
        self.ref_id = ref_id
        self.datasource = datasource
        self.raw_query = raw_query
        self.result_format = result_format
        self.alias = alias
        self.hide = hide
        self.extra = dict(extra or {})

    def to_json(self) -> dict[str, object]:
        """Grafana's JSON for this target."""
        payload: dict[str, object] = dict(self.extra)
        payload.update(
            {"query": self.query, "rawQuery": self.raw_query, "resultFormat": self.result_format}
        )
        if self.ref_id is not None:
            payload["refId"] = self.ref_id
        if self.datasource is not None:
            payload["datasource"] = self.datasource
        if self.alias is not None:
            payload["alias"] = self.alias
        if self.hide is not None:
            payload["hide"] = self.hide
        return payload

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Self:
        """Decode a target as Grafana stores it."""
        datasource = data.get("datasource")
        return cls(
            str(data.get("query", "")),
            ref_id=data.get("refId"),
            datasource=DataSourceRef.from_json(datasource) if datasource is not None else None,
            raw_query=bool(data.get("rawQuery", False)),
            result_format=cast(ResultFormat, data.get("resultFormat", "time_series")),
            alias=data.get("alias"),
            hide=data.get("hide"),
            extra={key: value for key, value in data.items() if key not in _KNOWN_KEYS},
        )


class InfluxQLQueryBuilder(cogbuilder.Builder[InfluxQLQuery]):
    """Fluent builder for :class:`InfluxQLQuery`, usable wherever the SDK takes a query builder."""

    _internal: InfluxQLQuery

    def __init__(self, query: str) -> None:
        self._internal = InfluxQLQuery(query)

    def build(self) -> InfluxQLQuery:
        """The built query."""
        return self._internal

    def ref_id(self, ref_id: str) -> Self:
        """Letter that names this target within its panel (A, B, ...)."""
        self._internal.ref_id = ref_id
        return self

    def datasource(self, datasource: DataSourceRef) -> Self:
        """The InfluxDB datasource to run against."""
        self._internal.datasource = datasource
        return self

    def result_format(self, result_format: ResultFormat) -> Self:
        """``time_series`` for graphs, ``table`` for tables."""
        self._internal.result_format = result_format
        return self

    def alias(self, alias: str) -> Self:
        """Series name pattern, e.g. ``$col`` for the column alias."""
        self._internal.alias = alias
        return self

    def hide(self, hide: bool) -> Self:
        """Whether the target is disabled."""
        self._internal.hide = hide
        return self


def variant_config() -> cogruntime.DataqueryConfig:
    """The SDK runtime entry that maps datasource type ``influxdb`` to this model."""
    return cogruntime.DataqueryConfig(
        identifier=DATASOURCE_TYPE, from_json_hook=InfluxQLQuery.from_json
    )


def register() -> None:
    """Register the variant with the SDK runtime (a singleton; registering again is harmless)."""
    cogruntime.register_dataquery_variant(variant_config())


register()
