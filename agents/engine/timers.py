"""Time passing on event time: data gaps, persistence by duration, quiet hours, re-notification
and escalation.

Everything time-driven is a due item with an exact event time, processed in time order and
stamped with its due time (not with the time of the tick that noticed it), so a live timer
ticking every 15 s and a replay ticking only between recorded events produce the same
transitions with the same ids.

Silence is measured from the last observation (or enrolment) with the cadence the latest
NEWS2 band and the peak-risk window call for (clinical.md section 11.4); a window opening
during the silence shortens the allowed gap from the moment it opens.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from agents.engine import lifecycle
from agents.engine.conditions import inhibited, judge_combinations
from agents.engine.context import Context
from agents.engine.phase import Interval, in_any
from agents.engine.rules import (
    Cadence,
    DeviceSilentRule,
    EventRule,
    News2Priority,
    OverdueRule,
    Rule,
)
from agents.engine.state import latest_time
from schemas.alerts import PRIORITY_RANK, Priority

#: Order of due items at the same instant: closing before notifying before starting new ones.
_ACTION_RANK = {"event_quiet": 0, "release": 1, "timer": 2, "pending": 3, "gap": 4}

_GAP_MEASURE = {"vital_signs": "observation_gap", "ciwa_b": "ciwa_b_gap"}


@dataclass(frozen=True, order=True)
class Due:
    """Something that happens by itself at ``at``."""

    at: datetime
    rank: int
    order: int
    rule_id: str
    action: str


def first_due(
    since: datetime, *, factor: float, cadence: Cadence, intervals: list[Interval]
) -> datetime:
    """The first moment the silence since ``since`` exceeds ``factor`` times the cadence in
    force at that moment (peak-window cadence inside a window)."""
    boundaries = sorted({edge for interval in intervals for edge in interval if edge > since})
    starts = [since, *boundaries]
    for index, start in enumerate(starts):
        end = starts[index + 1] if index + 1 < len(starts) else None
        allowed = timedelta(minutes=factor * cadence.at(in_any(intervals, start)))
        candidate = max(start, since + allowed)
        if end is None or candidate < end:
            return candidate
    raise AssertionError("unreachable: the last segment is open-ended")  # pragma: no cover


def _gap(
    ctx: Context, rule: OverdueRule | DeviceSilentRule
) -> tuple[datetime, datetime, float] | None:
    """(due time, start of the silence, allowed minutes) of a data-gap rule, if it applies."""
    state = ctx.state
    enrolment = state.enrolment
    if enrolment is None or state.discharged_at is not None:
        return None
    if isinstance(rule, DeviceSilentRule):
        last, previous = state.device_last_at, state.device_prev_at
        if last is None or previous is None:
            return None
        if last - previous > timedelta(minutes=rule.streaming_within_minutes):
            return None
        return last + timedelta(minutes=rule.silent_after_minutes), last, rule.silent_after_minutes
    if rule.measure == "vital_signs":
        since, cadence = state.last_vitals_at, ctx.vitals_cadence()
    else:
        ciwa = state.latest_ciwa_b()
        since, cadence = (ciwa.at if ciwa else None), ctx.ciwa_b_cadence()
    start = latest_time(since, enrolment.enrolled_at)
    assert start is not None
    due = first_due(start, factor=rule.missed, cadence=cadence, intervals=ctx.intervals())
    return due, start, (due - start).total_seconds() / 60


def _gap_priority(ctx: Context, base: Priority, ladder: list[News2Priority]) -> Priority:
    priority = base
    news2 = ctx.state.news2
    for step in ladder:
        reached = news2 is not None and news2.total >= step.min_score
        if reached and PRIORITY_RANK[step.priority] > PRIORITY_RANK[priority]:
            priority = step.priority
    return priority


def _candidates(ctx: Context) -> list[Due]:
    state = ctx.state
    order = {rule.id: index for index, rule in enumerate(ctx.rules)}
    items: list[Due] = []
    for rule_id, record in state.alerts.items():
        rule = ctx.rule(rule_id)
        if rule is None:
            continue
        if not record.notified:
            until = lifecycle.held_until(ctx, record)
            if until is not None:
                items.append(
                    Due(until, _ACTION_RANK["release"], order[rule_id], rule_id, "release")
                )
            continue
        due = lifecycle.next_timer(record)
        if due is not None:
            items.append(Due(due, _ACTION_RANK["timer"], order[rule_id], rule_id, "timer"))
        if isinstance(rule, EventRule) and record.acknowledged_at and record.last_match_at:
            quiet = max(
                record.acknowledged_at,
                record.last_match_at + timedelta(minutes=rule.quiet_minutes),
            )
            items.append(
                Due(quiet, _ACTION_RANK["event_quiet"], order[rule_id], rule_id, "event_quiet")
            )
    for rule_id, pending in state.pending.items():
        rule = ctx.rule(rule_id)
        persistence = getattr(rule, "persistence", None)
        if rule is None or persistence is None or persistence.minutes is None:
            continue
        due = pending.since + timedelta(minutes=persistence.minutes)
        items.append(Due(due, _ACTION_RANK["pending"], order[rule_id], rule_id, "pending"))
    for rule in ctx.rules:
        if not rule.enabled or rule.id in state.alerts:
            continue
        if isinstance(rule, OverdueRule | DeviceSilentRule):
            gap = _gap(ctx, rule)
            if gap is not None and state.handled_gaps.get(rule.id) != gap[1]:
                items.append(Due(gap[0], _ACTION_RANK["gap"], order[rule.id], rule.id, "gap"))
    return items


def _fire_gap(ctx: Context, rule: OverdueRule | DeviceSilentRule, moment: datetime) -> None:
    gap = _gap(ctx, rule)
    assert gap is not None
    _, since, allowed = gap
    ctx.state.handled_gaps[rule.id] = since
    if inhibited(ctx, rule):
        return
    minutes = round((moment - since).total_seconds() / 60, 1)
    measure = "device_silence" if isinstance(rule, DeviceSilentRule) else _GAP_MEASURE[rule.measure]
    evidence = ctx.evidence(
        moment,
        measure=measure,
        observed_at=since,
        value=minutes,
        unit="min",
        threshold=round(allowed, 1),
    )
    facts: lifecycle.Facts = {"minutes": minutes, "threshold": round(allowed, 1), "value": minutes}
    priority = _gap_priority(ctx, rule.priority, rule.priority_by_news2)
    lifecycle.fire(ctx, rule, moment, priority=priority, evidence=evidence, facts=facts)


def _apply(ctx: Context, item: Due, moment: datetime) -> bool:
    """Carry out one due item; True if the set of active alerts changed."""
    rule: Rule | None = ctx.rule(item.rule_id)
    assert rule is not None
    state = ctx.state
    if item.action == "gap":
        assert isinstance(rule, OverdueRule | DeviceSilentRule)
        _fire_gap(ctx, rule, moment)
        return rule.id in state.alerts
    if item.action == "pending":
        pending = state.pending.pop(rule.id)
        if inhibited(ctx, rule):
            return False
        evidence = ctx.refreshed(pending.evidence, moment)
        lifecycle.fire(
            ctx, rule, moment, priority=pending.priority, evidence=evidence, facts=pending.facts
        )
        return True
    record = state.alerts[rule.id]
    if item.action == "event_quiet":
        lifecycle.resolve(ctx, record, rule, moment)
        return True
    if item.action == "release":
        lifecycle.release(ctx, record, rule, moment)
        return False
    lifecycle.run_timer(ctx, record, rule, moment)
    return False


def next_due(ctx: Context) -> datetime | None:
    """When the next thing happens by itself (None: nothing is pending). Reads only."""
    items = _candidates(ctx)
    return min(items).at if items else None


def advance(ctx: Context, until: datetime, *, inclusive: bool) -> bool:
    """Carry out everything due up to ``until`` (or strictly before it), in time order.

    Returns:
        Whether anything was due.
    """
    state = ctx.state
    if state.clock is not None and until < state.clock:
        return False
    happened = False
    while True:
        items = _candidates(ctx)
        if not items:
            break
        item = min(items)
        if item.at > until or (not inclusive and item.at >= until):
            break
        moment = item.at if state.clock is None else max(item.at, state.clock)
        if _apply(ctx, item, moment):
            judge_combinations(ctx, moment)
        state.clock = moment
        happened = True
    return happened
