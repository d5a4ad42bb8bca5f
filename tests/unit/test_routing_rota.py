"""Rota resolution: local wall-clock shifts across time zones, midnight, weekends and DST."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from agents.pager.plan import Carrier, Receiver, Routing
from agents.pager.rota import Shift, coverage_gaps, describe_minute, on_duty
from schemas.alerts import Alert, AlertEvidence, AlertState, EscalationRole
from tests.unit.test_routing_file import good

LONDON = ZoneInfo("Europe/London")


def who(team: str, role: EscalationRole, at: str) -> tuple[str, ...]:
    config = good().config
    rota = config.teams[team]
    return on_duty(rota.rota[role], rota.zone, datetime.fromisoformat(at))


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        ("2026-11-20T06:59:00+00:00", ("rn-night",)),  # Fri 06:59 GMT: Thursday's night shift
        ("2026-11-20T07:00:00+00:00", ("rn-day",)),  # the day shift starts on the minute
        ("2026-11-20T18:59:59+00:00", ("rn-day",)),
        ("2026-11-20T19:00:00+00:00", ("rn-night",)),  # ...and ends on the minute
        ("2026-11-20T23:59:00+00:00", ("rn-night",)),
        ("2026-11-21T00:30:00+00:00", ("rn-night",)),  # Sat 00:30: Friday's night shift
        ("2026-11-20T08:00:00+01:00", ("rn-day",)),  # the same instant given with an offset
    ],
)
def test_an_overnight_shift_covers_the_next_morning(at: str, expected: tuple[str, ...]) -> None:
    assert who("north", "bedside_nurse", at) == expected


def test_shifts_follow_local_wall_clock_across_daylight_saving() -> None:
    # 06:30 UTC is 06:30 in winter (night shift) but 07:30 in summer (day shift) in London.
    assert who("north", "bedside_nurse", "2026-03-28T06:30:00+00:00") == ("rn-night",)
    assert who("north", "bedside_nurse", "2026-03-30T06:30:00+00:00") == ("rn-day",)
    # The night of the spring change is an hour shorter and still covered to 07:00 local.
    assert who("north", "bedside_nurse", "2026-03-29T05:59:00+00:00") == ("rn-night",)
    assert who("north", "bedside_nurse", "2026-03-29T06:00:00+00:00") == ("rn-day",)
    # Autumn: 01:30 local happens twice; both are in the night shift.
    assert who("north", "bedside_nurse", "2026-10-25T00:30:00+00:00") == ("rn-night",)
    assert who("north", "bedside_nurse", "2026-10-25T01:30:00+00:00") == ("rn-night",)


def test_the_same_instant_resolves_in_each_teams_own_time_zone() -> None:
    instant = "2026-11-20T14:00:00+00:00"  # Fri 14:00 London, Fri 09:00 New York
    assert who("north", "bedside_nurse", instant) == ("rn-day",)
    assert who("remote", "bedside_nurse", instant) == ("rn-day",)
    early = "2026-11-20T12:30:00+00:00"  # 12:30 London (day), 07:30 New York (night)
    assert who("north", "bedside_nurse", early) == ("rn-day",)
    assert who("remote", "bedside_nurse", early) == ("rn-night",)


def test_weekday_and_weekend_shifts_hand_over_across_the_week_boundary() -> None:
    assert who("north", "on_call_physician", "2026-11-21T08:59:00+00:00") == ("md-week",)  # Sat
    assert who("north", "on_call_physician", "2026-11-21T09:00:00+00:00") == ("md-weekend",)
    assert who("north", "on_call_physician", "2026-11-23T08:59:00+00:00") == ("md-weekend",)  # Mon
    assert who("north", "on_call_physician", "2026-11-23T09:00:00+00:00") == ("md-week",)
    # New York weekends: two receivers share the shift, in rota order.
    assert who("remote", "bedside_nurse", "2026-11-21T15:00:00+00:00") == ("rn-night", "cn-1")
    # Friday 20:00 New York starts the last weekday night, which ends Saturday 08:00.
    assert who("remote", "bedside_nurse", "2026-11-21T12:59:00+00:00") == ("rn-night",)


def test_a_24_hour_shift_and_one_ending_at_24_00_both_cover_the_whole_day() -> None:
    assert who("north", "charge_nurse", "2026-11-22T23:59:00+00:00") == ("cn-1",)
    assert who("remote", "charge_nurse", "2026-11-22T04:59:00+00:00") == ("cn-1",)


def test_coverage_gaps_are_found_and_described_including_across_sunday_midnight() -> None:
    shifts = [
        Shift(
            days=("mon", "tue", "wed", "thu", "fri"),
            start="08:00",
            end="20:00",
            receivers=("rn-a",),
        ),
        Shift(days=("sat",), start="08:00", end="08:00", receivers=("rn-b",)),
    ]
    gaps = coverage_gaps(shifts)
    described = [f"{describe_minute(s)}-{describe_minute(e)}" for s, e in gaps]
    assert described == [
        "Mon 20:00-Tue 08:00",
        "Tue 20:00-Wed 08:00",
        "Wed 20:00-Thu 08:00",
        "Thu 20:00-Fri 08:00",
        "Fri 20:00-Sat 08:00",
        "Sun 08:00-Mon 08:00",
    ]
    assert coverage_gaps([Shift(days=("mon",), start="00:00", end="00:00", receivers=("rn-a",))])
    assert coverage_gaps(
        [Shift(days=("sun",), start="12:00", end="12:00", receivers=("rn-a",))]
    ) == [(12 * 60, 6 * 24 * 60 + 12 * 60)]


def alert(state: AlertState, *, at: str, role: EscalationRole = "bedside_nurse") -> Alert:
    moment = datetime.fromisoformat(at)
    return Alert(
        alert_id=uuid.UUID(int=1),
        transition_id=uuid.uuid4(),
        patient_id="pt-rota01",
        ward="ward-3",
        rule_id="pulse_high",
        priority="medium",
        state=state,
        at=moment,
        summary="Pulse at or above 120/min",
        source="test",
        evidence=AlertEvidence(measure="heart_rate", value=125, observed_at=moment),
        escalate_to=role,
    )


def routing() -> Routing:
    config = good().config
    return Routing(config, {r: Receiver(r) for r in config.receivers}, "test")


def test_a_trigger_pages_the_role_on_duty_on_its_channels_in_fallback_order() -> None:
    targets = routing().plan(alert("firing", at="2026-11-20T03:00:00+00:00"))
    assert [(t.receiver.id, t.role, t.channels) for t in targets] == [
        ("rn-night", "bedside_nurse", ("pagerduty", "webhook"))
    ]
    escalated = alert("escalated", at="2026-11-21T10:00:00+00:00", role="on_call_physician")
    assert [(t.receiver.id, t.channels) for t in routing().plan(escalated)] == [
        ("md-weekend", ("webhook", "email"))
    ]


def test_follow_ups_go_to_whoever_was_reached_on_the_channel_that_reached_them() -> None:
    carriers = [
        Carrier("rn-night", "webhook", "bedside_nurse"),  # PagerDuty was down for the firing
        Carrier("cn-1", "pagerduty", "charge_nurse"),
    ]
    resolved = alert("resolved", at="2026-11-20T12:00:00+00:00")
    targets = routing().plan(resolved, carriers)
    assert [(t.receiver.id, t.role, t.channels) for t in targets] == [
        ("rn-night", "bedside_nurse", ("webhook", "pagerduty")),
        ("cn-1", "charge_nurse", ("pagerduty", "webhook")),
    ]
    # Without any record of who was reached, a follow-up goes to the role on duty.
    assert [t.receiver.id for t in routing().plan(resolved)] == ["rn-day"]


def test_at_is_event_time_not_the_clock() -> None:
    old = alert("firing", at="2020-01-06T03:00:00+00:00")  # a Monday night, years ago
    assert [t.receiver.id for t in routing().plan(old)] == ["rn-night"]
    assert datetime.now(UTC).year > 2020
