"""The rules file as typed data: what is abnormal, how soon, how loud, and on whose authority.

Every model refuses unknown keys (``extra="forbid"``), so a misspelt key in a clinical rule
stops the worker instead of being ignored. Cross-references (sources, rule ids in
combinations, inhibitions and overrides) are checked by :mod:`agents.engine.loader`, which
knows the line each came from.

Durations are minutes unless the name says hours or days. Thresholds are in the measure's
UCUM unit (:data:`MEASURE_UNITS`).
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterator
from datetime import time
from typing import Annotated, Any, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StringConstraints,
    Tag,
    model_validator,
)

from schemas.alerts import PRIORITY_RANK, Priority
from schemas.clinical_events import ClinicalEventType
from schemas.common import Source as EventSource
from schemas.common import WardId
from schemas.drugs import HalfLifeClass
from schemas.enrolment import RiskTier

RuleId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{1,63}$")]
SourceKey = Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9_.-]{0,31}$")]
Op = Literal[">", ">=", "<", "<="]
VitalName = Literal[
    "heart_rate", "systolic_bp", "diastolic_bp", "temperature", "spo2", "respiratory_rate"
]
#: What a threshold rule can watch: a vital, the NEWS2 aggregate or the CIWA-B total.
Measure = Literal[
    "heart_rate",
    "systolic_bp",
    "diastolic_bp",
    "temperature",
    "spo2",
    "respiratory_rate",
    "news2",
    "ciwa_b",
]
AcvpuLevel = Literal["C", "V", "P", "U"]
CheckInAnswer = Literal[
    "hallucinations",
    "seizure_like_episode",
    "tremor",
    "sweating",
    "palpitations",
    "nausea_or_vomiting",
    "wants_callback",
]

#: UCUM unit of each measure.
MEASURE_UNITS: dict[str, str] = {
    "heart_rate": "/min",
    "systolic_bp": "mm[Hg]",
    "diastolic_bp": "mm[Hg]",
    "temperature": "Cel",
    "spo2": "%",
    "respiratory_rate": "/min",
    "news2": "{score}",
    "ciwa_b": "{score}",
}

#: Keys a summary template may use; each renders as "n/a" when the transition has no value.
SUMMARY_KEYS = ("value", "threshold", "unit", "baseline", "news2", "ciwa_b", "minutes")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def compare(value: float, op: Op, threshold: float) -> bool:
    """Whether ``value op threshold`` holds."""
    if op == ">":
        return value > threshold
    if op == ">=":
        return value >= threshold
    if op == "<":
        return value < threshold
    return value <= threshold


def is_upward(op: Op) -> bool:
    """Whether the rule fires on high values."""
    return op in (">", ">=")


def relaxed(op: Op, threshold: float, hysteresis: float) -> float:
    """The threshold moved by the hysteresis towards normal: where an active alert resolves."""
    return threshold - hysteresis if is_upward(op) else threshold + hysteresis


class SourceEntry(_Strict):
    """A published source that rules cite by key (clinical.md section 13 numbering)."""

    short: str = Field(min_length=1, max_length=80, description="Shown on pages.")
    citation: str = Field(min_length=1, description="The full reference.")


class Persistence(_Strict):
    """How long a condition must hold before it pages (alarm delay, Welch 2011 [R29]).

    Fires on ``readings`` consecutive readings past the threshold, or once the condition has
    held, uncontradicted, for ``minutes``, whichever comes first; with neither, on the first
    reading. A spot check (a reading with no earlier reading of
    the same measure within ``PersistenceConfig.spot_check_gap_minutes``) or a reading from a
    confirmed source fires at once: nobody is streaming a second reading to confirm it.
    """

    readings: int | None = Field(default=None, ge=2, le=20)
    minutes: float | None = Field(default=None, gt=0, le=1440)

    @property
    def immediate(self) -> bool:
        """Whether the first reading fires."""
        return self.readings is None and self.minutes is None


class Level(_Strict):
    """A more severe step of a threshold rule: past ``threshold`` the alert is ``priority``."""

    threshold: float
    priority: Priority


class Timers(_Strict):
    """Re-notification and escalation while an alert is unacknowledged (minutes; null: never)."""

    renotify_minutes: float | None = Field(default=None, ge=1, le=10080)
    escalate_minutes: float | None = Field(default=None, ge=1, le=10080)


class RuleBase(_Strict):
    """Fields every rule has."""

    id: RuleId
    summary: str = Field(
        min_length=1,
        max_length=200,
        description="One line for the page; may use {value}, {threshold}, {unit}, {baseline}, "
        "{news2}, {ciwa_b}, {minutes} with a format spec such as {value:g}.",
    )
    priority: Priority = Field(description="IEC 60601-1-8 priority when it fires.")
    source: list[SourceKey] = Field(min_length=1, description="Keys into the sources table.")
    rationale: str = Field(min_length=1, description="Why the rule exists and why these numbers.")
    enabled: bool = True
    group: str | None = Field(
        default=None,
        pattern=r"^[a-z][a-z0-9_]{0,31}$",
        description="What the rule is about, for counting concurrent alerts (default: measure).",
    )
    inhibited_by: list[RuleId] = Field(
        default_factory=list,
        description="While one of these alerts is active this rule does not fire (one page "
        "per finding).",
    )
    timers: Timers | None = Field(
        default=None, description="Replaces the priority's re-notification/escalation timers."
    )
    renotify_after_ack_minutes: float | None = Field(
        default=None,
        ge=1,
        le=10080,
        description="Re-notify this long after an acknowledgement if the condition persists.",
    )
    quiet_hours_exempt: bool = Field(
        default=False, description="Notify even in quiet hours (data-gap notices)."
    )

    @model_validator(mode="after")
    def _check_summary(self) -> Self:
        check_template(self.summary)
        return self

    @property
    def default_group(self) -> str:
        """The group used when none is set."""
        return self.group or self.id


class ThresholdRule(RuleBase):
    """A measure past a threshold, with persistence before it fires and hysteresis before it
    resolves; ``levels`` raise the priority further out."""

    kind: Literal["threshold"]
    measure: Measure
    op: Op
    threshold: float
    hysteresis: float = Field(default=0, ge=0)
    levels: list[Level] = Field(default_factory=list)
    persistence: Persistence = Field(default_factory=Persistence)
    only_in_peak_window: bool = False
    peak_window_threshold: float | None = Field(
        default=None, description="A tighter threshold inside the peak-risk window."
    )
    spo2_scale: Literal[1, 2] | None = Field(
        default=None, description="Only for patients on this NEWS2 SpO2 scale."
    )
    on_oxygen: bool | None = Field(
        default=None, description="Only when the reading is on (true) or off (false) oxygen."
    )

    @model_validator(mode="after")
    def _check_levels(self) -> Self:
        previous_threshold, previous_rank = self.threshold, PRIORITY_RANK[self.priority]
        for index, level in enumerate(self.levels):
            if not compare(level.threshold, self.op, previous_threshold) or (
                level.threshold == previous_threshold
            ):
                raise ValueError(
                    f"levels[{index}].threshold {level.threshold:g} must be further past "
                    f"{previous_threshold:g} (op {self.op!r})"
                )
            if PRIORITY_RANK[level.priority] <= previous_rank:
                raise ValueError(f"levels[{index}].priority must be higher than the one before")
            previous_threshold, previous_rank = level.threshold, PRIORITY_RANK[level.priority]
        if self.peak_window_threshold is not None and not compare(
            self.threshold, self.op, self.peak_window_threshold
        ):
            raise ValueError("peak_window_threshold must be tighter than threshold")
        if self.levels and self.peak_window_threshold is not None:
            raise ValueError("peak_window_threshold cannot be combined with levels")
        return self

    @property
    def default_group(self) -> str:
        return self.group or self.measure


class BaselineRule(RuleBase):
    """A vital risen ``above_baseline`` over the patient's own baseline (a trend, not a limit)."""

    kind: Literal["baseline"]
    measure: VitalName
    above_baseline: float = Field(gt=0)
    hysteresis: float = Field(default=0, ge=0)
    persistence: Persistence = Field(default_factory=Persistence)
    only_in_peak_window: bool = False

    @property
    def default_group(self) -> str:
        return self.group or self.measure


