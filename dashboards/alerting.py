"""Grafana alerting as code: rules on pipeline health and ward load, contact points, policies.

Clinical alerting lives in the rule engine and its pager; Grafana watches what the engine
cannot see about itself, plus one ward-level view:

- **Pipeline heartbeat missing** (dead-man's switch): no ``pipeline_health`` heartbeat from any
  worker for two minutes. The query returns no rows then, so the rule's *no data* state is
  *Alerting*; an InfluxDB that errors is also *Alerting* (nothing lands, dashboards are blind).
  It pages the on-call engineer.
- **Dead-letter surge**: more dead letters in five minutes than :data:`DEADLETTER_SURGE_COUNT`.
- **Several patients in the NEWS2 high band on one ward**: per ward, the number of patients
  whose latest NEWS2 is in the high band (``dashboards.thresholds.news2_bands``) above
  :data:`WARD_HIGH_NEWS2_PATIENTS`. The ``ward`` label comes from the query's ``GROUP BY``.

Rules carry ``audience`` (engineering or clinical) and ``priority`` labels, which the
notification policy routes on (and ``ward``, which it groups by). Contact points name their
secrets as ``$__env{VAR}``: Grafana expands them when it reads the provisioning files, and the
HTTP provisioner (``dashboards.provision``) from its own environment; no secret is in the tree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from grafana_foundation_sdk.builders import alerting as alerting_builders
from grafana_foundation_sdk.builders import expr as expr_builders
from grafana_foundation_sdk.models import alerting, common

from dashboards import thresholds
from dashboards.common import DEFAULT_DATASOURCE_UID
from dashboards.influxql import DATASOURCE_TYPE, InfluxQLQueryBuilder

ORG_ID = 1
#: The folder the dashboards (file provider ``folder``) and the rules live in.
FOLDER_UID = "detoxmon"
FOLDER_TITLE = "Detox monitor"

PIPELINE_GROUP = "detoxmon-pipeline"
WARD_GROUP = "detoxmon-ward"
#: Seconds between evaluations of every rule group.
GROUP_INTERVAL_S = 60

#: The dead-man's switch fires after this long without any heartbeat (workers beat every 10 s).
HEARTBEAT_SILENCE_S = 120
#: Dead letters are counted over this window...
DEADLETTER_WINDOW_S = 300
#: ...and more than this many page the engineer (a gateway or a schema change gone wrong).
DEADLETTER_SURGE_COUNT = 20
#: A patient's latest NEWS2 is looked for this far back (the longest NEWS2 cadence: 12-hourly).
WARD_NEWS2_WINDOW_S = 12 * 3600
#: More than this many patients of one ward in the NEWS2 high band page the clinical lead.
WARD_HIGH_NEWS2_PATIENTS = 2

HEARTBEAT_RULE_UID = "detoxmon-heartbeat-missing"
DEADLETTER_RULE_UID = "detoxmon-deadletter-surge"
WARD_NEWS2_RULE_UID = "detoxmon-ward-news2-high"

#: Label values the policy routes on.
ENGINEERING = "engineering"
CLINICAL = "clinical"

#: Environment variables the contact points read (in Grafana's environment for file
#: provisioning, in the provisioner's for ``detoxmon grafana provision``).
PAGERDUTY_KEY_ENV = "DETOXMON_GRAFANA_PAGERDUTY_KEY"
WEBHOOK_URL_ENV = "DETOXMON_GRAFANA_WEBHOOK_URL"
WEBHOOK_TOKEN_ENV = "DETOXMON_GRAFANA_WEBHOOK_TOKEN"  # noqa: S105 - a name, not a secret
ENGINEERING_EMAILS_ENV = "DETOXMON_GRAFANA_ENGINEERING_EMAILS"
CLINICAL_EMAILS_ENV = "DETOXMON_GRAFANA_CLINICAL_EMAILS"

ONCALL_PAGERDUTY = "detoxmon-oncall-pagerduty"
WARD_WEBHOOK = "detoxmon-ward-webhook"
ENGINEERING_EMAIL = "detoxmon-engineering-email"
CLINICAL_EMAIL = "detoxmon-clinical-email"

NoDataState = Literal["OK", "Alerting", "NoData", "KeepLast"]
ErrorState = Literal["OK", "Alerting", "Error", "KeepLast"]
Evaluator = Literal["gt", "lt"]

EXPRESSION_UID = "__expr__"
_EXPRESSION = common.DataSourceRef(type_val=EXPRESSION_UID, uid=EXPRESSION_UID)


def env(name: str) -> str:
    """A reference to an environment variable, as Grafana's provisioning files expand it."""
    return "$__env{" + name + "}"


