"""``detoxmon validate``: JSON lines of contract events on stdout, located rejections on stderr,
and exit codes 0 (all accepted), 1 (something rejected) and 2 (usage).

A few tests run the real ``detoxmon`` entry point in a subprocess (Faust's root group needs the
app, and this checks the command is registered); the rest invoke the click command in-process,
which is the same code without two seconds of start-up per case.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from agents.contract import parse_accepted
from agents.ingest.validate_cli import validate_command
from schemas import VitalSignsObservation

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "schemas" / "examples"
FHIR_ACCEPTED = [
    "heart-rate.json",
    "blood-pressure-panel.json",
    "body-temperature-fahrenheit.json",
    "bundle-transaction.json",
]
HL7_ACCEPTED = [
    "oru-r01-pcd01-mdc.hl7",
    "oru-r01-pcd01-mdc-crlf.hl7",
    "oru-r01-pcd01-mdc-lf.hl7",
    "oru-r01-loinc.hl7",
    "oru-r01-two-groups.hl7",
]


def detoxmon_validate(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """The installed command, as a gateway engineer runs it."""
    return subprocess.run(
        [sys.executable, "-m", "agents.cli", "validate", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )


def validate(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """The same command in-process."""
    result = CliRunner().invoke(validate_command, [str(a) for a in args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return subprocess.CompletedProcess(args, result.exit_code, result.stdout, result.stderr)


def events(stdout: str) -> list[VitalSignsObservation]:
    parsed = [parse_accepted(line.encode()) for line in stdout.splitlines()]
    assert all(isinstance(e, VitalSignsObservation) for e in parsed)
    return [e for e in parsed if isinstance(e, VitalSignsObservation)]


def test_accepted_fhir_examples_print_one_contract_event_per_line_and_exit_0() -> None:
    result = detoxmon_validate("--format", "fhir", *(EXAMPLES / "fhir" / n for n in FHIR_ACCEPTED))
    assert result.returncode == 0, result.stderr
    printed = events(result.stdout)
    assert len(printed) == len(FHIR_ACCEPTED)
    assert all(e.received_at is not None for e in printed)
    assert all(e.source == "fhir_gateway" for e in printed)
    assert "4 event(s) accepted, 0 rejection(s) in 4 file(s)" in result.stderr


def test_accepted_hl7_examples_exit_0_and_never_print_pid5_or_pid7() -> None:
    result = validate("--format", "hl7v2", *(EXAMPLES / "hl7v2" / n for n in HL7_ACCEPTED))
    assert result.returncode == 0, result.stderr
    assert len(events(result.stdout)) == len(HL7_ACCEPTED) + 1  # two groups in one file
    for value in ("TEST", "PATIENT", "19700101"):
        assert value not in result.stdout + result.stderr


def test_rejections_go_to_stderr_with_file_location_and_reason_and_exit_1() -> None:
    fhir = validate(
        "--format",
        "fhir",
        EXAMPLES / "fhir" / "heart-rate.json",
        EXAMPLES / "fhir" / "entered-in-error.json",
        EXAMPLES / "fhir" / "data-absent-reason.json",
    )
    assert fhir.returncode == 1
    assert len(events(fhir.stdout)) == 1
    lines = fhir.stderr.splitlines()
    assert (
        f"{EXAMPLES / 'fhir' / 'entered-in-error.json'}: Observation: entered_in_error: "
        in (lines[0])
    )
    assert (
        f"{EXAMPLES / 'fhir' / 'data-absent-reason.json'}: Observation: value_missing: "
        in (lines[1])
    )
    hl7 = detoxmon_validate("--format", "hl7v2", EXAMPLES / "hl7v2" / "oru-r01-placeholder.hl7")
    assert hl7.returncode == 1
    assert len(events(hl7.stdout)) == 1
    assert "oru-r01-placeholder.hl7: OBX[7]: value_missing: " in hl7.stderr


def test_an_hl7_file_may_hold_several_messages_in_mllp_frames_or_separated_by_blank_lines(
    tmp_path: Path,
) -> None:
    good = (EXAMPLES / "hl7v2" / "oru-r01-pcd01-mdc.hl7").read_bytes()
    placeholder = (EXAMPLES / "hl7v2" / "oru-r01-placeholder.hl7").read_bytes()
    framed = tmp_path / "framed.hl7"
    framed.write_bytes(b"\x0b" + good + b"\x1c\r\x0b" + placeholder + b"\x1c\r")
    blank = tmp_path / "blank-lines.hl7"
    blank.write_bytes(good.replace(b"\r", b"\n") + b"\n\n" + placeholder.replace(b"\r", b"\n"))
    result = validate("--format", "hl7v2", framed, blank)
    assert result.returncode == 1
    assert len(events(result.stdout)) == 4
    assert f"{framed}: message[2] OBX[7]: value_missing: " in result.stderr
    assert f"{blank}: message[2] OBX[7]: value_missing: " in result.stderr


def test_native_json_events_are_checked_too_including_the_arrival_clock(tmp_path: Path) -> None:
    event = {
        "kind": "vital_signs",
        "event_id": "2f1c4d8e-8a53-4c1e-9a0e-6b5f3c2d1e0f",
        "patient_id": "pt-7f3a9c",
        "device_id": "bm-ward3-07",
        "source": "bedside_monitor",
        "observed_at": "2025-11-20T08:15:00+00:00",
        "heart_rate": 124,
    }
    good = tmp_path / "good.json"
    good.write_text(json.dumps(event))
    future = tmp_path / "future.json"
    future.write_text(json.dumps({**event, "observed_at": "2999-01-01T00:00:00+00:00"}))
    result = validate("--format", "json", good, future)
    assert result.returncode == 1
    assert [e.heart_rate for e in events(result.stdout)] == [124]
    assert f"{future}: event 2f1c4d8e-8a53-4c1e-9a0e-6b5f3c2d1e0f: future_time: " in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["--format", "fhir", "missing-file.json"],
        ["--format", "fhir", "schemas/examples"],
        ["--format", "cda", "schemas/examples/fhir/heart-rate.json"],
        ["schemas/examples/fhir/heart-rate.json"],
        ["--format", "fhir"],
    ],
)
def test_usage_errors_exit_2(args: list[str]) -> None:
    result = validate(*args)
    assert result.returncode == 2
    assert result.stdout == ""


def test_an_unreadable_file_exits_2_from_the_installed_command() -> None:
    result = detoxmon_validate("--format", "hl7v2", "missing-file.hl7")
    assert result.returncode == 2
    assert "missing-file.hl7" in result.stderr
