"""Judging each rule kind on new data: fire, hold pending, worsen, keep, or resolve.

A rule's condition is judged when new data arrives (a reading, a score, a reported event);
time alone drives only timers (:mod:`agents.engine.timers`). Comparisons use rounded values
(temperature to 0.1, everything else whole, as NEWS2 does), so a rule and the NEWS2 chart never
disagree about which side of a limit a reading is on; evidence shows the value as measured.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from uuid import UUID

from agents.engine import lifecycle
from agents.engine.context import Context
from agents.engine.lifecycle import Facts
from agents.engine.news2 import rounded
from agents.engine.rules import (
    MEASURE_UNITS,
    ActiveCount,
    AnyOf,
    BaselineRule,
    CombinationRule,
    ConsciousnessIs,
    ConsciousnessRule,
    EventRule,
    InPeakWindow,
    Persistence,
    Predicate,
    RiseRule,
    Rule,
    RuleActive,
    ThresholdRule,
    VitalPast,
    compare,
    relaxed,
)
from agents.engine.state import Pending
from schemas.alerts import PRIORITY_RANK, AlertEvidence, Priority
from schemas.assessments import CheckIn
from schemas.clinical_events import ClinicalEvent


@dataclass(frozen=True)
class Observed:
    """One new reading of one measure, as the rules judge it."""

    measure: str
    value: float
    raw: float
    at: datetime
    event_id: UUID | None
    confirmed: bool
    on_oxygen: bool
    values: dict[str, float]


def inhibited(ctx: Context, rule: Rule) -> bool:
    """Whether an alert that inhibits ``rule`` is active."""
    return any(other in ctx.state.alerts for other in rule.inhibited_by)


def _context_facts(ctx: Context) -> Facts:
    ciwa = ctx.state.latest_ciwa_b()
    return {
        "news2": float(ctx.state.news2.total) if ctx.state.news2 else None,
        "ciwa_b": float(ciwa.total) if ciwa else None,
    }


def _judge(
    ctx: Context,
    rule: Rule,
    moment: datetime,
    *,
    crossed: bool,
    recovered: bool,
    priority: Priority,
    make_evidence: Callable[[], AlertEvidence],
    facts: Facts,
    persistence: Persistence | None,
    reading: Observed | None,
) -> None:
    """Fire, hold pending, worsen, keep or resolve one rule's alert (evidence built lazily:
    most readings change nothing)."""
    state = ctx.state
    record = state.alerts.get(rule.id)
    if record is None and (not crossed or inhibited(ctx, rule)):
        state.pending.pop(rule.id, None)
        return
    evidence = make_evidence()
    if record is not None:
        if recovered:
            lifecycle.resolve(ctx, record, rule, moment, evidence=evidence)
        elif crossed and PRIORITY_RANK[priority] > PRIORITY_RANK[record.priority]:
            lifecycle.worsen(
                ctx, record, rule, moment, priority=priority, evidence=evidence, facts=facts
            )
        else:
            lifecycle.update(record, evidence, facts)
        return
    if persistence is None or persistence.immediate or reading is None or reading.confirmed:
        lifecycle.fire(ctx, rule, moment, priority=priority, evidence=evidence, facts=facts)
        return
    pending = state.pending.get(rule.id)
    if pending is None:
        pending = Pending(
            since=reading.at, readings=1, priority=priority, evidence=evidence, facts=facts
        )
    else:
        pending.readings += 1
        pending.evidence, pending.facts = evidence, facts
        if PRIORITY_RANK[priority] > PRIORITY_RANK[pending.priority]:
            pending.priority = priority
    state.pending[rule.id] = pending
    enough_readings = persistence.readings is not None and pending.readings >= persistence.readings
    long_enough = persistence.minutes is not None and reading.at - pending.since >= timedelta(
        minutes=persistence.minutes
    )
    if enough_readings or long_enough:
        lifecycle.fire(ctx, rule, moment, priority=pending.priority, evidence=evidence, facts=facts)


def judge_threshold(ctx: Context, rule: ThresholdRule, reading: Observed, moment: datetime) -> None:
    """A measure past a threshold (with levels, peak-window tightening and hysteresis).

    A reading the rule does not apply to (another SpO2 scale, off oxygen, outside the peak
    window for a window-only rule) resolves an active alert: the condition no longer holds.
    """
    scale = ctx.state.enrolment.spo2_scale if ctx.state.enrolment else 1
    in_peak = ctx.in_peak(reading.at)
    applies = (
        (rule.spo2_scale is None or rule.spo2_scale == scale)
        and (rule.on_oxygen is None or reading.on_oxygen == rule.on_oxygen)
        and (in_peak or not rule.only_in_peak_window)
    )
    threshold = rule.threshold
    if in_peak and rule.peak_window_threshold is not None:
        threshold = rule.peak_window_threshold
    priority, shown = rule.priority, threshold
    if not applies:  # e.g. off oxygen now, or the window has closed: an active alert resolves
        crossed, recovered = False, True
    else:
        crossed = compare(reading.value, rule.op, threshold)
        recovered = not compare(
            reading.value, rule.op, relaxed(rule.op, threshold, rule.hysteresis)
        )
        for level in rule.levels:
            if compare(reading.value, rule.op, level.threshold):
                priority, shown = level.priority, level.threshold
    make_evidence = partial(
        ctx.evidence,
        moment,
        measure=rule.measure,
        observed_at=reading.at,
        value=reading.raw,
        unit=MEASURE_UNITS[rule.measure],
        threshold=shown,
        event_id=reading.event_id,
        values=reading.values,
    )
    facts = {**_context_facts(ctx), "value": reading.raw, "threshold": shown}
    _judge(
        ctx,
        rule,
        moment,
        crossed=crossed,
        recovered=recovered,
        priority=priority,
        make_evidence=make_evidence,
        facts=facts,
        persistence=rule.persistence,
        reading=reading,
    )


def judge_baseline(ctx: Context, rule: BaselineRule, reading: Observed, moment: datetime) -> None:
    """A vital risen over the patient's own baseline (no baseline yet: nothing to judge)."""
    baseline = ctx.state.baseline.get(rule.measure)
    if baseline is None:
        return
    limit = baseline + rule.above_baseline
    if rule.only_in_peak_window and not ctx.in_peak(reading.at):
        crossed, recovered = False, True
    else:
        crossed = reading.value >= limit
        recovered = reading.value < limit - rule.hysteresis
    make_evidence = partial(
        ctx.evidence,
        moment,
        measure=rule.measure,
        observed_at=reading.at,
        value=reading.raw,
        unit=MEASURE_UNITS[rule.measure],
        threshold=limit,
        event_id=reading.event_id,
        values=reading.values,
    )
    facts = {**_context_facts(ctx), "value": reading.raw, "threshold": limit, "baseline": baseline}
    _judge(
        ctx,
        rule,
        moment,
        crossed=crossed,
        recovered=recovered,
        priority=rule.priority,
        make_evidence=make_evidence,
        facts=facts,
        persistence=rule.persistence,
        reading=reading,
    )


