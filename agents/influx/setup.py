"""Creating what the pipeline writes to, idempotently: database or buckets, retention, rollups.

InfluxDB 1.x (v1 API, InfluxQL):

- the database, created with its raw retention policy (``retention_policy`` or ``raw``,
  ``DETOXMON_INFLUX__RAW_RETENTION``) as the default, so writes and dashboards that name no
  policy use it (a database that already exists keeps its ``autogen`` policy and data);
- a long-retention policy for rollups (``rollups``, ``__ROLLUP_RETENTION``);
- continuous queries ``vitals_1m`` and ``vitals_1h``: mean, min and max of every vital and the
  count of readings, per patient and ward, from the raw policy into the rollup policy. They
  ``RESAMPLE ... FOR`` one hour and one day, so readings up to that late (a gateway back from
  an outage, a backlog after an InfluxDB outage) still reach the rollups.

InfluxDB 2.x (v2 API): the raw and rollup buckets with the same retention periods, one Flux
task per rollup doing what the continuous query does, and DBRP mappings (database
``DETOXMON_INFLUX__DATABASE``, the two policy names) so the InfluxQL dashboards work unchanged.

Running it twice leaves the same state. Retention policies and buckets are compared and
altered only when their period differs. InfluxDB 1.x has no ``CREATE OR REPLACE`` for
continuous queries, so the wanted query is compared with ``SHOW CONTINUOUS QUERIES`` (which
prints it back without quotes, the only normalisation applied) and dropped and re-created only
when it differs; tasks are compared by their Flux text. Nothing is ever deleted that this module
did not create.

``query_v1`` uses the standard library on purpose: it runs in the CLI, the demo and test
fixtures, outside any event loop.
"""

from __future__ import annotations

import base64
import json
import re
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from influxdb_client.client.influxdb_client import InfluxDBClient
from influxdb_client.domain.bucket_retention_rules import BucketRetentionRules
from influxdb_client.domain.dbrp_create import DBRPCreate
from influxdb_client.domain.task_create_request import TaskCreateRequest
from influxdb_client.domain.task_update_request import TaskUpdateRequest
from influxdb_client.service.dbr_ps_service import DBRPsService

from agents.settings import InfluxSettings
from schemas.vitals import VITAL_FIELDS

__all__ = [
    "ROLLUPS",
    "Rollup",
    "SetupReport",
    "continuous_query",
    "duration_seconds",
    "ensure_storage",
    "flux_task",
    "query_v1",
    "rollup_select",
    "setup_storage",
]

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_GO_DURATION = re.compile(r"(\d+)(h|m|s)")


def duration_seconds(text: str) -> int:
    """Seconds in an InfluxQL duration such as ``90d``, or in Go's ``2160h0m0s``; 0 is infinite."""
    if text.upper() == "INF":
        return 0
    match = re.fullmatch(r"(\d+)([smhdw])", text)
    if match:
        return int(match.group(1)) * _UNITS[match.group(2)]
    parts = _GO_DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"not a duration: {text!r}")
    return sum(int(number) * _UNITS[unit] for number, unit in parts)


@dataclass(frozen=True)
class Rollup:
    """One downsampled series of ``vitals``: a window and how far back it is recomputed."""

    name: str
    every: str
    recompute: str

    @property
    def task_name(self) -> str:
        """The name of the v2 task."""
        return f"detoxmon_{self.name}"


#: The rollups: 1-minute (trends over a taper) and 1-hour (months of follow-up).
ROLLUPS = (Rollup("vitals_1m", "1m", "1h"), Rollup("vitals_1h", "1h", "1d"))
#: Aggregates of every vital; each becomes ``<vital>_<function>`` in the rollup.
ROLLUP_FUNCTIONS = ("mean", "min", "max")
#: Tags the rollups keep (device and source are dropped: a trend is per patient).
ROLLUP_TAGS = ("patient_id", "ward")


def raw_policy(settings: InfluxSettings) -> str:
    """Name of the raw retention policy (and of its DBRP mapping in v2)."""
    return settings.retention_policy or "raw"