class ConsciousnessRule(RuleBase):
    """ACVPU other than Alert; resolves when Alert is recorded again."""

    kind: Literal["consciousness"]
    fires_on: list[AcvpuLevel] = Field(min_length=1)

    @property
    def default_group(self) -> str:
        return self.group or "consciousness"


class RiseRule(RuleBase):
    """A score risen by ``rise`` or more over its lowest value in the previous hours."""

    kind: Literal["rise"]
    measure: Literal["ciwa_b"]
    rise: float = Field(gt=0)
    within_hours: float = Field(gt=0, le=168)

    @property
    def default_group(self) -> str:
        return self.group or self.measure


class EventMatch(_Strict):
    """Which reported events a rule pages on, and at what priority (default: the rule's)."""

    kind: Literal["clinical_event", "check_in"]
    event_types: list[ClinicalEventType] = Field(default_factory=list)
    answers: list[CheckInAnswer] = Field(
        default_factory=list, description="Check-in answers that match when true."
    )
    min_sedation_score: int | None = Field(default=None, ge=0, le=3)
    priority: Priority | None = None

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.kind == "clinical_event" and (not self.event_types or self.answers):
            raise ValueError("a clinical_event match needs event_types and no answers")
        if self.kind == "check_in" and (not self.answers or self.event_types):
            raise ValueError("a check_in match needs answers and no event_types")
        if self.min_sedation_score is not None and self.event_types != ["over_sedation"]:
            raise ValueError("min_sedation_score needs event_types: [over_sedation]")
        return self


