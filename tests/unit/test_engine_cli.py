"""``detoxmon replay`` and ``detoxmon rules check|test|docs``; the docs and the example stay in
step with the rules file and their generators."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from agents.engine import ALERT_NAMESPACE, DEFAULT_RULES_FILE, default_rules
from agents.engine.docs import EXAMPLE_FILE, render_rules_page
from agents.engine.replay import read_events, replay
from agents.engine_cli import (
    check_rules,
)
from agents.engine_cli import (
    replay as replay_command,
)
from agents.engine_cli import (
    test_rules as rules_test_command,
)
from schemas import Alert
from schemas.examples import make_patient_96h

REPO = DEFAULT_RULES_FILE.parents[2]
RULE_TESTS = sorted((REPO / "tests" / "rules").glob("*.test.yaml"))


def test_every_default_rule_has_a_passing_rule_test() -> None:
    result = CliRunner().invoke(rules_test_command, [*map(str, RULE_TESTS), "--fail-uncovered"])
    assert result.exit_code == 0, result.output
    assert " 0 failed" in result.output
    assert f"Every rule of {DEFAULT_RULES_FILE} is covered." in result.output


def test_a_failing_rule_test_shows_what_was_expected_and_what_came(tmp_path: Path) -> None:
    path = tmp_path / "wrong.test.yaml"
    path.write_text(
        f"rule_file: {DEFAULT_RULES_FILE}\n"
        "tests:\n"
        "  - name: pulse 125 is high (it is not)\n"
        "    rules: [pulse_high]\n"
        "    events:\n"
        "      - {at: 0m, vitals: {heart_rate: 125}}\n"
        "    expect:\n"
        "      - {rule: pulse_high, state: firing, priority: high, at: 0m}\n"
    )
    result = CliRunner().invoke(rules_test_command, [str(path)])
    assert result.exit_code == 1
    assert "FAIL pulse 125 is high (it is not)" in result.output
    assert (
        "pulse_high firing high at 0m\n    got:\n        pulse_high firing medium at 0m (level 0)"
        in result.output
    )
    assert "no test covers: seizure" in result.output


def test_uncovered_rules_fail_the_run_when_asked(tmp_path: Path) -> None:
    path = tmp_path / "one.test.yaml"
    path.write_text(
        "tests:\n"
        "  - name: quiet\n"
        "    events: [{at: 0m, vitals: {heart_rate: 70}}]\n"
        "    expect: []\n"
    )
    assert CliRunner().invoke(rules_test_command, [str(path)]).exit_code == 0
    assert CliRunner().invoke(rules_test_command, [str(path), "--fail-uncovered"]).exit_code == 1


def test_an_invalid_event_in_a_test_file_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.test.yaml"
    path.write_text(
        "tests:\n"
        "  - name: bad\n"
        "    events:\n"
        "      - {at: 0m, vitals: {heart_rate: 400}}\n"
        "    expect: []\n"
    )
    result = CliRunner().invoke(rules_test_command, [str(path)])
    assert result.exit_code == 1
    where = f"FAILED: {path}:4: tests[0] 'bad' events[0]: "
    assert f"{where}heart_rate: Input should be less than or equal to 300" in result.output


def test_rules_check_summarises_every_rule() -> None:
    result = CliRunner().invoke(check_rules, [str(DEFAULT_RULES_FILE)])
    assert result.exit_code == 0, result.output
    for rule in default_rules().rules:
        assert f"  {rule.id} ({rule.kind})" in result.output
    assert (
        "pulse_high (threshold): heart_rate >= 120/min; resolves at < 110/min -> medium"
        in result.output
    )
    assert result.output.rstrip().endswith(
        f"SUCCESS: {len(default_rules().rules)} rules found (28 enabled by default)"
    )


def test_rules_check_fails_with_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.rules.yaml"
    path.write_text(
        DEFAULT_RULES_FILE.read_text().replace(
            '    op: ">="\n    threshold: 120\n', '    op: "=>"\n    threshold: 120\n'
        )
    )
    result = CliRunner().invoke(check_rules, [str(path)])
    assert result.exit_code == 1
    assert f"FAILED: {path}:" in result.output
    assert "rule 'pulse_high': rules[9].op: Input should be" in result.output


def test_replay_prints_each_transition_as_a_json_line_like_the_engine() -> None:
    result = CliRunner().invoke(
        replay_command, [str(EXAMPLE_FILE), "--rules", str(DEFAULT_RULES_FILE)]
    )
    assert result.exit_code == 0, result.output
    printed = [Alert.model_validate_json(line) for line in result.output.splitlines()]
    expected = replay(list(read_events(EXAMPLE_FILE)), default_rules()).transitions
    assert printed == expected


def test_replay_summary_reports_alerts_per_patient_day_by_rule_and_priority() -> None:
    result = CliRunner().invoke(replay_command, [str(EXAMPLE_FILE), "--summary"])
    assert result.exit_code == 0, result.output
    assert "51 events, 1 patients, 4.00 patient-days, 20 transitions" in result.output
    assert "ciwa_rise_with_tachycardia_peak      high          1             0.25" in result.output


def test_replay_refuses_a_line_outside_the_contract_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    lines = [
        *EXAMPLE_FILE.read_text().splitlines()[:2],
        '{"kind": "vital_signs", "patient_id": "x"}',
    ]
    path.write_text("\n".join(lines) + "\n")
    result = CliRunner().invoke(replay_command, [str(path)])
    assert result.exit_code == 1
    assert f"{path}:3: event_id: Field required" in result.output


def test_the_example_file_is_what_its_generator_writes() -> None:
    assert EXAMPLE_FILE.read_text().splitlines() == make_patient_96h.build()
    assert make_patient_96h.ALERT_NAMESPACE == ALERT_NAMESPACE


def test_the_example_fires_escalates_is_acknowledged_and_resolves_every_alert() -> None:
    result = replay(list(read_events(EXAMPLE_FILE)), default_rules())
    high = [a for a in result.transitions if a.rule_id == "ciwa_rise_with_tachycardia_peak"]
    assert [(a.state, a.escalate_to) for a in high] == [
        ("firing", "bedside_nurse"),
        ("escalated", "charge_nurse"),
        ("escalated", "on_call_physician"),
        ("acknowledged", "on_call_physician"),
        ("resolved", "on_call_physician"),
    ]
    assert high[3].acknowledged_by == "rn-4411"
    assert all(not state.alerts for state in result.states.values())
    assert {a.state for a in result.transitions} == {
        "firing",
        "escalated",
        "acknowledged",
        "resolved",
    }


def test_the_rules_page_is_rendered_from_the_rules_file() -> None:
    assert (REPO / "docs" / "rules.md").read_text() == render_rules_page(), (
        "docs/rules.md is stale: run `detoxmon rules docs --output docs/rules.md`"
    )


def test_replay_output_is_valid_json_per_line() -> None:
    result = CliRunner().invoke(replay_command, [str(EXAMPLE_FILE)])
    assert all(json.loads(line)["kind"] == "alert" for line in result.output.splitlines())
