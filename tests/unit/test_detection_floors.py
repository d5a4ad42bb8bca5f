"""The default rules detect the simulator's ground-truth episodes at the floors the README states.

A seeded cohort (120 patients, 120 simulated hours, mess included) goes through the contract
and the pure rule engine, as ``detoxmon replay`` runs it (no broker, a few seconds), and is
scored with ``streams.ward.detection``. The floors are read from the README's table, so the
document and the check cannot drift apart. Run with ``-s`` to see the measured figures.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from agents.contract import ContractError, parse_event
from agents.engine import load_rules
from agents.engine.replay import ResultBuilder
from schemas import Alert
from streams.ward import Simulation, simulate
from streams.ward.detection import DetectionReport, score

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
RULES = ROOT / "deploy" / "rules" / "default.rules.yaml"
START = datetime(2026, 11, 20, tzinfo=UTC)
PATIENTS, HOURS, SEED = 120, 120, 1

_KIND_ROW = re.compile(r"^\| `(\w+)` \| +(\d+) % \| +(\d+) min \|", re.MULTILINE)
_BURDEN = re.compile(r"at most \*\*([\d.]+) alerts per patient-day\*\*")


def readme_floors() -> tuple[dict[str, tuple[float, float]], float]:
    """Per kind (sensitivity floor, median minutes ceiling), and the burden ceiling."""
    text = README.read_text(encoding="utf-8")
    kinds = {
        kind: (int(floor) / 100, float(minutes)) for kind, floor, minutes in _KIND_ROW.findall(text)
    }
    burden = _BURDEN.search(text)
    assert kinds, "README has no detection floors table"
    assert burden is not None, "README states no alert-burden ceiling"
    return kinds, float(burden.group(1))


def replay_simulation(simulation: Simulation) -> list[Alert]:
    """What the engine makes of what the contract accepts, in send order."""
    builder = ResultBuilder(load_rules(RULES))
    for message in simulation.messages:
        try:
            event = parse_event(message.value, received_at=message.send_at)
        except ContractError:
            continue  # malformed and artefacts: dead-lettered by the pipeline
        builder.add(event)
    builder.finish(simulation.end)
    return builder.result.transitions


@pytest.fixture(scope="module")
def measured() -> DetectionReport:
    simulation = simulate(PATIENTS, hours=HOURS, seed=SEED, start=START)
    alerts = replay_simulation(simulation)
    report = score(simulation.episodes, alerts, patient_days=simulation.patient_days())
    print(f"\n{PATIENTS} patients, {HOURS} h, seed {SEED}, {report.patient_days:.1f} patient-days")
    for kind in report.by_kind:
        median = kind.median_minutes_to_alert
        print(
            f"  {kind.kind:<20} {kind.detected:>3}/{kind.episodes:<3} "
            f"sensitivity {kind.sensitivity or 0:.0%}, median time to alert "
            f"{'-' if median is None else f'{median:.0f} min'}"
        )
    print(
        f"  overall sensitivity {report.overall_sensitivity() or 0:.0%}; "
        f"{report.alerts_outside_episodes} firings outside episodes, "
        f"{report.alerts_per_patient_day:.2f} per patient-day"
    )
    return report


def test_the_readme_states_a_floor_for_every_episode_kind_the_simulator_injects(
    measured: DetectionReport,
) -> None:
    floors, _ = readme_floors()
    assert {kind.kind for kind in measured.by_kind} <= set(floors)
    assert all(kind.episodes >= 3 for kind in measured.by_kind), "too few episodes to judge"


def test_each_episode_kind_is_detected_at_least_as_often_and_as_fast_as_the_readme_says(
    measured: DetectionReport,
) -> None:
    floors, _ = readme_floors()
    for kind in measured.by_kind:
        floor, ceiling = floors[kind.kind]
        assert kind.sensitivity is not None
        assert kind.sensitivity >= floor, (kind.kind, kind.sensitivity, floor)
        assert kind.median_minutes_to_alert is not None
        assert kind.median_minutes_to_alert <= ceiling, (kind.kind, kind.median_minutes_to_alert)


def test_alerts_outside_episodes_stay_under_the_readme_ceiling(measured: DetectionReport) -> None:
    _, ceiling = readme_floors()
    assert measured.alerts_per_patient_day <= ceiling, measured.alerts_per_patient_day