class EventRule(RuleBase):
    """Reported events that page at once. The alert stands until acknowledged, then resolves
    after ``quiet_minutes`` without another matching event."""

    kind: Literal["event"]
    match: list[EventMatch] = Field(min_length=1)
    quiet_minutes: float = Field(default=60, gt=0, le=10080)


class News2Priority(_Strict):
    """From this NEWS2 aggregate up, a data-gap alert is raised at ``priority``."""

    min_score: int = Field(ge=0, le=20)
    priority: Priority


class OverdueRule(RuleBase):
    """No observation (or CIWA-B score) for ``missed`` times the cadence the patient's phase and
    latest score call for. Re-notified while the silence lasts; a reading closes it."""

    kind: Literal["overdue"]
    measure: Literal["vital_signs", "ciwa_b"]
    missed: float = Field(default=1.0, ge=1, le=10)
    priority_by_news2: list[News2Priority] = Field(default_factory=list)


class DeviceSilentRule(RuleBase):
    """A device that was streaming (readings at most ``streaming_within_minutes`` apart) has
    sent nothing for ``silent_after_minutes``."""

    kind: Literal["device_silent"]
    silent_after_minutes: float = Field(gt=0, le=1440)
    streaming_within_minutes: float = Field(gt=0, le=240)
    priority_by_news2: list[News2Priority] = Field(default_factory=list)


# --- combination predicates ------------------------------------------------------------


class RuleActive(_Strict):
    """Another rule's alert is active (firing, re-notified, escalated or acknowledged)."""

    rule: RuleId


class VitalPast(_Strict):
    """The latest value of a measure, no older than ``max_age_minutes``, is past a threshold."""

    measure: Measure
    op: Op
    threshold: float
    hysteresis: float = Field(default=0, ge=0)
    max_age_minutes: float = Field(default=60, gt=0, le=1440)


class ConsciousnessIs(_Strict):
    """The latest ACVPU, no older than ``max_age_minutes``, is one of these."""

    consciousness: list[AcvpuLevel] = Field(min_length=1)
    max_age_minutes: float = Field(default=60, gt=0, le=1440)


class InPeakWindow(_Strict):
    """The patient is inside a peak-risk window (drug window or taper rebound watch)."""

    in_peak_window: Literal[True]


class CountSpec(_Strict):
    """At least ``at_least`` active alerts of ``min_priority`` or above (combinations aside)."""

    at_least: int = Field(ge=2, le=10)
    min_priority: Priority = "medium"
    distinct_groups: bool = True
    exclude_groups: list[str] = Field(default_factory=list)


class ActiveCount(_Strict):
    """Several alerts at once."""

    active_count: CountSpec


class AnyOf(_Strict):
    """At least one of the predicates holds."""

    any_of: list[Predicate] = Field(min_length=1)


class AllOf(_Strict):
    """Every predicate holds."""

    all_of: list[Predicate] = Field(min_length=1)


_PREDICATE_TAGS = {
    "rule": "rule",
    "measure": "vital",
    "consciousness": "consciousness",
    "in_peak_window": "peak",
    "active_count": "count",
    "any_of": "any",
    "all_of": "all",
}


def _predicate_tag(value: Any) -> str | None:
    if isinstance(value, dict):
        keys = value.keys()
    elif isinstance(value, BaseModel):
        keys = type(value).model_fields.keys()
    else:
        return None
    for key, tag in _PREDICATE_TAGS.items():
        if key in keys:
            return tag
    return None


Predicate = Annotated[
    Annotated[RuleActive, Tag("rule")]
    | Annotated[VitalPast, Tag("vital")]
    | Annotated[ConsciousnessIs, Tag("consciousness")]
    | Annotated[InPeakWindow, Tag("peak")]
    | Annotated[ActiveCount, Tag("count")]
    | Annotated[AnyOf, Tag("any")]
    | Annotated[AllOf, Tag("all")],
    Discriminator(
        _predicate_tag,
        custom_error_type="predicate",
        custom_error_message="a predicate needs one of the keys " + ", ".join(_PREDICATE_TAGS),
    ),
]