def heartbeat_query() -> str:
    """Heartbeats of every worker in the rule's window; no row at all when the pipeline is dead."""
    return 'SELECT count("heartbeat") AS "heartbeats" FROM "pipeline_health" WHERE $timeFilter'


def deadletter_query() -> str:
    """Dead letters in the rule's window, all reasons together."""
    return 'SELECT sum("count") AS "dead letters" FROM "deadletters" WHERE $timeFilter'


def high_news2() -> thresholds.Limit:
    """Where the engine raises NEWS2 to high priority (the rules file's NEWS2 rule)."""
    return thresholds.upward_limit("news2", "high")


def ward_news2_query() -> str:
    """Per ward, the patients whose latest NEWS2 in the window is where the engine pages high."""
    return (
        'SELECT count("news2") AS "patients" FROM ('  # noqa: S608 - constants
        'SELECT last("news2") AS "news2" FROM "scores" WHERE $timeFilter '
        'GROUP BY "ward", "patient_id"'
        f') WHERE {high_news2().influxql("news2")} GROUP BY "ward"'
    )


def _influxql(
    ref_id: str, query: str, window_s: int, datasource_uid: str
) -> alerting_builders.Query:
    model = (
        InfluxQLQueryBuilder(query)
        .ref_id(ref_id)
        .datasource(common.DataSourceRef(type_val=DATASOURCE_TYPE, uid=datasource_uid))
        .result_format("time_series")
        .option("intervalMs", 1000)
        .option("maxDataPoints", 43200)
    )
    return (
        alerting_builders.Query(ref_id)
        .datasource_uid(datasource_uid)
        .relative_time_range(alerting.RelativeTimeRange(from_val=window_s, to=0))
        .model(model)
    )


def _reduce_last(ref_id: str, expression: str) -> alerting_builders.Query:
    model = (
        expr_builders.TypeReduce()
        .ref_id(ref_id)
        .datasource(_EXPRESSION)
        .expression(expression)
        .reducer("last")
        .settings(expr_builders.ExprTypeReduceSettings().mode("dropNN"))
    )
    return (
        alerting_builders.Query(ref_id)
        .datasource_uid(EXPRESSION_UID)
        .relative_time_range(alerting.RelativeTimeRange(from_val=0, to=0))
        .model(model)
    )


def _threshold(
    ref_id: str, expression: str, evaluator: Evaluator, value: float
) -> alerting_builders.Query:
    model = (
        expr_builders.TypeThreshold()
        .ref_id(ref_id)
        .datasource(_EXPRESSION)
        .expression(expression)
        .conditions(
            [
                expr_builders.ExprTypeThresholdConditions().evaluator(
                    expr_builders.ExprTypeThresholdConditionsEvaluator()
                    .type(evaluator)
                    .params([value])
                )
            ]
        )
    )
    return (
        alerting_builders.Query(ref_id)
        .datasource_uid(EXPRESSION_UID)
        .relative_time_range(alerting.RelativeTimeRange(from_val=0, to=0))
        .model(model)
    )


@dataclass(frozen=True)
class RuleSpec:
    """What differs between the rules: the query, its window, the condition, the states."""

    uid: str
    title: str
    group: str
    query: str
    window_s: int
    evaluator: Evaluator
    value: float
    no_data_state: NoDataState
    exec_err_state: ErrorState
    labels: dict[str, str]
    summary: str
    description: str
    #: The dashboard and panel the rule links to (Grafana shows its state on that panel).
    dashboard_uid: str
    panel_title: str


