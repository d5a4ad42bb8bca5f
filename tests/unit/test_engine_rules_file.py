"""The rules file: the default is valid and cited; a bad one is refused with file, rule, line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from agents.engine import DEFAULT_RULES_FILE, RulesFileError, load_rules
from agents.engine.rules import RULE_KINDS, ThresholdRule

DEFAULT_TEXT = DEFAULT_RULES_FILE.read_text(encoding="utf-8")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "x.rules.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def edited(tmp_path: Path, old: str, new: str) -> Path:
    assert DEFAULT_TEXT.count(old) >= 1, old
    return write(tmp_path, DEFAULT_TEXT.replace(old, new, 1))


def line_containing(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if needle in line)


def test_the_default_rules_file_loads() -> None:
    rules = load_rules(DEFAULT_RULES_FILE)
    assert len(rules.rules) >= 25
    assert {rule.kind for rule in rules.rules} == set(RULE_KINDS)


def test_every_default_rule_cites_a_defined_published_source_and_says_why() -> None:
    rules = load_rules(DEFAULT_RULES_FILE)
    for rule in rules.rules:
        assert rule.source, rule.id
        assert all(key in rules.sources for key in rule.source), rule.id
        assert len(rule.rationale) > 40, rule.id
    references = {key for rule in rules.rules for key in rule.source}
    assert {"R1", "R6", "R21", "R22", "R29"} <= references


def test_every_default_threshold_names_a_clinical_reference_not_only_the_project_defaults() -> None:
    rules = load_rules(DEFAULT_RULES_FILE)
    for rule in rules.rules:
        if isinstance(rule, ThresholdRule):
            assert set(rule.source) - {"CM"}, rule.id


def test_departures_from_clinical_md_section_11_say_so() -> None:
    rules = load_rules(DEFAULT_RULES_FILE)
    for rule_id in ("pulse_high", "news2_low_band"):
        assert "DEPARTS" in rules.rule(rule_id).rationale


def test_an_unknown_key_names_the_file_line_and_rule(tmp_path: Path) -> None:
    path = edited(tmp_path, "    threshold: 120\n", "    threshold: 120\n    treshold: 125\n")
    with pytest.raises(RulesFileError) as caught:
        load_rules(path)
    line = line_containing(path.read_text(), "treshold:")
    assert str(caught.value) == (
        f"{path}:{line}: rule 'pulse_high': rules[9].treshold: Extra inputs are not permitted"
    )


def test_a_wrong_type_points_at_the_value(tmp_path: Path) -> None:
    path = edited(tmp_path, "    threshold: 120\n", "    threshold: high\n")
    with pytest.raises(RulesFileError) as caught:
        load_rules(path)
    line = line_containing(path.read_text(), "threshold: high")
    assert str(caught.value).startswith(f"{path}:{line}: rule 'pulse_high': rules[9].threshold: ")


def test_a_missing_field_points_at_the_rule(tmp_path: Path) -> None:
    path = edited(
        tmp_path,
        '    measure: heart_rate\n    op: ">="\n    threshold: 120\n',
        "    measure: heart_rate\n    threshold: 120\n",
    )
    with pytest.raises(RulesFileError) as caught:
        load_rules(path)
    assert re.search(r":\d+: rule 'pulse_high': rules\[9\]\.op: Field required$", str(caught.value))


def test_an_unknown_rule_kind_is_refused(tmp_path: Path) -> None:
    path = edited(tmp_path, "    kind: consciousness\n", "    kind: awareness\n")
    with pytest.raises(
        RulesFileError,
        match=r"rule 'consciousness_not_alert': rules\[3\]: Input tag 'awareness' found",
    ):
        load_rules(path)


def test_a_duplicate_key_is_refused_with_its_line(tmp_path: Path) -> None:
    path = edited(tmp_path, "    threshold: 120\n", "    threshold: 120\n    threshold: 125\n")
    with pytest.raises(RulesFileError) as caught:
        load_rules(path)
    line = line_containing(path.read_text(), "threshold: 125")
    assert str(caught.value) == f"{path}:{line}: not valid YAML: duplicate key 'threshold'"


def test_a_duplicate_rule_id_is_refused(tmp_path: Path) -> None:
    path = edited(tmp_path, "  - id: pulse_low\n", "  - id: pulse_high\n")
    with pytest.raises(
        RulesFileError,
        match=r"rule 'pulse_high': rules\[11\]\.id: duplicate rule id \(also rules\[9\]\)",
    ):
        load_rules(path)


def test_an_undefined_source_is_refused(tmp_path: Path) -> None:
    path = edited(tmp_path, "    source: [R21, R1]\n", "    source: [R21, R99]\n")
    with pytest.raises(
        RulesFileError,
        match=r"rule 'pulse_high': rules\[9\]\.source\[1\]: source 'R99' is not in sources",
    ):
        load_rules(path)


def test_an_inhibition_by_an_undefined_rule_is_refused(tmp_path: Path) -> None:
    path = edited(tmp_path, "    inhibited_by: [pulse_high]\n", "    inhibited_by: [pulse_hihg]\n")
    with pytest.raises(RulesFileError, match="inhibited_by names undefined rule 'pulse_hihg'"):
        load_rules(path)


def test_a_combination_naming_an_undefined_rule_is_refused(tmp_path: Path) -> None:
    path = edited(tmp_path, "      - {rule: ciwa_b_rise}\n", "      - {rule: ciwa_b_raise}\n")
    with pytest.raises(
        RulesFileError,
        match=r"rule 'ciwa_rise_with_tachycardia_peak'.*names undefined rule 'ciwa_b_raise'",
    ):
        load_rules(path)


def test_a_combination_that_depends_on_itself_is_refused(tmp_path: Path) -> None:
    peak = (
        "      - {in_peak_window: true}\n    inhibited_by: [fever_with_tachycardia_or_confusion, c"
    )
    path = edited(
        tmp_path, peak, peak.replace("\n", "\n      - {rule: concurrent_medium_peak}\n", 1)
    )
    with pytest.raises(
        RulesFileError, match=r"rule 'concurrent_medium_peak'.*combination depends on itself"
    ):
        load_rules(path)


def test_a_predicate_without_a_known_key_is_refused(tmp_path: Path) -> None:
    path = edited(
        tmp_path,
        "      - {in_peak_window: true}\n    inhibited_by: [fever",
        "      - {in_window: true}\n    inhibited_by: [fever",
    )
    with pytest.raises(RulesFileError, match="a predicate needs one of the keys"):
        load_rules(path)


def test_levels_must_get_further_out_and_more_urgent(tmp_path: Path) -> None:
    path = edited(
        tmp_path,
        "      - {threshold: 39.1, priority: high}\n",
        "      - {threshold: 37.5, priority: high}\n",
    )
    with pytest.raises(
        RulesFileError, match=r"levels\[0\]\.threshold 37\.5 must be further past 38\.1"
    ):
        load_rules(path)


def test_a_summary_with_an_unknown_placeholder_is_refused(tmp_path: Path) -> None:
    path = edited(
        tmp_path,
        'summary: "Pulse {value:g}/min, at or above {threshold:g}/min"',
        'summary: "Pulse {pulse}/min"',
    )
    with pytest.raises(RulesFileError, match=r"summary uses \{pulse\}"):
        load_rules(path)


def test_an_override_of_an_undefined_rule_is_refused(tmp_path: Path) -> None:
    path = edited(
        tmp_path,
        "      news2_low_band: {enabled: true}\n",
        "      news2_lowband: {enabled: true}\n",
    )
    with pytest.raises(
        RulesFileError,
        match=r"overrides\.risk_tiers\.high\.news2_lowband: override of undefined rule",
    ):
        load_rules(path)


def test_a_threshold_override_of_a_rule_without_a_threshold_is_refused(tmp_path: Path) -> None:
    path = edited(tmp_path, "  wards: {}\n", "  wards:\n    ward-7: {seizure: {threshold: 2}}\n")
    with pytest.raises(RulesFileError, match=r"rule 'seizure' \(event\) has no threshold"):
        load_rules(path)


def test_an_unknown_time_zone_is_refused(tmp_path: Path) -> None:
    path = edited(tmp_path, "  timezone: Europe/London\n", "  timezone: Europe/Londn\n")
    with pytest.raises(
        RulesFileError, match=r"quiet_hours\.timezone: unknown time zone 'Europe/Londn'"
    ):
        load_rules(path)


def test_every_problem_is_reported_not_only_the_first(tmp_path: Path) -> None:
    text = DEFAULT_TEXT.replace("    threshold: 120\n", "    threshold: 120\n    bogus: 1\n", 1)
    text = text.replace("    threshold: 40\n", "    threshold: 40\n    bogus: 2\n", 1)
    with pytest.raises(RulesFileError) as caught:
        load_rules(write(tmp_path, text))
    assert [problem.rule_id for problem in caught.value.problems] == ["pulse_high", "pulse_low"]


def test_text_that_is_not_yaml_is_refused_with_its_line(tmp_path: Path) -> None:
    with pytest.raises(
        RulesFileError, match=r"x\.rules\.yaml:3: not valid YAML: expected the node"
    ):
        load_rules(write(tmp_path, "version: 1\nrules: [\n"))


def test_a_missing_file_is_refused_clearly(tmp_path: Path) -> None:
    with pytest.raises(RulesFileError, match="cannot read: No such file or directory"):
        load_rules(tmp_path / "absent.yaml")


def test_a_document_that_is_not_a_mapping_is_refused(tmp_path: Path) -> None:
    with pytest.raises(RulesFileError, match=r":1: a rules file is a YAML mapping"):
        load_rules(write(tmp_path, "- just\n- a list\n"))


@pytest.mark.parametrize(
    "junk", ["", "version: 2\n", "{}", "version: 1\nrules: []\n", "[1, {a: b}]", "a: [1, 2"]
)
def test_loading_returns_a_rule_set_or_a_rules_file_error_and_nothing_else(
    tmp_path: Path, junk: str
) -> None:
    with pytest.raises(RulesFileError):
        load_rules(write(tmp_path, junk))


def test_the_default_file_round_trips_through_yaml() -> None:
    assert yaml.safe_load(DEFAULT_TEXT)["version"] == 1