class CombinationRule(RuleBase):
    """Fires when every predicate holds; resolves when one no longer holds, judged with each
    vital predicate's hysteresis."""

    kind: Literal["combination"]
    all_of: list[Predicate] = Field(min_length=1)

    def referenced_rules(self) -> Iterator[str]:
        """Rule ids this combination depends on."""
        yield from _referenced(self.all_of)


def _referenced(predicates: list[Predicate]) -> Iterator[str]:
    for predicate in predicates:
        if isinstance(predicate, RuleActive):
            yield predicate.rule
        elif isinstance(predicate, AnyOf):
            yield from _referenced(predicate.any_of)
        elif isinstance(predicate, AllOf):
            yield from _referenced(predicate.all_of)


Rule = Annotated[
    ThresholdRule
    | BaselineRule
    | ConsciousnessRule
    | RiseRule
    | EventRule
    | OverdueRule
    | DeviceSilentRule
    | CombinationRule,
    Field(discriminator="kind"),
]

RULE_KINDS = (
    "threshold",
    "baseline",
    "consciousness",
    "rise",
    "event",
    "overdue",
    "device_silent",
    "combination",
)

# --- engine-wide settings --------------------------------------------------------------


class PeakWindow(_Strict):
    """Peak-risk window in hours after the last dose."""

    start_hours: float = Field(ge=0)
    end_hours: float = Field(gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.end_hours <= self.start_hours:
            raise ValueError("end_hours must be after start_hours")
        return self


class PhaseConfig(_Strict):
    """Withdrawal phases and peak-risk windows (clinical.md section 11.2)."""

    peak_windows: dict[HalfLifeClass, PeakWindow]
    taper_watch_days: float = Field(gt=0, le=60)
    protracted_after_days: float = Field(gt=0, le=365)
    source: list[SourceKey] = Field(min_length=1)
    rationale: str = Field(min_length=1)

    @model_validator(mode="after")
    def _every_class(self) -> Self:
        missing = {"short", "intermediate", "long", "unknown"} - set(self.peak_windows)
        if missing:
            raise ValueError(f"peak_windows lacks {', '.join(sorted(missing))}")
        return self


class Cadence(_Strict):
    """Minutes between observations; ``peak_minutes`` applies inside a peak-risk window."""

    minutes: float = Field(gt=0, le=10080)
    peak_minutes: float | None = Field(default=None, gt=0, le=10080)

    def at(self, in_peak: bool) -> float:
        """The cadence in force."""
        return self.peak_minutes if in_peak and self.peak_minutes is not None else self.minutes


class CadenceConfig(_Strict):
    """Observation cadence by NEWS2 band and CIWA-B re-score interval by CIWA-B band."""

    news2_unknown: Cadence = Field(description="No NEWS2 yet (no complete observation set).")
    news2_zero: Cadence
    news2_low: Cadence = Field(description="Aggregate 1-4 without a single parameter of 3.")
    news2_single_3: Cadence
    news2_medium: Cadence = Field(description="Aggregate 5-6.")
    news2_high: Cadence = Field(description="Aggregate 7 or more ('continuous').")
    ciwa_b_mild: Cadence = Field(description="CIWA-B 0-20, or no score yet.")
    ciwa_b_moderate: Cadence = Field(description="CIWA-B 21-40.")
    ciwa_b_severe: Cadence = Field(description="CIWA-B 41-80.")
    source: list[SourceKey] = Field(min_length=1)
    rationale: str = Field(min_length=1)


class EscalationConfig(_Strict):
    """Timers per priority while an alert is unacknowledged (clinical.md section 11.4)."""

    high: Timers
    medium: Timers
    low: Timers
    source: list[SourceKey] = Field(min_length=1)
    rationale: str = Field(min_length=1)

    def for_priority(self, priority: Priority) -> Timers:
        """The timers of ``priority``."""
        return {"high": self.high, "medium": self.medium, "low": self.low}[priority]


def _low_only() -> list[Priority]:
    return ["low"]


_HHMM = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")


class QuietHours(_Strict):
    """Low-priority alerts held back overnight (clinical.md section 11.7); they are notified at
    the end of quiet hours if still active, and dropped if they resolved in the meantime."""

    enabled: bool = True
    start: str = Field(description="Local time, HH:MM.")
    end: str = Field(description="Local time, HH:MM.")
    timezone: str = Field(min_length=1, description="IANA time zone of the ward.")
    suppress: list[Priority] = Field(default_factory=_low_only)
    exempt_kinds: list[str] = Field(default_factory=lambda: ["overdue", "device_silent"])
    source: list[SourceKey] = Field(min_length=1)
    rationale: str = Field(min_length=1)

    @model_validator(mode="after")
    def _check(self) -> Self:
        for name in ("start", "end"):
            if not _HHMM.match(getattr(self, name)):
                raise ValueError(f"{name} must be HH:MM (24-hour)")
        if self.start == self.end:
            raise ValueError("start and end must differ")
        unknown = set(self.exempt_kinds) - set(RULE_KINDS)
        if unknown:
            raise ValueError(f"exempt_kinds: unknown kind {', '.join(sorted(unknown))}")
        return self

    def start_time(self) -> time:
        """``start`` as a time of day."""
        return time.fromisoformat(self.start)

    def end_time(self) -> time:
        """``end`` as a time of day."""
        return time.fromisoformat(self.end)


class PersistenceConfig(_Strict):
    """When persistence applies at all."""

    spot_check_gap_minutes: float = Field(gt=0, le=1440)
    confirmed_sources: list[EventSource] = Field(default_factory=list)
    rationale: str = Field(min_length=1)


class BaselineConfig(_Strict):
    """How the patient's own baseline is set."""

    readings: int = Field(ge=1, le=20, description="Median of the first N readings per vital.")
    rationale: str = Field(min_length=1)


class News2Config(_Strict):
    """NEWS2 computation choices (RCP 2017 [R1])."""

    oxygen_unrecorded_as: Literal["air", "incomplete"] = Field(
        description="A set without supplemental_oxygen: score it as air, or skip NEWS2."
    )
    source: list[SourceKey] = Field(min_length=1)
    rationale: str = Field(min_length=1)


class RuleOverride(_Strict):
    """A ward's or risk tier's change to one rule."""

    enabled: bool | None = None
    threshold: float | None = None


class Overrides(_Strict):
    """Per ward and per risk tier; per patient they come from the enrolment. Applied in that
    order: ward, then risk tier, then patient (the most specific wins)."""

    wards: dict[WardId, dict[RuleId, RuleOverride]] = Field(default_factory=dict)
    risk_tiers: dict[RiskTier, dict[RuleId, RuleOverride]] = Field(default_factory=dict)


class RuleSet(_Strict):
    """A whole rules file."""

    version: Literal[1]
    description: str = ""
    sources: dict[SourceKey, SourceEntry]
    phase: PhaseConfig
    news2: News2Config
    cadence: CadenceConfig
    escalation: EscalationConfig
    quiet_hours: QuietHours | None = None
    persistence: PersistenceConfig
    baseline: BaselineConfig
    rules: list[Rule] = Field(min_length=1)
    overrides: Overrides = Field(default_factory=Overrides)

    def rule(self, rule_id: str) -> Rule:
        """The rule with this id.

        Raises:
            KeyError: no such rule.
        """
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise KeyError(rule_id)

    def source_text(self, keys: list[str]) -> str:
        """The short citations of ``keys``, as a page shows them."""
        return "; ".join(f"{self.sources[key].short} [{key}]" for key in keys)


class _NaFormatter(string.Formatter):
    """Renders a missing value as 'n/a' whatever its format spec."""

    def format_field(self, value: Any, format_spec: str) -> str:
        if value is None:
            return "n/a"
        return format(value, format_spec)


_FORMATTER = _NaFormatter()


def render(template: str, values: dict[str, Any]) -> str:
    """Fill a summary template."""
    return str(_FORMATTER.vformat(template, (), {key: values.get(key) for key in SUMMARY_KEYS}))


def check_template(template: str) -> None:
    """Raise ValueError if ``template`` uses an unknown key or a bad format spec."""
    for _, field, spec, _ in _FORMATTER.parse(template):
        if field is None:
            continue
        if field not in SUMMARY_KEYS:
            raise ValueError(f"summary uses {{{field}}}; known keys: {', '.join(SUMMARY_KEYS)}")
        if field != "unit":
            try:
                format(1.5, spec or "")
            except ValueError as exc:
                raise ValueError(f"summary: bad format spec {spec!r} for {{{field}}}") from exc


AnyOf.model_rebuild()
AllOf.model_rebuild()
CombinationRule.model_rebuild()
RuleSet.model_rebuild()