def rule_specs() -> tuple[RuleSpec, ...]:
    """The three rules."""
    return (
        RuleSpec(
            uid=HEARTBEAT_RULE_UID,
            title="Pipeline heartbeat missing",
            group=PIPELINE_GROUP,
            query=heartbeat_query(),
            window_s=HEARTBEAT_SILENCE_S,
            evaluator="lt",
            value=1,
            no_data_state="Alerting",
            exec_err_state="Alerting",
            labels={"audience": ENGINEERING, "priority": "high", "component": "pipeline"},
            summary=f"No pipeline heartbeat for {HEARTBEAT_SILENCE_S // 60} minutes",
            description=(
                "No worker has written a pipeline_health heartbeat: workers down or hung, "
                "Kafka or InfluxDB unreachable. Readings are not being evaluated or stored, "
                "and the pager may be silent."
            ),
            dashboard_uid="detoxmon-pipeline",
            panel_title="Last heartbeat by worker",
        ),
        RuleSpec(
            uid=DEADLETTER_RULE_UID,
            title="Dead-letter surge",
            group=PIPELINE_GROUP,
            query=deadletter_query(),
            window_s=DEADLETTER_WINDOW_S,
            evaluator="gt",
            value=DEADLETTER_SURGE_COUNT,
            no_data_state="OK",
            exec_err_state="Error",
            labels={"audience": ENGINEERING, "priority": "medium", "component": "pipeline"},
            summary=(
                "{{ $values.B }} dead letters in "
                f"{DEADLETTER_WINDOW_S // 60} minutes (more than {DEADLETTER_SURGE_COUNT})"
            ),
            description=(
                "Messages are being rejected: see dead letters by reason and path on the "
                "pipeline dashboard. A gateway or a contract change is the usual cause."
            ),
            dashboard_uid="detoxmon-pipeline",
            panel_title=f"Dead letters, last {DEADLETTER_WINDOW_S // 60} minutes",
        ),
        RuleSpec(
            uid=WARD_NEWS2_RULE_UID,
            title="Several patients in the NEWS2 high band",
            group=WARD_GROUP,
            query=ward_news2_query(),
            window_s=WARD_NEWS2_WINDOW_S,
            evaluator="gt",
            value=WARD_HIGH_NEWS2_PATIENTS,
            no_data_state="OK",
            exec_err_state="Error",
            labels={"audience": CLINICAL, "priority": "high"},
            summary=(
                "Ward {{ $labels.ward }}: {{ $values.B }} patients with NEWS2 "
                f"{high_news2().op} {high_news2().threshold:g}"
            ),
            description=(
                "More than "
                f"{WARD_HIGH_NEWS2_PATIENTS} patients of the ward have a latest NEWS2 in the high "
                "band (emergency response): consider extra staff for the ward."
            ),
            dashboard_uid="detoxmon-ward",
            panel_title="Patients in the NEWS2 high band",
        ),
    )


def panel_id(dashboard_uid: str, title: str) -> int:
    """The id of the panel titled ``title`` on a generated dashboard."""
    # Imported here: the dashboards import this module for the rules' thresholds.
    from dashboards import pipeline, ward

    builders = {pipeline.UID: pipeline.build, ward.UID: ward.build}
    built = builders[dashboard_uid]()
    ids = [p.id_val for p in built.panels or [] if getattr(p, "title", None) == title]
    if len(ids) != 1 or ids[0] is None:
        raise LookupError(f"no single panel {title!r} on dashboard {dashboard_uid}")
    return int(ids[0])


def rule(spec: RuleSpec, datasource_uid: str = DEFAULT_DATASOURCE_UID) -> alerting_builders.Rule:
    """A rule: the InfluxQL query (A), its last value (B), the threshold (C)."""
    return (
        alerting_builders.Rule(spec.title)
        .uid(spec.uid)
        .org_id(ORG_ID)
        .folder_uid(FOLDER_UID)
        .rule_group(spec.group)
        .condition("C")
        .queries(
            [
                _influxql("A", spec.query, spec.window_s, datasource_uid),
                _reduce_last("B", "A"),
                _threshold("C", "B", spec.evaluator, spec.value),
            ]
        )
        .no_data_state(spec.no_data_state)
        .exec_err_state(spec.exec_err_state)
        .for_val("0s")
        .is_paused(False)
        .labels(spec.labels)
        .annotations(
            {
                "summary": spec.summary,
                "description": spec.description,
                "__dashboardUid__": spec.dashboard_uid,
                "__panelId__": str(panel_id(spec.dashboard_uid, spec.panel_title)),
            }
        )
    )


def rule_groups(datasource_uid: str = DEFAULT_DATASOURCE_UID) -> list[alerting.RuleGroup]:
    """The rule groups, each with its rules, in the alerting provisioning API's shape."""
    groups: dict[str, alerting_builders.RuleGroup] = {}
    for spec in rule_specs():
        group = groups.setdefault(
            spec.group,
            alerting_builders.RuleGroup(spec.group)
            .folder_uid(FOLDER_UID)
            .interval(GROUP_INTERVAL_S),
        )
        group.with_rule(rule(spec, datasource_uid))
    return [group.build() for group in groups.values()]


