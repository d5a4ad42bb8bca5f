"""The demo's ward board, its clock and its view of the pipeline's topics (no services)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from rich.console import Console

from agents.demo.board import LiveBoard, PlainBoard
from agents.demo.cells import page_line
from agents.demo.clock import SimClock
from agents.demo.ward import WardView
from schemas import Alert, AlertEvidence, VitalSignsObservation
from schemas.state import PatientSnapshot

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def alert(patient: str, state: str, *, priority: str = "high", sequence: int = 0) -> Alert:
    alert_id = uuid.uuid5(uuid.NAMESPACE_URL, f"{patient}/pulse_high")
    return Alert(
        alert_id=alert_id,
        transition_id=uuid.uuid5(alert_id, f"{sequence}/{state}"),
        sequence=sequence,
        patient_id=patient,
        ward="ward-3",
        rule_id="pulse_high",
        priority=priority,  # type: ignore[arg-type]
        state=state,  # type: ignore[arg-type]
        at=NOW,
        summary="Pulse at or above 120/min",
        source="test",
        evidence=AlertEvidence(measure="heart_rate", value=131, unit="/min", observed_at=NOW),
    )


def vitals(patient: str, at: datetime, heart_rate: int) -> VitalSignsObservation:
    return VitalSignsObservation(
        event_id=uuid.uuid4(),
        patient_id=patient,
        device_id="bm-0001",
        ward="ward-3",
        source="bedside_monitor",
        observed_at=at,
        heart_rate=heart_rate,
        systolic_bp=152,
        diastolic_bp=94,
        temperature=37.6,
        spo2=97,
        respiratory_rate=18,
    )


def snapshot(patient: str, *, programme: str = "inpatient") -> PatientSnapshot:
    return PatientSnapshot(
        patient_id=patient,
        ward="telehealth" if programme == "telehealth" else "ward-3",
        at=NOW,
        news2=7,
        news2_band="high",
        ciwa_b=22,
        ciwa_b_band="moderate",
        phase="acute",
        hours_since_last_dose=71.6,
        in_peak_window=True,
        programme=programme,  # type: ignore[arg-type]
    )


@pytest.fixture
def view() -> WardView:
    ward = WardView()
    ward.on_vitals(vitals("pt-0001", NOW, 131))
    ward.on_vitals(vitals("pt-0001", NOW - timedelta(hours=1), 80))  # late: not the newest
    ward.on_snapshot(snapshot("pt-0001"))
    ward.on_alert(alert("pt-0001", "firing"))
    ward.on_snapshot(snapshot("pt-0002", programme="telehealth"))
    return ward


def test_the_view_keeps_the_newest_vitals_and_opens_and_closes_alerts(view: WardView) -> None:
    row = view.rows["pt-0001"]
    assert row.vitals is not None
    assert row.vitals.heart_rate == 131
    assert row.priority == "high"
    assert not view.on_alert(alert("pt-0001", "firing"))  # a redelivery is seen once
    assert view.on_alert(alert("pt-0001", "resolved", sequence=1))
    assert row.priority is None
    assert len(view.alerts()) == 2


def test_the_live_board_fits_a_row_a_patient_in_80_columns_coloured_by_priority(
    view: WardView,
) -> None:
    console = Console(width=80, record=True, force_terminal=True, color_system="standard")
    clock = SimClock.ending_now(hours=96, speed=3600, now=NOW)
    console.print(LiveBoard(console).render(view, clock, NOW + timedelta(seconds=48)))
    text = console.export_text(clear=False)
    lines = text.splitlines()
    first = next(line for line in lines if line.startswith("pt-0001"))
    for cell in ("131", "152/94", "37.6", " 7 ", " 22 ", "72 h acute*", "HIGH"):
        assert cell in first, (cell, first)
    assert next(line for line in lines if line.startswith("pt-0002")).split()[1] == "tele"
    assert "hour 48/96" in text
    ansi = console.export_text(styles=True)
    red_row = next(line for line in ansi.splitlines() if "pt-0001" in line)
    assert "\x1b[1;31m" in red_row  # high priority: bold red (IEC 60601-1-8)


def test_the_plain_board_prints_lines_at_its_interval_and_pages_at_once(
    view: WardView, capsys: pytest.CaptureFixture[str]
) -> None:
    board = PlainBoard(interval_s=60)
    clock = SimClock.ending_now(hours=96, speed=3600, now=NOW)
    board.show(view, clock, NOW)
    board.show(view, clock, NOW)  # within the interval: nothing
    board.page(alert("pt-0001", "firing"))
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("BOARD   0% simulated time")
    assert out[1].startswith("BOARD pt-0001 ward-3 | HR 131 BP 152/94")
    assert (
        "| NEWS2 7 high | CIWA-B 22 mod | last dose 72 h ago (acute, peak window) | HIGH" in out[1]
    )
    assert out[3].startswith("PAGE FIRING")
    assert len(out) == 4


def test_a_page_line_names_state_patient_rule_and_evidence() -> None:
    line = page_line(alert("pt-0001", "escalated"))
    assert line.startswith("PAGE ESCALATED")
    assert "pt-0001" in line
    assert "131 /min" in line
    assert "rule pulse_high" in line


@pytest.mark.parametrize("speed", [1.0, 60.0, 3600.0])
def test_simulated_time_never_runs_ahead_of_the_wall_clock_and_ends_now(speed: float) -> None:
    clock = SimClock.ending_now(hours=96, speed=speed, now=NOW)
    finish = NOW + clock.real_duration
    assert clock.end == finish  # the history ends when the run does
    assert clock.due(clock.end) == finish
    for step in range(11):
        wall = NOW + clock.real_duration * step / 10
        assert clock.simulated(wall) <= wall
    assert clock.progress(NOW) == 0
    assert clock.progress(finish) == pytest.approx(1)


def test_speed_one_is_real_time_and_below_one_is_refused() -> None:
    clock = SimClock.ending_now(hours=2, speed=1, now=NOW)
    assert clock.start == NOW
    assert clock.due(NOW + timedelta(minutes=30)) == NOW + timedelta(minutes=30)
    with pytest.raises(ValueError, match="at least 1"):
        SimClock.ending_now(hours=2, speed=0.5, now=NOW)
