"""``detoxmon routing check``: SUCCESS or FAILED per file, and the route for a ward, priority
and time, with secrets shown as <secret>."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from agents.pager.commands import check
from tests.unit.test_routing_file import GOOD, KEY_NURSES, REPO, good


def write_good(tmp_path: Path) -> Path:
    good(tmp_path)  # secret files beside it
    path = tmp_path / "routing.yaml"
    path.write_text(GOOD)
    return path


def test_a_valid_file_prints_success_and_exits_0(tmp_path: Path) -> None:
    path = write_good(tmp_path)
    result = CliRunner().invoke(check, [str(path)])
    assert result.exit_code == 0, result.output
    assert result.output == (
        f"{path}: SUCCESS (2 teams, 2 wards, 5 receivers; every role covered around the clock)\n"
    )


def test_the_route_lists_who_is_paged_on_which_channels_in_escalation_order(
    tmp_path: Path,
) -> None:
    path = write_good(tmp_path)
    result = CliRunner().invoke(
        check, [str(path), "--ward", "ward-3", "--priority", "medium", "--at", "2026-11-21T03:00Z"]
    )
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[1:] == [
        "ward ward-3 -> team north (listed; rota time zone Europe/London)",
        "priority medium -> pagerduty, webhook, email (each channel falls back to the next); "
        "every transition is also logged",
        "at 2026-11-21T03:00:00+00:00 = Sat 2026-11-21 03:00 Europe/London",
        "escalation order (escalation_level: role):",
        "  0: bedside_nurse: rn-night",
        "     rn-night:",
        f"       1. pagerduty routing_key=<secret> (file {tmp_path}/secrets/pd-nurses)",
        "       2. webhook   https://gateway.example/page/rn-night secret=<secret> "
        f"(file {tmp_path}/secrets/gateway)",
        "  1: charge_nurse: cn-1",
        "     cn-1:",
        "       1. pagerduty routing_key=<secret> (inline)",
        "       2. webhook   https://gateway.example/page/cn-1 secret=<secret> (inline)",
        "  2: on_call_physician: md-week",
        "     md-week:",
        "       1. webhook   https://gateway.example/page/md-week secret=<secret> "
        "(env GATEWAY_SECRET)",
        "       2. email     md-week@medicine.example",
    ]
    assert "cccccccc" not in result.output
    assert "inline-secret" not in result.output


def test_a_time_without_offset_is_the_wards_local_time(tmp_path: Path) -> None:
    path = write_good(tmp_path)
    result = CliRunner().invoke(
        check, [str(path), "--ward", "telehealth", "--at", "2026-11-20 07:30"]
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[1] == "ward telehealth -> team remote (listed; rota time zone America/New_York)"
    assert lines[2].startswith("priority high -> pagerduty, webhook ")
    assert lines[3] == "at 2026-11-20T07:30:00-05:00 = Fri 2026-11-20 07:30 America/New_York"
    assert lines[5] == "  0: bedside_nurse: rn-night"
    unknown = CliRunner().invoke(
        check, [str(path), "--ward", "ward-99", "--at", "2026-11-20 12:00"]
    )
    assert unknown.output.splitlines()[1] == (
        "ward ward-99 -> team north (default team; rota time zone Europe/London)"
    )


def test_an_invalid_file_prints_failed_with_every_problem_and_exits_1(tmp_path: Path) -> None:
    path = tmp_path / "routing.yaml"
    path.write_text(GOOD.replace("default_team: north", "default_team: south"))
    result = CliRunner().invoke(check, [str(path)])
    assert result.exit_code == 1
    assert result.output == (
        f"{path}: FAILED (1 problem)\n"
        f"  {path}:2:1: default_team: unknown team 'south' (teams: ['north', 'remote'])\n"
    )


def test_secrets_are_read_only_when_asked(tmp_path: Path) -> None:
    path = write_good(tmp_path)
    result = CliRunner().invoke(check, [str(path), "--secrets"], env={"PD_NURSES": KEY_NURSES})
    assert result.exit_code == 1
    assert f"{path}: receivers.rn-day.webhook: secret: environment variable GATEWAY_SECRET" in (
        result.output
    )
    fine = CliRunner().invoke(
        check, [str(path), "--secrets"], env={"PD_NURSES": KEY_NURSES, "GATEWAY_SECRET": "x"}
    )
    assert fine.exit_code == 0, fine.output


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    path = write_good(tmp_path)
    assert CliRunner().invoke(check, [str(path), "--at", "noon"]).exit_code == 2
    assert CliRunner().invoke(check, [str(path), "--priority", "urgent"]).exit_code == 2


def test_the_command_is_registered_on_detoxmon() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "agents.cli",
            "routing",
            "check",
            str(REPO / "deploy" / "routing.yaml"),
            "--ward",
            "ward-4",
            "--at",
            "2026-11-22T12:00:00+00:00",
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stderr
    assert "  1: charge_nurse: cn-2003" in result.stdout
    assert "Warning" not in result.stderr
