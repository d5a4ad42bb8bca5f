"""The ward simulator: courses peak by drug class, runs are reproducible, the mess is real."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest

from agents.contract import ContractError, parse_event
from streams.ward import simulate
from streams.ward.trajectory import intensity, peak_hours

START = datetime(2026, 11, 20, tzinfo=UTC)


@pytest.mark.parametrize(
    ("half_life_class", "peak"), [("short", 72), ("intermediate", 72), ("long", 168)]
)
def test_the_course_peaks_where_the_drug_class_says(half_life_class: str, peak: float) -> None:
    hours = [h / 2 for h in range(1, 2 * 400)]
    values = [intensity(h, half_life_class) for h in hours]  # type: ignore[arg-type]
    assert hours[values.index(max(values))] == pytest.approx(peak, abs=1)
    assert peak_hours(half_life_class) == peak  # type: ignore[arg-type]


def test_long_acting_courses_are_later_and_flatter() -> None:
    assert max(intensity(h, "long") for h in range(1, 400)) < max(
        intensity(h, "short") for h in range(1, 400)
    )
    assert intensity(24, "long") < intensity(24, "short") or intensity(24, "short") < 0.05
    assert intensity(10, "short") < 0.01  # onset after 1-2 days, not at once


def test_a_seed_reproduces_a_run_exactly_and_another_seed_does_not() -> None:
    first = simulate(8, hours=48, seed=3, start=START)
    again = simulate(8, hours=48, seed=3, start=START)
    other = simulate(8, hours=48, seed=4, start=START)
    assert first.messages == again.messages
    assert first.episodes == again.episodes
    assert first.messages != other.messages


def test_messages_are_in_send_order_and_keyed_by_patient() -> None:
    run = simulate(10, hours=72, seed=1, start=START)
    times = [m.send_at for m in run.messages]
    assert times == sorted(times)
    assert {m.key.decode() for m in run.messages} == {p.patient_id for p in run.patients}


def test_valid_messages_pass_the_contract_and_mess_does_not() -> None:
    run = simulate(30, hours=96, seed=11, start=START)
    labels = Counter(m.label for m in run.messages)
    assert labels["artefact"]
    assert labels["malformed"]
    assert labels["late"]
    for message in run.messages:
        if message.label in ("valid", "late", "duplicate"):
            parse_event(message.value, received_at=message.send_at)
        else:
            with pytest.raises(ContractError):
                parse_event(message.value, received_at=message.send_at)


def test_every_kind_of_event_and_episode_occurs_in_a_large_enough_run() -> None:
    run = simulate(40, hours=120, seed=5, start=START)
    kinds = Counter(m.kind for m in run.messages)
    for kind in ("enrolment", "vital_signs", "ciwa_b", "dose", "check_in"):
        assert kinds[kind], kind
    episode_kinds = {e.kind for e in run.episodes}
    assert {"hypertensive_surge", "fever", "rising_ciwa", "silent_device"} <= episode_kinds
    for episode in run.episodes:
        assert run.start is not None
        assert run.end is not None
        assert run.start <= episode.start < episode.end <= run.end


def test_a_severe_short_acting_patient_becomes_tachycardic_near_the_peak() -> None:
    run = simulate(30, hours=120, seed=2, start=START, telehealth_share=0)
    patient = max(
        (p for p in run.patients if p.half_life_class == "short"), key=lambda p: p.severity
    )
    pulses: list[tuple[float, float]] = []
    for message in run.messages:
        if (
            message.key == patient.patient_id.encode()
            and message.kind == "vital_signs"
            and message.label == "valid"
        ):
            event = parse_event(message.value, received_at=message.send_at)
            hours = (event.observed_at - patient.last_dose_at).total_seconds() / 3600
            pulses.append((hours, event.heart_rate))
    early = [hr for h, hr in pulses if h < 24]
    peak = [hr for h, hr in pulses if 60 <= h <= 84]
    assert sum(peak) / len(peak) > sum(early) / len(early) + 15