def judge_consciousness(
    ctx: Context,
    rule: ConsciousnessRule,
    level: str,
    *,
    at: datetime,
    event_id: UUID,
    values: dict[str, float],
    moment: datetime,
) -> None:
    """ACVPU other than Alert fires at once; Alert recorded again resolves."""
    make_evidence = partial(
        ctx.evidence,
        moment,
        measure="consciousness",
        observed_at=at,
        event_id=event_id,
        values=values,
    )
    _judge(
        ctx,
        rule,
        moment,
        crossed=level in rule.fires_on,
        recovered=level == "A",
        priority=rule.priority,
        make_evidence=make_evidence,
        facts=_context_facts(ctx),
        persistence=None,
        reading=None,
    )


def judge_rise(
    ctx: Context, rule: RiseRule, *, total: int, at: datetime, event_id: UUID, moment: datetime
) -> None:
    """A CIWA-B total risen by ``rise`` over the lowest total of the preceding hours."""
    window_start = at - timedelta(hours=rule.within_hours)
    earlier = [
        score.total
        for score in ctx.state.ciwa_b
        if window_start <= score.at < at and score.event_id != event_id
    ]
    rise = total - min(earlier) if earlier else 0
    make_evidence = partial(
        ctx.evidence,
        moment,
        measure=rule.measure,
        observed_at=at,
        value=float(rise),
        unit=MEASURE_UNITS[rule.measure],
        threshold=rule.rise,
        event_id=event_id,
    )
    facts = {**_context_facts(ctx), "value": float(rise), "threshold": rule.rise}
    _judge(
        ctx,
        rule,
        moment,
        crossed=rise >= rule.rise,
        recovered=rise < rule.rise,
        priority=rule.priority,
        make_evidence=make_evidence,
        facts=facts,
        persistence=None,
        reading=None,
    )