def contact_points() -> list[alerting.ContactPoint]:
    """PagerDuty for the on-call engineer, a webhook for the wards, email for both leads."""
    return [
        alerting_builders.ContactPoint()
        .uid(ONCALL_PAGERDUTY)
        .name("detoxmon on-call engineer (PagerDuty)")
        .type("pagerduty")
        .settings(
            {
                "integrationKey": env(PAGERDUTY_KEY_ENV),
                "severity": "critical",
                "class": "detoxmon pipeline",
                "component": "detoxmon",
                "summary": '{{ template "default.title" . }}',
            }
        )
        .build(),
        alerting_builders.ContactPoint()
        .uid(WARD_WEBHOOK)
        .name("detoxmon ward pager (webhook)")
        .type("webhook")
        .settings(
            {
                "url": env(WEBHOOK_URL_ENV),
                "httpMethod": "POST",
                "authorization_scheme": "Bearer",
                "authorization_credentials": env(WEBHOOK_TOKEN_ENV),
            }
        )
        .build(),
        alerting_builders.ContactPoint()
        .uid(ENGINEERING_EMAIL)
        .name("detoxmon engineering (email)")
        .type("email")
        .settings({"addresses": env(ENGINEERING_EMAILS_ENV), "singleEmail": True})
        .build(),
        alerting_builders.ContactPoint()
        .uid(CLINICAL_EMAIL)
        .name("detoxmon clinical lead (email)")
        .type("email")
        .settings({"addresses": env(CLINICAL_EMAILS_ENV), "singleEmail": True})
        .build(),
    ]


def receiver_name(uid: str) -> str:
    """The name a policy routes to for a contact point uid."""
    [point] = [p for p in contact_points() if p.uid == uid]
    assert point.name is not None
    return point.name


def _route(
    receiver_uid: str,
    *matchers: tuple[str, str, str],
    group_by: tuple[str, ...] = (),
    repeat: str | None = None,
    wait: str | None = None,
) -> alerting_builders.NotificationPolicy:
    """A route to a contact point for alerts whose labels match all ``(name, op, value)``."""
    route = (
        alerting_builders.NotificationPolicy()
        .receiver(receiver_name(receiver_uid))
        .object_matchers([list(matcher) for matcher in matchers])
    )
    if group_by:
        route = route.group_by(list(group_by))
    if repeat is not None:
        route = route.repeat_interval(repeat)
    if wait is not None:
        route = route.group_wait(wait)
    return route


def notification_policy() -> alerting.NotificationPolicy:
    """The policy tree: by audience, then ward, then priority.

    - engineering, high priority -> PagerDuty (the on-call engineer), repeated hourly;
    - engineering, any other -> engineering email;
    - clinical on a ward -> the ward webhook, one notification group per ward; high priority
      re-pages every 15 minutes until acknowledged (clinical.md section 11.4) and continues to
    - clinical -> the clinical lead's email.
    Anything else falls back to the engineering email.
    """
    clinical_ward = (
        _route(
            WARD_WEBHOOK,
            ("audience", "=", CLINICAL),
            ("ward", "=~", ".+"),
            group_by=("alertname", "ward"),
        )
        .continue_val(True)
        .routes([_route(WARD_WEBHOOK, ("priority", "=", "high"), repeat="15m", wait="0s")])
    )
    return (
        alerting_builders.NotificationPolicy()
        .receiver(receiver_name(ENGINEERING_EMAIL))
        .group_by(["grafana_folder", "alertname"])
        .group_wait("30s")
        .group_interval("5m")
        .repeat_interval("4h")
        .routes(
            [
                _route(
                    ONCALL_PAGERDUTY,
                    ("audience", "=", ENGINEERING),
                    ("priority", "=", "high"),
                    group_by=("alertname",),
                    repeat="1h",
                    wait="0s",
                ),
                _route(ENGINEERING_EMAIL, ("audience", "=", ENGINEERING), group_by=("alertname",)),
                clinical_ward,
                _route(CLINICAL_EMAIL, ("audience", "=", CLINICAL), group_by=("alertname", "ward")),
            ]
        )
        .build()
    )