def rollup_select(settings: InfluxSettings, rollup: Rollup, *, where: str | None = None) -> str:
    """The ``SELECT ... INTO`` of ``rollup``; with ``where``, a one-off backfill of that range."""
    db = settings.database
    selections = [
        f'{function}("{vital}") AS "{vital}_{function}"'
        for vital in VITAL_FIELDS
        for function in ROLLUP_FUNCTIONS
    ]
    selections.append('count("event_id") AS "readings"')
    tags = ", ".join(f'"{tag}"' for tag in ROLLUP_TAGS)
    parts = [
        f"SELECT {', '.join(selections)}",
        f'INTO "{db}"."{settings.rollup_retention_policy}"."{rollup.name}"',
        f'FROM "{db}"."{raw_policy(settings)}"."vitals"',
        *([f"WHERE {where}"] if where else []),
        f"GROUP BY time({rollup.every}), {tags}",
    ]
    return " ".join(parts)


def continuous_query(settings: InfluxSettings, rollup: Rollup) -> str:
    """The ``CREATE CONTINUOUS QUERY`` statement of ``rollup``."""
    return " ".join(
        [
            f'CREATE CONTINUOUS QUERY "{rollup.name}" ON "{settings.database}"',
            f"RESAMPLE EVERY {rollup.every} FOR {rollup.recompute}",
            f"BEGIN {rollup_select(settings, rollup)} END",
        ]
    )


def flux_task(settings: InfluxSettings, rollup: Rollup) -> str:
    """The Flux of the v2 task that does what :func:`continuous_query` does in 1.x."""
    fields = ", ".join(f'"{vital}"' for vital in VITAL_FIELDS)
    group = ", ".join(f'"{column}"' for column in ("_measurement", "_field", *ROLLUP_TAGS))
    target = f'bucket: "{settings.rollup_bucket}", org: "{settings.org}"'
    window = f'every: {rollup.every}, createEmpty: false, timeSrc: "_start"'
    calls = "\n".join(
        f'numbers |> rollup(fn: {function}, suffix: "_{function}")' for function in ROLLUP_FUNCTIONS
    )
    return f"""option task = {{name: "{rollup.task_name}", every: {rollup.every}}}

data = from(bucket: "{settings.bucket}")
    |> range(start: -{rollup.recompute})
    |> filter(fn: (r) => r._measurement == "vitals")
    |> group(columns: [{group}])

numbers = data |> filter(fn: (r) => contains(value: r._field, set: [{fields}]))

rollup = (tables=<-, fn, suffix) => tables
    |> aggregateWindow({window}, fn: fn)
    |> map(fn: (r) => ({{r with _measurement: "{rollup.name}", _field: r._field + suffix}}))
    |> to({target})

{calls}
data
    |> filter(fn: (r) => r._field == "event_id")
    |> aggregateWindow({window}, fn: count)
    |> map(fn: (r) => ({{r with _measurement: "{rollup.name}", _field: "readings"}}))
    |> to({target})
"""


@dataclass
class SetupReport:
    """What :func:`ensure_storage` found and changed."""

    target: str
    changes: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        done = "; ".join(self.changes) if self.changes else "already as configured"
        return f"{self.target}: {done}"


def query_v1(
    settings: InfluxSettings,
    statement: str,
    *,
    database: str | None = None,
    epoch: str | None = None,
) -> dict[str, object]:
    """Run one InfluxQL statement over ``POST /query`` and return the decoded JSON.

    Raises:
        RuntimeError: InfluxDB answered with an error.
    """
    form: dict[str, str] = {"q": statement}
    if database:
        form["db"] = database
    if epoch:
        form["epoch"] = epoch  # timestamps as integers in this unit instead of RFC 3339
    headers: dict[str, str] = {}
    if settings.username:
        # Basic auth: InfluxDB 1.x reads ``u``/``p`` only from the URL, which proxies log.
        password = settings.password.get_secret_value() if settings.password else ""
        pair = base64.b64encode(f"{settings.username}:{password}".encode()).decode()
        headers["Authorization"] = f"Basic {pair}"
    request = urllib.request.Request(  # noqa: S310 - URL comes from settings
        f"{settings.url.rstrip('/')}/query",
        data=urllib.parse.urlencode(form).encode(),
        headers=headers,
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=settings.timeout_s) as response:  # noqa: S310
        result: dict[str, object] = json.loads(response.read())
    for item in result.get("results", []):  # type: ignore[attr-defined]
        if isinstance(item, dict) and "error" in item:
            raise RuntimeError(f"InfluxDB refused {statement!r}: {item['error']}")
    return result


