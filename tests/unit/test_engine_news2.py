"""NEWS2 worked from the RCP 2017 chart: every band edge, both SpO2 scales, clinical.md 11.4."""

from __future__ import annotations

import pytest

from agents.engine.news2 import (
    ObservationSet,
    band_of,
    round_half_up,
    score,
    score_consciousness,
    score_oxygen,
    score_pulse,
    score_respiratory_rate,
    score_spo2,
    score_systolic_bp,
    score_temperature,
)


def obs(**changes: object) -> ObservationSet:
    values: dict[str, object] = {
        "respiratory_rate": 16,
        "spo2": 97,
        "supplemental_oxygen": False,
        "systolic_bp": 125,
        "heart_rate": 75,
        "consciousness": "A",
        "temperature": 36.8,
    }
    values.update(changes)
    return ObservationSet(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("rate", "expected"),
    [(0, 3), (8, 3), (9, 1), (11, 1), (12, 0), (20, 0), (21, 2), (24, 2), (25, 3), (60, 3)],
)
def test_respiratory_rate_band_edges(rate: float, expected: int) -> None:
    assert score_respiratory_rate(rate) == expected


@pytest.mark.parametrize(
    ("spo2", "expected"), [(50, 3), (91, 3), (92, 2), (93, 2), (94, 1), (95, 1), (96, 0), (100, 0)]
)
def test_spo2_scale_1_band_edges(spo2: float, expected: int) -> None:
    assert score_spo2(spo2, scale=1, on_oxygen=False) == expected
    assert score_spo2(spo2, scale=1, on_oxygen=True) == expected


@pytest.mark.parametrize(
    ("spo2", "on_oxygen", "expected"),
    [
        (83, False, 3),
        (84, False, 2),
        (85, False, 2),
        (86, False, 1),
        (87, False, 1),
        (88, False, 0),
        (92, False, 0),
        (93, False, 0),
        (100, False, 0),
        (92, True, 0),
        (93, True, 1),
        (94, True, 1),
        (95, True, 2),
        (96, True, 2),
        (97, True, 3),
        (100, True, 3),
    ],
)
def test_spo2_scale_2_band_edges_on_air_and_on_oxygen(
    spo2: float, on_oxygen: bool, expected: int
) -> None:
    assert score_spo2(spo2, scale=2, on_oxygen=on_oxygen) == expected


def test_supplemental_oxygen_scores_2() -> None:
    assert (score_oxygen(False), score_oxygen(True)) == (0, 2)


@pytest.mark.parametrize(
    ("systolic", "expected"),
    [(60, 3), (90, 3), (91, 2), (100, 2), (101, 1), (110, 1), (111, 0), (219, 0), (220, 3)],
)
def test_systolic_band_edges(systolic: float, expected: int) -> None:
    assert score_systolic_bp(systolic) == expected


@pytest.mark.parametrize(
    ("pulse", "expected"),
    [
        (30, 3),
        (40, 3),
        (41, 1),
        (50, 1),
        (51, 0),
        (90, 0),
        (91, 1),
        (110, 1),
        (111, 2),
        (130, 2),
        (131, 3),
    ],
)
def test_pulse_band_edges(pulse: float, expected: int) -> None:
    assert score_pulse(pulse) == expected


@pytest.mark.parametrize(("level", "expected"), [("A", 0), ("C", 3), ("V", 3), ("P", 3), ("U", 3)])
def test_any_level_but_alert_scores_3(level: str, expected: int) -> None:
    assert score_consciousness(level) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("celsius", "expected"),
    [
        (34.0, 3),
        (35.0, 3),
        (35.1, 1),
        (36.0, 1),
        (36.1, 0),
        (38.0, 0),
        (38.1, 1),
        (39.0, 1),
        (39.1, 2),
        (41.0, 2),
    ],
)
def test_temperature_band_edges(celsius: float, expected: int) -> None:
    assert score_temperature(celsius) == expected


@pytest.mark.parametrize(
    ("total", "single", "band"),
    [
        (0, False, "low"),
        (4, False, "low"),
        (3, True, "low_medium"),
        (5, False, "medium"),
        (6, True, "medium"),
        (7, False, "high"),
        (20, True, "high"),
    ],
)
def test_bands_and_the_single_parameter_3_rule(total: int, single: bool, band: str) -> None:
    assert band_of(total, single) == band


def test_vector_a_scores_7_high() -> None:
    result = score(
        obs(respiratory_rate=22, spo2=95, systolic_bp=105, heart_rate=115, temperature=38.3)
    )
    assert result.parameters == {
        "respiratory_rate": 2,
        "spo2": 1,
        "supplemental_oxygen": 0,
        "systolic_bp": 1,
        "heart_rate": 2,
        "consciousness": 0,
        "temperature": 1,
    }
    assert (result.total, result.band) == (7, "high")


def test_vector_b_new_confusion_alone_is_3_with_a_single_3() -> None:
    result = score(obs(consciousness="C"))
    assert (result.total, result.band, result.single_parameter_3) == (3, "low_medium", True)


def test_vector_c_pulse_and_temperature_edges() -> None:
    assert score(obs(heart_rate=130)).parameters["heart_rate"] == 2
    assert score(obs(heart_rate=131)).parameters["heart_rate"] == 3
    assert score(obs(temperature=38.0)).parameters["temperature"] == 0
    assert score(obs(temperature=38.1)).parameters["temperature"] == 1


def test_vector_d_98_6_fahrenheit_is_37_0_celsius_and_scores_0() -> None:
    celsius = (98.6 - 32) * 5 / 9
    assert round_half_up(celsius, 1) == 37.0
    assert score(obs(temperature=celsius)).parameters["temperature"] == 0


def test_vector_e_scale_2_on_oxygen_at_95_scores_2_plus_2() -> None:
    result = score(obs(spo2=95, supplemental_oxygen=True), scale=2)
    assert result.parameters["spo2"] + result.parameters["supplemental_oxygen"] == 4
    assert result.total == 4


def test_inputs_are_rounded_half_up_before_scoring() -> None:
    assert score(obs(temperature=38.05)).parameters["temperature"] == 1  # 38.1
    assert score(obs(temperature=38.04)).parameters["temperature"] == 0  # 38.0
    assert score(obs(heart_rate=130.5)).parameters["heart_rate"] == 3  # 131
    assert score(obs(heart_rate=130.4)).parameters["heart_rate"] == 2  # 130
    assert score(obs(spo2=91.5)).parameters["spo2"] == 2  # 92


def test_the_aggregate_runs_from_0_to_20() -> None:
    worst = obs(
        respiratory_rate=30,
        spo2=80,
        supplemental_oxygen=True,
        systolic_bp=80,
        heart_rate=150,
        consciousness="U",
        temperature=34,
    )
    assert score(worst).total == 20
    assert score(obs()).total == 0
