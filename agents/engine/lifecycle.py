"""The alert lifecycle: fire, re-notify, escalate, acknowledge, resolve; one alert per rule.

Each transition is published as an :class:`~schemas.alerts.Alert`. Ids are deterministic:
the alert id is uuid5 of patient, rule and firing time, the transition id uuid5 of alert id and
sequence number, so a replay or a redelivery repeats them and the pager pages nobody twice.

While unacknowledged, an alert is escalated along ``ESCALATION_CHAIN`` (bedside nurse, charge
nurse, on-call physician) every ``escalate_minutes`` and re-notified every
``renotify_minutes`` in between and at the top of the chain (timers per priority, clinical.md
section 11.4). An acknowledgement stops both. If the finding gets worse (a higher priority),
the alert is re-notified at the new priority and needs acknowledging again: an
acknowledgement covers what the nurse was told, not what came after.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from agents.engine.context import Context
from agents.engine.quiet import held_back, quiet_hours_end
from agents.engine.rules import Rule, Timers, render
from agents.engine.state import AlertRecord
from schemas.alerts import ESCALATION_CHAIN, Alert, AlertEvidence, AlertState, Priority

#: Namespace of alert and transition ids (uuid5).
ALERT_NAMESPACE = uuid.UUID("5b0a1f9e-6a43-4f2c-9d3e-0c1d2e3f4a5b")

_TOP_LEVEL = len(ESCALATION_CHAIN) - 1

_ROLE_WORDS = {
    "bedside_nurse": "bedside nurse",
    "charge_nurse": "charge nurse",
    "on_call_physician": "on-call physician",
}

Facts = dict[str, float | None]


def alert_id_for(patient_id: str, rule_id: str, fired_at: datetime, repeat: int = 0) -> uuid.UUID:
    """The id of the alert ``rule_id`` raised for ``patient_id`` at ``fired_at``: uuid5 of
    ``"{patient_id}:{rule_id}:{fired_at in UTC, ISO 8601}"``, with ``":{repeat}"`` appended
    for the rare second alert of a rule at the very same instant (fired, resolved and fired
    again by events with one timestamp), so no two alerts ever share an id."""
    moment = fired_at.astimezone(UTC).isoformat()
    suffix = f":{repeat}" if repeat else ""
    return uuid.uuid5(ALERT_NAMESPACE, f"{patient_id}:{rule_id}:{moment}{suffix}")


def transition_id_for(alert_id: uuid.UUID, sequence: int) -> uuid.UUID:
    """The id of transition number ``sequence`` of an alert."""
    return uuid.uuid5(ALERT_NAMESPACE, f"{alert_id}:{sequence}")


def _timers(ctx: Context, rule: Rule, priority: Priority) -> Timers:
    return rule.timers or ctx.ruleset.escalation.for_priority(priority)


def _minutes(moment: datetime, minutes: float | None) -> datetime | None:
    return None if minutes is None else moment + timedelta(minutes=minutes)


def _schedule(ctx: Context, record: AlertRecord, rule: Rule, moment: datetime) -> None:
    timers = _timers(ctx, rule, record.priority)
    record.next_escalate_at = (
        _minutes(moment, timers.escalate_minutes) if record.escalation_level < _TOP_LEVEL else None
    )
    record.next_renotify_at = _minutes(moment, timers.renotify_minutes)


#: How a unit reads after a number on a page.
_UNIT_TEXT = {"/min": "/min", "mm[Hg]": " mmHg", "Cel": " Cel", "%": "%", "min": " min"}


def _summary(rule: Rule, record: AlertRecord, state: AlertState, *, worse: bool) -> str:
    text = render(rule.summary, {**record.facts, "unit": record.evidence.unit})
    if state == "resolved":
        now = record.evidence.value
        if now is not None and now != record.facts.get("value") and "value" in record.facts:
            return f"Resolved (now {now:g}{_UNIT_TEXT.get(record.evidence.unit or '', '')}): {text}"
        return f"Resolved: {text}"
    if state == "acknowledged":
        return f"Acknowledged: {text}"
    if state == "escalated":
        role = _ROLE_WORDS[ESCALATION_CHAIN[record.escalation_level]]
        return f"Escalated to {role}, unacknowledged: {text}"
    if state == "renotified":
        return f"Worse: {text}" if worse else f"Still unacknowledged: {text}"
    return text


def _emit(
    ctx: Context,
    record: AlertRecord,
    rule: Rule,
    moment: datetime,
    state: AlertState,
    *,
    worse: bool = False,
    new_alert: bool = False,
) -> None:
    if not new_alert:
        record.sequence += 1
    record.state = state if state != "resolved" else record.state
    ctx.transitions.append(
        Alert(
            alert_id=record.alert_id,
            transition_id=transition_id_for(record.alert_id, record.sequence),
            sequence=record.sequence,
            patient_id=ctx.state.patient_id,
            ward=ctx.ward,
            rule_id=rule.id,
            priority=record.priority,
            state=state,
            at=moment,
            summary=_summary(rule, record, state, worse=worse),
            source=ctx.ruleset.source_text(rule.source),
            evidence=ctx.refreshed(record.evidence, moment),
            escalation_level=record.escalation_level,
            escalate_to=ESCALATION_CHAIN[record.escalation_level],
            acknowledged_by=record.acknowledged_by if state == "acknowledged" else None,
            ack_latency_s=(
                max(0.0, (moment - record.fired_at).total_seconds())
                if state == "acknowledged"
                else None
            ),
        )
    )


def fire(
    ctx: Context,
    rule: Rule,
    moment: datetime,
    *,
    priority: Priority,
    evidence: AlertEvidence,
    facts: Facts,
) -> AlertRecord:
    """Raise a new alert for ``rule``; held back silently in quiet hours if low priority."""
    previous = ctx.state.last_fired.get(rule.id)
    repeat = previous[1] + 1 if previous is not None and previous[0] == moment else 0
    ctx.state.last_fired[rule.id] = (moment, repeat)
    record = AlertRecord(
        alert_id=alert_id_for(ctx.state.patient_id, rule.id, moment, repeat),
        rule_id=rule.id,
        priority=priority,
        state="firing",
        fired_at=moment,
        evidence=evidence,
        facts=facts,
    )
    ctx.state.alerts[rule.id] = record
    ctx.state.pending.pop(rule.id, None)
    if held_back(ctx.ruleset.quiet_hours, rule, priority, moment):
        record.notified = False
        return record
    _emit(ctx, record, rule, moment, "firing", new_alert=True)
    _schedule(ctx, record, rule, moment)
    return record


def held_until(ctx: Context, record: AlertRecord) -> datetime | None:
    """When a held-back alert is to be notified (the end of its quiet hours)."""
    quiet = ctx.ruleset.quiet_hours
    if record.notified or quiet is None:
        return None
    return quiet_hours_end(quiet, record.fired_at)


def release(ctx: Context, record: AlertRecord, rule: Rule, moment: datetime) -> None:
    """Notify an alert held back by quiet hours (still active at their end)."""
    record.notified = True
    _emit(ctx, record, rule, moment, "firing", new_alert=True)
    _schedule(ctx, record, rule, moment)


def update(record: AlertRecord, evidence: AlertEvidence, facts: Facts) -> None:
    """Keep the latest values on an active alert, so re-notifications show them."""
    record.evidence = evidence
    record.facts = facts


def worsen(
    ctx: Context,
    record: AlertRecord,
    rule: Rule,
    moment: datetime,
    *,
    priority: Priority,
    evidence: AlertEvidence,
    facts: Facts,
) -> None:
    """Raise an active alert's priority: re-notify at once, needing a new acknowledgement."""
    record.priority = priority
    update(record, evidence, facts)
    if not record.notified:
        if not held_back(ctx.ruleset.quiet_hours, rule, priority, moment):
            release(ctx, record, rule, moment)
        return
    record.acknowledged_at = None
    record.acknowledged_by = None
    _emit(ctx, record, rule, moment, "renotified", worse=True)
    _schedule(ctx, record, rule, moment)