def _rows(result: dict[str, object]) -> list[tuple[str, dict[str, Any]]]:
    """``(series name, row)`` for every row of every series in a ``/query`` result."""
    rows: list[tuple[str, dict[str, Any]]] = []
    for item in result.get("results", []):  # type: ignore[attr-defined]
        for series in item.get("series", []):
            for values in series.get("values") or []:
                row = dict(zip(series["columns"], values, strict=True))
                rows.append((series.get("name", ""), row))
    return rows


def _normalise(statement: str) -> str:
    return " ".join(statement.replace('"', "").split())


def _ensure_policy(
    settings: InfluxSettings,
    existing: dict[str, dict[str, Any]],
    name: str,
    duration: str,
    *,
    default: bool,
    report: SetupReport,
) -> None:
    db = settings.database
    suffix = " DEFAULT" if default else ""
    current = existing.get(name)
    if current is None:
        query_v1(
            settings,
            f'CREATE RETENTION POLICY "{name}" ON "{db}" DURATION {duration} REPLICATION 1{suffix}',
        )
        report.changes.append(f"created retention policy {name} ({duration})")
    elif duration_seconds(str(current["duration"])) != duration_seconds(duration) or (
        default and not current["default"]
    ):
        query_v1(settings, f'ALTER RETENTION POLICY "{name}" ON "{db}" DURATION {duration}{suffix}')
        report.changes.append(f"altered retention policy {name} ({duration})")


def _setup_v1(settings: InfluxSettings) -> SetupReport:
    db = settings.database
    report = SetupReport(f"database {db!r} at {settings.url}")
    databases = {row["name"] for _, row in _rows(query_v1(settings, "SHOW DATABASES"))}
    raw = raw_policy(settings)
    if db not in databases:
        query_v1(
            settings,
            f'CREATE DATABASE "{db}" WITH DURATION {settings.raw_retention} '
            f'REPLICATION 1 NAME "{raw}"',
        )
        report.changes.append(f"created database with retention policy {raw}")
    shown = query_v1(settings, f'SHOW RETENTION POLICIES ON "{db}"')
    policies = {row["name"]: row for _, row in _rows(shown)}
    _ensure_policy(settings, policies, raw, settings.raw_retention, default=True, report=report)
    _ensure_policy(
        settings,
        policies,
        settings.rollup_retention_policy,
        settings.rollup_retention,
        default=False,
        report=report,
    )
    queries = {
        row["name"]: str(row["query"])
        for series, row in _rows(query_v1(settings, "SHOW CONTINUOUS QUERIES"))
        if series == db
    }
    for rollup in ROLLUPS:
        wanted = continuous_query(settings, rollup)
        current = queries.get(rollup.name)
        if current is not None and _normalise(current) == _normalise(wanted):
            continue
        if current is not None:
            query_v1(settings, f'DROP CONTINUOUS QUERY "{rollup.name}" ON "{db}"')
        query_v1(settings, wanted)
        verb = "replaced" if current is not None else "created"
        report.changes.append(f"{verb} continuous query {rollup.name}")
    return report


def _retention_rules(duration: str) -> list[BucketRetentionRules]:
    return [BucketRetentionRules(type="expire", every_seconds=duration_seconds(duration))]


def _expiry(bucket: Any) -> int:
    rules = bucket.retention_rules or []
    return int(rules[0].every_seconds or 0) if rules else 0