def _event_priority(rule: EventRule, event: ClinicalEvent | CheckIn) -> tuple[Priority, str] | None:
    best: tuple[Priority, str] | None = None
    measure: str
    for match in rule.match:
        if isinstance(event, ClinicalEvent) and match.kind == "clinical_event":
            if event.event_type not in match.event_types:
                continue
            if match.min_sedation_score is not None and (
                event.sedation_score is None or event.sedation_score < match.min_sedation_score
            ):
                continue
            measure = event.event_type
        elif isinstance(event, CheckIn) and match.kind == "check_in":
            answered = [answer for answer in match.answers if getattr(event, answer) is True]
            if not answered:
                continue
            measure = answered[0]
        else:
            continue
        priority = match.priority or rule.priority
        if best is None or PRIORITY_RANK[priority] > PRIORITY_RANK[best[0]]:
            best = (priority, measure)
    return best


def judge_event(
    ctx: Context, rule: EventRule, event: ClinicalEvent | CheckIn, moment: datetime
) -> None:
    """A reported event pages at once; a repeat keeps the alert open (or worsens it)."""
    matched = _event_priority(rule, event)
    if matched is None:
        return
    priority, measure = matched
    value = (
        float(event.sedation_score)
        if isinstance(event, ClinicalEvent) and (event.sedation_score is not None)
        else None
    )
    evidence = ctx.evidence(
        moment, measure=measure, observed_at=event.observed_at, value=value, event_id=event.event_id
    )
    facts = {**_context_facts(ctx), "value": value}
    record = ctx.state.alerts.get(rule.id)
    if record is None:
        if inhibited(ctx, rule):
            return
        record = lifecycle.fire(
            ctx, rule, moment, priority=priority, evidence=evidence, facts=facts
        )
    elif PRIORITY_RANK[priority] > PRIORITY_RANK[record.priority]:
        lifecycle.worsen(
            ctx, record, rule, moment, priority=priority, evidence=evidence, facts=facts
        )
    else:
        lifecycle.update(record, evidence, facts)
    record.last_match_at = moment


def recover_gap(
    ctx: Context, rule: Rule, *, at: datetime, event_id: UUID, moment: datetime
) -> None:
    """Data have returned: close a data-gap alert with a recovery notice."""
    record = ctx.state.alerts.get(rule.id)
    if record is None:
        return
    minutes = round((at - record.evidence.observed_at).total_seconds() / 60, 1)
    evidence = record.evidence.model_copy(update={"value": minutes, "reading_event_id": event_id})
    lifecycle.resolve(
        ctx,
        record,
        rule,
        moment,
        evidence=evidence,
        facts={**record.facts, "minutes": minutes, "value": minutes},
    )


# --- combinations --------------------------------------------------------------------------


def _latest(ctx: Context, measure: str) -> tuple[float, datetime] | None:
    if measure == "news2":
        news2 = ctx.state.news2
        return (float(news2.total), news2.at) if news2 else None
    if measure == "ciwa_b":
        ciwa = ctx.state.latest_ciwa_b()
        return (float(ciwa.total), ciwa.at) if ciwa else None
    reading = ctx.state.latest.get(measure)
    return (reading.value, reading.at) if reading else None


