"""The engine's two entry points: :func:`evaluate` an event, :func:`tick` for time passing.

Both are pure: they take a state, the rules and ``now`` (event time), and return a new state,
the alert transitions and a snapshot; they read no clock and touch no network, so the Faust
agent, ``detoxmon replay``, ``detoxmon rules test`` and the unit tests run the same code.

Before an event is evaluated the engine ticks up to (not including) the event's time, so a
silence between two events is judged on event time, and anything due at exactly the event's
time is judged after the event (the event may resolve it).

Usage::

    state = new_state("pt-0001")
    for event in events:
        result = evaluate(state, event, rules, now=event.observed_at)
        state = result.state
        publish(result.transitions, result.snapshot)
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta

from agents.engine import lifecycle
from agents.engine.conditions import (
    Observed,
    judge_baseline,
    judge_combinations,
    judge_consciousness,
    judge_event,
    judge_rise,
    judge_threshold,
    recover_gap,
)
from agents.engine.context import Context
from agents.engine.news2 import ObservationSet, rounded, score
from agents.engine.rules import (
    BaselineRule,
    ConsciousnessRule,
    DeviceSilentRule,
    EventRule,
    OverdueRule,
    RiseRule,
    RuleSet,
    ThresholdRule,
)
from agents.engine.snapshot import build_snapshot
from agents.engine.state import (
    EnrolmentInfo,
    News2Record,
    PatientState,
    Reading,
    Score,
    latest_time,
    remember,
    seen,
)
from agents.engine.timers import advance, next_due
from schemas.acks import AlertAcknowledgement
from schemas.alerts import Alert
from schemas.assessments import CheckIn, CiwaBAssessment
from schemas.clinical_events import ClinicalEvent
from schemas.doses import DoseAdministration
from schemas.enrolment import Discharge, Enrolment
from schemas.events import InboundEvent
from schemas.state import PatientSnapshot
from schemas.vitals import VitalSignsObservation

#: What :func:`evaluate` accepts: any inbound event or an acknowledgement.
EngineEvent = InboundEvent | AlertAcknowledgement

#: How long CIWA-B totals are kept when no rise rule asks for longer, hours.
_CIWA_B_HISTORY_HOURS = 24.0


@dataclass(frozen=True)
class Evaluation:
    """The result of one call: the new state, the transitions to publish and a snapshot.

    ``changed`` is False when the state is the one passed in (a redelivered event, or a tick
    with nothing due), so the caller can skip writing it back.
    """

    state: PatientState
    transitions: tuple[Alert, ...]
    snapshot: PatientSnapshot
    changed: bool = True


def event_time(event: EngineEvent) -> datetime:
    """The event time of an event or acknowledgement."""
    return event.at if isinstance(event, AlertAcknowledgement) else event.observed_at


def event_key(event: EngineEvent) -> str:
    """The idempotency key of an event or acknowledgement."""
    return str(event.ack_id if isinstance(event, AlertAcknowledgement) else event.event_id)


def evaluate(
    state: PatientState, event: EngineEvent, rules: RuleSet, *, now: datetime
) -> Evaluation:
    """Evaluate one event (or acknowledgement) for its patient.

    Args:
        state: the patient's state (not modified).
        event: an accepted inbound event or an acknowledgement, for ``state.patient_id``.
        rules: the rule set.
        now: event time to evaluate at, normally the event's own time; never before the
            state's clock (a late event is evaluated at the clock).

    Returns:
        The new state, the alert transitions in order, and the snapshot at ``now``.

    Raises:
        ValueError: the event is for another patient.
    """
    if event.patient_id != state.patient_id:
        raise ValueError(f"event for {event.patient_id!r} given the state of {state.patient_id!r}")
    moment = now if state.clock is None else max(now, state.clock)
    if seen(state, event_key(event)):
        return Evaluation(state, (), build_snapshot(Context(rules, state), moment), changed=False)
    work = _copy(state)
    ctx = Context(rules, work)
    _drop_unknown_rules(ctx)
    advance(ctx, moment, inclusive=False)
    _apply(ctx, event, moment)
    judge_combinations(ctx, moment)
    work.clock = moment
    work.last_event_at = latest_time(work.last_event_at, event_time(event))
    remember(work, event_key(event))
    return Evaluation(work, tuple(ctx.transitions), build_snapshot(ctx, moment))


def tick(state: PatientState, rules: RuleSet, *, now: datetime) -> Evaluation:
    """Let event time pass up to and including ``now``: data gaps, persistence by duration,
    quiet-hours releases, re-notification and escalation.

    Returns the same state (``changed`` False) when nothing was due.
    """
    probe = Context(rules, state)
    if state.clock is not None and now < state.clock:
        return Evaluation(state, (), build_snapshot(probe, state.clock), changed=False)
    unknown = any(probe.rule(rule_id) is None for rule_id in [*state.alerts, *state.pending])
    due = next_due(probe)
    if not unknown and (due is None or due > now):  # the common tick: nothing to do, no copy
        return Evaluation(state, (), build_snapshot(probe, now), changed=False)
    work = _copy(state)
    ctx = Context(rules, work)
    dropped = _drop_unknown_rules(ctx)
    if not advance(ctx, now, inclusive=True) and not dropped:
        return Evaluation(state, (), build_snapshot(probe, now), changed=False)
    return Evaluation(work, tuple(ctx.transitions), build_snapshot(ctx, now))


def _copy(state: PatientState) -> PatientState:
    """A deep copy (re-validating a dump is about three times faster than deepcopy)."""
    return PatientState.model_validate(state.model_dump())


def _drop_unknown_rules(ctx: Context) -> bool:
    """Forget alerts and pending conditions of rules the rules file no longer has."""
    state = ctx.state
    unknown = [rule_id for rule_id in state.alerts if ctx.rule(rule_id) is None]
    unknown += [rule_id for rule_id in state.pending if ctx.rule(rule_id) is None]
    for rule_id in unknown:
        state.alerts.pop(rule_id, None)
        state.pending.pop(rule_id, None)
    return bool(unknown)


def _apply(ctx: Context, event: EngineEvent, moment: datetime) -> None:
    state = ctx.state
    if isinstance(event, Enrolment):
        _enrol(ctx, event, moment)
        return
    if isinstance(event, AlertAcknowledgement):
        _acknowledge(ctx, event, moment)
        return
    if state.discharged_at is not None:
        return  # monitoring has ended; a new enrolment starts it again
    if event.ward is not None:
        state.ward = event.ward
    if isinstance(event, VitalSignsObservation):
        _vitals(ctx, event, moment)
    elif isinstance(event, CiwaBAssessment):
        _ciwa_b(ctx, event, moment)
    elif isinstance(event, DoseAdministration):
        _dose(ctx, event)
    elif isinstance(event, ClinicalEvent | CheckIn):
        for rule in ctx.rules:
            if rule.enabled and isinstance(rule, EventRule):
                judge_event(ctx, rule, event, moment)
    elif isinstance(event, Discharge):
        _discharge(ctx, event, moment)


def _enrol(ctx: Context, event: Enrolment, moment: datetime) -> None:
    state = ctx.state
    if state.discharged_at is not None:
        keep = (state.patient_id, state.recent_event_ids, state.clock, state.last_event_at)
        fresh = PatientState(patient_id=state.patient_id)
        for name, value in fresh:
            setattr(state, name, value)
        state.patient_id, state.recent_event_ids, state.clock, state.last_event_at = keep
    enrolled_at = state.enrolment.enrolled_at if state.enrolment else event.observed_at
    state.enrolment = EnrolmentInfo(
        ward=event.ward,
        programme=event.programme,
        drug=event.drug,
        half_life_class=event.half_life_class,
        risk_tier=event.risk_tier,
        risk_factors=list(event.risk_factors),
        spo2_scale=event.spo2_scale,
        overrides=list(event.threshold_overrides),
        enrolled_at=enrolled_at,
    )
    state.ward = event.ward
    state.last_dose_at = latest_time(state.last_dose_at, event.last_dose_at)
    ctx.refresh_rules()
    for rule_id in list(state.alerts):
        rule = ctx.rule(rule_id)
        if rule is not None and not rule.enabled:
            lifecycle.resolve(ctx, state.alerts[rule_id], rule, moment)
    for rule_id in list(state.pending):
        rule = ctx.rule(rule_id)
        if rule is not None and not rule.enabled:
            del state.pending[rule_id]


def _acknowledge(ctx: Context, ack: AlertAcknowledgement, moment: datetime) -> None:
    for record in ctx.state.alerts.values():
        if record.alert_id == ack.alert_id:
            rule = ctx.rule(record.rule_id)
            if rule is not None:
                lifecycle.acknowledge(ctx, record, rule, moment, by=ack.by)
            return


def _dose(ctx: Context, event: DoseAdministration) -> None:
    """A dose restarts the withdrawal clock; a higher taper step opens a rebound watch."""
    state = ctx.state
    if state.last_dose_at is None or event.observed_at >= state.last_dose_at:
        state.last_dose_at = event.observed_at
        state.dose_drug = event.drug
    step = event.taper_step
    if step is not None and (state.taper_step is None or step > state.taper_step):
        if state.taper_step is not None:
            state.taper_step_at = event.observed_at
        state.taper_step = step


def _discharge(ctx: Context, event: Discharge, moment: datetime) -> None:
    state = ctx.state
    for rule_id in list(state.alerts):
        rule = ctx.rule(rule_id)
        if rule is not None:
            lifecycle.resolve(ctx, state.alerts[rule_id], rule, moment)
    state.pending.clear()
    state.handled_gaps.clear()
    state.discharged_at = event.observed_at


def _complete_set(ctx: Context, event: VitalSignsObservation) -> ObservationSet | None:
    oxygen = event.supplemental_oxygen
    if oxygen is None:
        if ctx.ruleset.news2.oxygen_unrecorded_as == "incomplete":
            return None
        oxygen = False
    if (
        event.respiratory_rate is None
        or event.spo2 is None
        or event.systolic_bp is None
        or event.heart_rate is None
        or event.consciousness is None
        or event.temperature is None
    ):
        return None
    return ObservationSet(
        respiratory_rate=event.respiratory_rate,
        spo2=event.spo2,
        supplemental_oxygen=oxygen,
        systolic_bp=event.systolic_bp,
        heart_rate=event.heart_rate,
        consciousness=event.consciousness,
        temperature=event.temperature,
    )


def _vitals(ctx: Context, event: VitalSignsObservation, moment: datetime) -> None:
    state, config = ctx.state, ctx.ruleset
    at = event.observed_at
    values = event.vitals()
    gap = timedelta(minutes=config.persistence.spot_check_gap_minutes)
    confirmed_source = event.source in config.persistence.confirmed_sources
    previous = {name: reading.at for name, reading in state.latest.items()}
    newest = {name for name in values if name not in previous or previous[name] <= at}
    for name in newest:
        state.latest[name] = Reading(value=values[name], at=at, event_id=event.event_id)
    if event.consciousness is not None and (
        state.consciousness_at is None or state.consciousness_at <= at
    ):
        state.consciousness, state.consciousness_at = event.consciousness, at
    if event.supplemental_oxygen is not None:
        state.supplemental_oxygen = event.supplemental_oxygen
    state.last_vitals_at = latest_time(state.last_vitals_at, at)
    _track_device(state, event.device_id, at)

    observations = _complete_set(ctx, event)
    news2_reading: Observed | None = None
    if observations is not None and (state.news2 is None or state.news2.at <= at):
        scale = state.enrolment.spo2_scale if state.enrolment else 1
        result = score(observations, scale=scale)
        previous_news2 = state.news2.at if state.news2 else None
        state.news2 = News2Record(
            total=result.total,
            band=result.band,
            single_3=result.single_parameter_3,
            at=at,
            event_id=event.event_id,
        )
        news2_reading = Observed(
            measure="news2",
            value=float(result.total),
            raw=float(result.total),
            at=at,
            event_id=event.event_id,
            confirmed=confirmed_source or previous_news2 is None or at - previous_news2 > gap,
            on_oxygen=observations.supplemental_oxygen,
            values=values,
        )

    on_oxygen = bool(event.supplemental_oxygen)
    readings = {
        name: Observed(
            measure=name,
            value=rounded(name, values[name]),
            raw=values[name],
            at=at,
            event_id=event.event_id,
            confirmed=confirmed_source or name not in previous or at - previous[name] > gap,
            on_oxygen=on_oxygen,
            values=values,
        )
        for name in newest
    }
    if news2_reading is not None:
        readings["news2"] = news2_reading
    for rule in ctx.rules:
        if not rule.enabled:
            continue
        if isinstance(rule, ThresholdRule | BaselineRule) and rule.measure in readings:
            if isinstance(rule, ThresholdRule):
                judge_threshold(ctx, rule, readings[rule.measure], moment)
            else:
                judge_baseline(ctx, rule, readings[rule.measure], moment)
        elif isinstance(rule, ConsciousnessRule) and event.consciousness is not None:
            if state.consciousness_at == at:
                judge_consciousness(
                    ctx,
                    rule,
                    event.consciousness,
                    at=at,
                    event_id=event.event_id,
                    values=values,
                    moment=moment,
                )
        elif isinstance(rule, DeviceSilentRule) or (
            isinstance(rule, OverdueRule) and rule.measure == "vital_signs"
        ):
            recover_gap(ctx, rule, at=at, event_id=event.event_id, moment=moment)
    _collect_baseline(ctx, {name: values[name] for name in newest})


def _track_device(state: PatientState, device_id: str, at: datetime) -> None:
    if state.device_id == device_id and state.device_last_at is not None:
        if at > state.device_last_at:
            state.device_prev_at, state.device_last_at = state.device_last_at, at
        return
    state.device_id, state.device_last_at, state.device_prev_at = device_id, at, None


def _collect_baseline(ctx: Context, values: dict[str, float]) -> None:
    """The baseline of each vital is the median of its first N readings (rules file)."""
    state = ctx.state
    needed = ctx.ruleset.baseline.readings
    for name, value in values.items():
        if name in state.baseline:
            continue
        samples = state.baseline_samples.setdefault(name, [])
        samples.append(value)
        if len(samples) >= needed:
            state.baseline[name] = float(statistics.median(samples))
            del state.baseline_samples[name]


def _ciwa_b(ctx: Context, event: CiwaBAssessment, moment: datetime) -> None:
    state = ctx.state
    at = event.observed_at
    state.ciwa_b.append(Score(total=event.total, at=at, event_id=event.event_id))
    hours = max(
        [rule.within_hours for rule in ctx.rules if isinstance(rule, RiseRule)],
        default=_CIWA_B_HISTORY_HOURS,
    )
    newest = max(score.at for score in state.ciwa_b)
    state.ciwa_b = sorted(
        (score for score in state.ciwa_b if score.at >= newest - timedelta(hours=hours)),
        key=lambda score: score.at,
    )
    if newest != at:
        return  # an older form arriving late: kept for the rise window, not judged
    reading = Observed(
        measure="ciwa_b",
        value=float(event.total),
        raw=float(event.total),
        at=at,
        event_id=event.event_id,
        confirmed=True,
        on_oxygen=False,
        values={},
    )
    for rule in ctx.rules:
        if not rule.enabled:
            continue
        if isinstance(rule, ThresholdRule) and rule.measure == "ciwa_b":
            judge_threshold(ctx, rule, reading, moment)
        elif isinstance(rule, RiseRule):
            judge_rise(ctx, rule, total=event.total, at=at, event_id=event.event_id, moment=moment)
        elif isinstance(rule, OverdueRule) and rule.measure == "ciwa_b":
            recover_gap(ctx, rule, at=at, event_id=event.event_id, moment=moment)