def _ensure_bucket(
    client: InfluxDBClient, org_id: str, name: str, duration: str, report: SetupReport
) -> Any:
    buckets = client.buckets_api()
    bucket = buckets.find_bucket_by_name(name)
    if bucket is None:
        report.changes.append(f"created bucket {name} ({duration})")
        return buckets.create_bucket(
            bucket_name=name, retention_rules=_retention_rules(duration), org=org_id
        )
    if _expiry(bucket) != duration_seconds(duration):
        bucket.retention_rules = _retention_rules(duration)
        buckets.update_bucket(bucket)
        report.changes.append(f"altered bucket {name} ({duration})")
    return bucket


def _ensure_task(
    client: InfluxDBClient, org_id: str, rollup: Rollup, flux: str, report: SetupReport
) -> None:
    tasks = client.tasks_api()
    listed = tasks.find_tasks(name=rollup.task_name, org_id=org_id)
    found = [task for task in listed if task.name == rollup.task_name]
    if not found:
        tasks.create_task(
            task_create_request=TaskCreateRequest(
                org_id=org_id,
                flux=flux,
                status="active",
                description=f"detoxmon rollup {rollup.name}",
            )
        )
        report.changes.append(f"created task {rollup.task_name}")
    elif found[0].flux != flux or found[0].status != "active":
        tasks.update_task_request(found[0].id, TaskUpdateRequest(flux=flux, status="active"))
        report.changes.append(f"updated task {rollup.task_name}")


def _ensure_dbrp(
    client: InfluxDBClient,
    org_id: str,
    database: str,
    policy: str,
    bucket_id: str,
    *,
    default: bool,
    report: SetupReport,
) -> None:
    service = DBRPsService(client.api_client)
    mappings = service.get_dbr_ps(org_id=org_id, db=database).content or []
    current = [m for m in mappings if m.retention_policy == policy]
    if current and current[0].bucket_id == bucket_id:
        return
    for mapping in current:
        service.delete_dbrpid(mapping.id, org_id=org_id)
    service.post_dbrp(
        DBRPCreate(
            org_id=org_id,
            bucket_id=bucket_id,
            database=database,
            retention_policy=policy,
            default=default,
        )
    )
    report.changes.append(f"mapped {database}/{policy}")


def _setup_v2(settings: InfluxSettings) -> SetupReport:
    report = SetupReport(f"bucket {settings.bucket!r} in org {settings.org!r} at {settings.url}")
    token = settings.token.get_secret_value() if settings.token else ""
    with InfluxDBClient(
        url=settings.url,
        token=token,
        org=settings.org,
        timeout=int(settings.timeout_s * 1000),
    ) as client:
        orgs = client.organizations_api().find_organizations(org=settings.org)
        if not orgs:
            raise RuntimeError(f"InfluxDB has no organisation {settings.org!r}")
        org_id = str(orgs[0].id)
        raw = _ensure_bucket(client, org_id, settings.bucket, settings.raw_retention, report)
        rollups = _ensure_bucket(
            client, org_id, settings.rollup_bucket, settings.rollup_retention, report
        )
        for rollup in ROLLUPS:
            _ensure_task(client, org_id, rollup, flux_task(settings, rollup), report)
        _ensure_dbrp(
            client,
            org_id,
            settings.database,
            raw_policy(settings),
            raw.id,
            default=True,
            report=report,
        )
        _ensure_dbrp(
            client,
            org_id,
            settings.database,
            settings.rollup_retention_policy,
            rollups.id,
            default=False,
            report=report,
        )
    return report


def ensure_storage(settings: InfluxSettings) -> SetupReport:
    """Create or align everything the pipeline stores into; see the module docstring."""
    return _setup_v1(settings) if settings.api_version == 1 else _setup_v2(settings)


def setup_storage(settings: InfluxSettings) -> str:
    """:func:`ensure_storage`, reported as one line."""
    return str(ensure_storage(settings))