def _fresh(at: datetime, moment: datetime, max_age_minutes: float) -> bool:
    return moment - at <= timedelta(minutes=max_age_minutes)


def holds(ctx: Context, predicate: Predicate, moment: datetime, *, strict: bool) -> bool:
    """Whether a combination predicate holds; ``strict`` False judges with hysteresis."""
    if isinstance(predicate, RuleActive):
        return predicate.rule in ctx.state.alerts
    if isinstance(predicate, VitalPast):
        latest = _latest(ctx, predicate.measure)
        if latest is None or not _fresh(latest[1], moment, predicate.max_age_minutes):
            return False
        threshold = predicate.threshold
        if not strict:
            threshold = relaxed(predicate.op, threshold, predicate.hysteresis)
        return compare(rounded(predicate.measure, latest[0]), predicate.op, threshold)
    if isinstance(predicate, ConsciousnessIs):
        at = ctx.state.consciousness_at
        return (
            at is not None
            and ctx.state.consciousness in predicate.consciousness
            and _fresh(at, moment, predicate.max_age_minutes)
        )
    if isinstance(predicate, InPeakWindow):
        return ctx.in_peak(moment)
    if isinstance(predicate, ActiveCount):
        spec = predicate.active_count
        counted = []
        for rule_id, record in ctx.state.alerts.items():
            rule = ctx.rule(rule_id)
            if rule is None or isinstance(rule, CombinationRule):
                continue
            if PRIORITY_RANK[record.priority] < PRIORITY_RANK[spec.min_priority]:
                continue
            if rule.default_group in spec.exclude_groups:
                continue
            counted.append(rule.default_group if spec.distinct_groups else rule_id)
        return len(set(counted)) >= spec.at_least
    if isinstance(predicate, AnyOf):
        return any(holds(ctx, item, moment, strict=strict) for item in predicate.any_of)
    return all(holds(ctx, item, moment, strict=strict) for item in predicate.all_of)


def _all_hold(ctx: Context, rule: CombinationRule, moment: datetime, *, strict: bool) -> bool:
    return all(holds(ctx, item, moment, strict=strict) for item in rule.all_of)


def judge_combination(ctx: Context, rule: CombinationRule, moment: datetime) -> None:
    """Fire when every predicate holds; resolve when one no longer holds (with hysteresis)."""
    record = ctx.state.alerts.get(rule.id)
    if record is None:
        if _all_hold(ctx, rule, moment, strict=True) and not inhibited(ctx, rule):
            evidence = ctx.evidence(moment, measure="combination", observed_at=moment)
            lifecycle.fire(
                ctx,
                rule,
                moment,
                priority=rule.priority,
                evidence=evidence,
                facts=_context_facts(ctx),
            )
    elif not _all_hold(ctx, rule, moment, strict=False):
        evidence = ctx.evidence(moment, measure="combination", observed_at=moment)
        lifecycle.resolve(ctx, record, rule, moment, evidence=evidence, facts=_context_facts(ctx))


def judge_combinations(ctx: Context, moment: datetime) -> None:
    """Judge every enabled combination, dependencies first."""
    for rule in combination_order(ctx.rules):
        if rule.enabled:
            judge_combination(ctx, rule, moment)


def combination_order(rules: tuple[Rule, ...]) -> list[CombinationRule]:
    """Combinations ordered so one that names another comes after it (the loader has
    refused cycles)."""
    combos = {rule.id: rule for rule in rules if isinstance(rule, CombinationRule)}
    ordered: list[CombinationRule] = []
    placed: set[str] = set()

    def place(rule: CombinationRule) -> None:
        if rule.id in placed:
            return
        placed.add(rule.id)
        for other in rule.referenced_rules():
            if other in combos:
                place(combos[other])
        ordered.append(rule)

    for rule in combos.values():
        place(rule)
    return ordered