def resolve(
    ctx: Context,
    record: AlertRecord,
    rule: Rule,
    moment: datetime,
    *,
    evidence: AlertEvidence | None = None,
    facts: Facts | None = None,
) -> None:
    """Close an alert; one nobody was told about (held back overnight) closes silently.

    ``evidence`` is what closed it (the recovered reading); the summary keeps the values
    that raised it unless ``facts`` replace them (a data gap's final length).
    """
    if evidence is not None:
        update(record, evidence, facts if facts is not None else record.facts)
    del ctx.state.alerts[record.rule_id]
    if record.notified:
        _emit(ctx, record, rule, moment, "resolved")


def acknowledge(
    ctx: Context, record: AlertRecord, rule: Rule, moment: datetime, *, by: str
) -> None:
    """Someone has taken responsibility: stop escalation and re-notification."""
    if record.acknowledged_at is not None:
        return
    record.notified = True
    record.acknowledged_at = moment
    record.acknowledged_by = by
    _emit(ctx, record, rule, moment, "acknowledged")
    record.next_escalate_at = None
    record.next_renotify_at = _minutes(moment, rule.renotify_after_ack_minutes)


def next_timer(record: AlertRecord) -> datetime | None:
    """When this alert next escalates or re-notifies by itself."""
    due = [d for d in (record.next_escalate_at, record.next_renotify_at) if d is not None]
    return min(due) if due else None


def run_timer(ctx: Context, record: AlertRecord, rule: Rule, moment: datetime) -> None:
    """Escalate or re-notify an alert whose timer is due at ``moment``.

    A re-notification after an acknowledgement (``renotify_after_ack_minutes``: the condition
    outlasted the acknowledgement) needs a new acknowledgement, and the timers restart.
    """
    if record.acknowledged_at is not None:
        record.acknowledged_at = None
        record.acknowledged_by = None
        _emit(ctx, record, rule, moment, "renotified")
        _schedule(ctx, record, rule, moment)
        return
    escalate, renotify = record.next_escalate_at, record.next_renotify_at
    if escalate is not None and (renotify is None or escalate <= renotify):
        record.escalation_level += 1
        _emit(ctx, record, rule, moment, "escalated")
        _schedule(ctx, record, rule, moment)
        return
    _emit(ctx, record, rule, moment, "renotified")
    record.next_renotify_at = _minutes(moment, _timers(ctx, rule, record.priority).renotify_minutes)
