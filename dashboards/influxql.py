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

#: Keys of an annotation target (Grafana's InfluxQL annotation editor): which result columns
#: become the event's text, tags (comma-separated column names), title and end time.
_ANNOTATION_KEYS: dict[str, str] = {
    "fromAnnotations": "from_annotations",
    "textColumn": "text_column",
    "tagsColumn": "tags_column",
    "titleColumn": "title_column",
    "timeEndColumn": "time_end_column",
}

#: Keys this model owns; anything else in a target (e.g. the visual editor's ``select``,
#: ``groupBy`` or ``tags`` after someone edits a panel in Grafana) is kept in ``extra`` so a
#: from_json/to_json round trip loses nothing.
_KNOWN_KEYS = frozenset(
    {"refId", "datasource", "query", "rawQuery", "resultFormat", "alias", "hide", *_ANNOTATION_KEYS}
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
    from_annotations: bool | None
    text_column: str | None
    tags_column: str | None
    title_column: str | None
    time_end_column: str | None
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
        from_annotations: bool | None = None,
        text_column: str | None = None,
        tags_column: str | None = None,
        title_column: str | None = None,
        time_end_column: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.query = query
        self.ref_id = ref_id
        self.datasource = datasource
        self.raw_query = raw_query
        self.result_format = result_format
        self.alias = alias
        self.hide = hide
        self.from_annotations = from_annotations
        self.text_column = text_column
        self.tags_column = tags_column
        self.title_column = title_column
        self.time_end_column = time_end_column
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
        for key, attribute in _ANNOTATION_KEYS.items():
            value = getattr(self, attribute)
            if value is not None:
                payload[key] = value
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
            **{attribute: data.get(key) for key, attribute in _ANNOTATION_KEYS.items()},
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

    def annotation_columns(
        self,
        *,
        text: str,
        tags: tuple[str, ...] = (),
        title: str | None = None,
        time_end: str | None = None,
    ) -> Self:
        """Make this an annotation target: which result columns become text, tags, title, end.

        Grafana's InfluxQL annotation editor stores these next to the query, with
        ``fromAnnotations``; tags are a comma-separated list of column names.
        """
        self._internal.from_annotations = True
        self._internal.text_column = text
        self._internal.tags_column = ",".join(tags) if tags else None
        self._internal.title_column = title
        self._internal.time_end_column = time_end
        return self

    def option(self, key: str, value: Any) -> Self:
        """Any other key Grafana stores on a target (e.g. ``intervalMs`` in an alert query)."""
        self._internal.extra[key] = value
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
