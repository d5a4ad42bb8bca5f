"""The HTML report: one chart per patient, the detection and burden tables, offline, escaped."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html import escape
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import plotly.graph_objects as go  # type: ignore[import-untyped]
import pytest
from click.testing import CliRunner

from agents.engine import ActiveAlert, evaluate_thresholds
from agents.report import (
    episodes_from_json,
    episodes_to_json,
    read_episodes,
    render_report,
    write_episodes,
    write_report,
)
from agents.report.burden import burden_by_priority, burden_by_rule
from agents.report.cli import report_command
from agents.report.figures import PRIORITY_COLOURS, STATE_SYMBOLS, patient_figure
from agents.report.model import PatientData, group_by_patient, monitored_patient_days
from agents.report.peak import PEAK_WINDOW_HOURS, peak_window
from schemas import Alert, AlertEvidence, Enrolment, InboundEvent, VitalSignsObservation
from streams.ward import Episode, Simulation, simulate
from streams.ward.detection import DetectionReport, score
from streams.ward.messages import parse_sent

START = datetime(2026, 11, 20, tzinfo=UTC)
HOSTILE_RULE = '<script>alert("rule")</script>'
HOSTILE_SUMMARY = 'Pulse <b>high</b> & "rising"'


@dataclass(frozen=True)
class Run:
    simulation: Simulation
    events: list[InboundEvent]
    alerts: list[Alert]
    detection: DetectionReport
    patient_days: float


def engine_alerts(events: Sequence[InboundEvent]) -> list[Alert]:
    """The rule engine's transitions for the run's vitals, in event time."""
    active: dict[str, dict[str, ActiveAlert]] = {}
    alerts: list[Alert] = []
    for event in sorted(events, key=lambda e: e.observed_at):
        if isinstance(event, VitalSignsObservation):
            state, transitions = evaluate_thresholds(active.get(event.patient_id, {}), event)
            active[event.patient_id] = state
            alerts.extend(transitions)
    return alerts


def hostile_alert(patient_id: str, at: datetime) -> Alert:
    """A high-priority escalation whose free text tries to inject markup."""
    return Alert(
        alert_id=uuid.uuid5(uuid.NAMESPACE_URL, "hostile"),
        transition_id=uuid.uuid5(uuid.NAMESPACE_URL, "hostile/2"),
        sequence=2,
        patient_id=patient_id,
        rule_id=HOSTILE_RULE,
        priority="high",
        state="escalated",
        at=at,
        summary=HOSTILE_SUMMARY,
        source="test",
        evidence=AlertEvidence(
            measure="heart_rate", value=131, unit="/min", threshold=131, observed_at=at
        ),
        escalation_level=1,
        escalate_to="charge_nurse",
    )


@pytest.fixture(scope="module")
def run() -> Run:
    # Seed 26: short- and long-acting patients, a fever and a seizure, pulse alerts.
    simulation = simulate(3, hours=72, seed=26, start=START)
    events = [e for m in simulation.messages if (e := parse_sent(m)) is not None]
    alerts = engine_alerts(events)
    alerts.append(hostile_alert(simulation.patients[0].patient_id, START + timedelta(hours=30)))
    days = monitored_patient_days(group_by_patient(events, alerts, simulation.episodes))
    detection = score(simulation.episodes, alerts, patient_days=days)
    return Run(simulation, events, alerts, detection, days)


@pytest.fixture(scope="module")
def page(run: Run, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = write_report(
        tmp_path_factory.mktemp("report"),
        events=run.events,
        alerts=run.alerts,
        episodes=run.simulation.episodes,
        detection=run.detection,
        title="Ward <3> & telehealth",
    )
    assert path.name == "index.html"
    return path.read_text(encoding="utf-8")


class _Tags(HTMLParser):
    """Start tags outside scripts, with their attributes (script bodies are CDATA)."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def tags(page: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Tags()
    parser.feed(page)
    return parser.tags


def table_rows(page: str) -> list[list[str]]:
    """Each table row's cells, markup stripped."""
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", page)
    return [
        [re.sub(r"<[^>]+>", "", cell) for cell in re.findall(r"<t[dh]>(.*?)</t[dh]>", r)]
        for r in rows
    ]


def test_the_report_has_one_drawn_plot_per_patient(run: Run, page: str) -> None:
    patients = {p.patient_id for p in run.simulation.patients}
    plots = [attrs for tag, attrs in tags(page) if "plotly-graph-div" in (attrs.get("class") or "")]
    assert len(plots) == len(patients)
    assert page.count("Plotly.newPlot(") == len(patients)
    for patient_id in patients:
        assert f"<h2>Patient {patient_id}</h2>" in page


def test_the_page_is_self_contained_with_plotly_inlined_once(page: str) -> None:
    for tag, attrs in tags(page):
        assert tag != "link", "no stylesheet may be fetched"
        for name in ("src", "href"):
            value = attrs.get(name)
            assert value is None or value.startswith("#"), f"<{tag} {name}={value!r}> fetches"
    assert not re.search(r"<script[^>]*\bsrc=", page)
    assert page.count("plotly.js v") == 1, "plotly.js is inlined exactly once"


def test_the_detection_table_has_a_row_per_episode_kind_and_a_total(run: Run, page: str) -> None:
    rows = table_rows(page)
    assert ["episode kind", "episodes", "detected", "sensitivity", "median to alert", "max"] in rows
    for kind in run.detection.by_kind:
        sensitivity = "-" if kind.sensitivity is None else f"{kind.sensitivity:.0%}"
        row = next(r for r in rows if r[0] == kind.kind.replace("_", " "))
        assert row[1:4] == [str(kind.episodes), str(kind.detected), sensitivity]
    assert any(r[0] == "all kinds" for r in rows)
    assert f"{run.detection.alerts_per_patient_day:.2f} per patient-day" in page


def test_the_burden_table_counts_alerts_per_patient_day_by_rule_and_priority(
    run: Run, page: str
) -> None:
    rows = table_rows(page)
    by_rule = {(r[0], r[1]): r for r in rows if len(r) == 7}
    expected = {(a.rule_id, a.priority) for a in run.alerts}
    for rule_id, priority in expected:
        row = by_rule[(escape(rule_id), priority)]
        firings = sum(
            1
            for a in run.alerts
            if (a.rule_id, a.priority, a.state) == (rule_id, priority, "firing")
        )
        assert row[2] == str(firings)
        assert row[3] == f"{firings / run.patient_days:.2f}"
    total = next(r for r in rows if r[0] == "all" and len(r) == 6)
    assert total[1] == str(sum(1 for a in run.alerts if a.state == "firing"))


def test_burden_counts_a_rule_once_per_transition_and_pages_for_reminders() -> None:
    at = START + timedelta(hours=1)
    firing = hostile_alert("pt-0001", at).model_copy(update={"state": "firing", "sequence": 0})
    renotified = firing.model_copy(
        update={"state": "renotified", "sequence": 1, "transition_id": uuid.uuid4()}
    )
    rows = burden_by_rule([firing, firing, renotified], patient_days=2.0)
    assert len(rows) == 1
    assert (rows[0].firings, rows[0].pages, rows[0].transitions) == (1, 2, 2)
    assert rows[0].firings_per_patient_day == 0.5
    assert [r.priority for r in burden_by_priority([firing], 0.0)] == ["high"]
    assert burden_by_priority([firing], 0.0)[0].firings_per_patient_day is None


@pytest.mark.parametrize(
    ("drug", "start_h", "end_h"),
    [("alprazolam", 24, 96), ("lorazepam", 24, 96), ("diazepam", 72, 240), ("unknown", 24, 240)],
)
def test_the_peak_window_follows_the_drug_class_from_the_last_dose(
    drug: str, start_h: float, end_h: float
) -> None:
    last_dose = START - timedelta(hours=10)
    enrolment = Enrolment.model_validate(
        {
            "event_id": str(uuid.uuid4()),
            "patient_id": "pt-0001",
            "device_id": "ehr",
            "ward": "ward-3",
            "source": "ehr",
            "observed_at": START.isoformat(),
            "programme": "inpatient",
            "drug": drug,
            "last_dose_at": last_dose.isoformat(),
        }
    )
    window = peak_window(enrolment)
    assert (window.start, window.end) == (
        last_dose + timedelta(hours=start_h),
        last_dose + timedelta(hours=end_h),
    )
    assert PEAK_WINDOW_HOURS["unknown"] == (
        min(PEAK_WINDOW_HOURS["short"][0], PEAK_WINDOW_HOURS["long"][0]),
        max(PEAK_WINDOW_HOURS["short"][1], PEAK_WINDOW_HOURS["long"][1]),
    )


def _shapes(spec: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [s for s in spec["layout"]["shapes"] if s.get("name") == name]


def _patients(run: Run) -> list[PatientData]:
    return group_by_patient(run.events, run.alerts, run.simulation.episodes)


def test_every_enrolled_patient_plot_shades_its_peak_window_across_all_rows(run: Run) -> None:
    enrolled = [p for p in _patients(run) if p.enrolment is not None]
    assert {p.half_life_class for p in run.simulation.patients} >= {"short", "long"}
    assert enrolled
    for patient in enrolled:
        spec = patient_figure(patient)
        profile = next(p for p in run.simulation.patients if p.patient_id == patient.patient_id)
        (peak,) = _shapes(spec, "peak window")
        start_h, end_h = PEAK_WINDOW_HOURS[profile.half_life_class]
        assert peak["x0"] == (profile.last_dose_at + timedelta(hours=start_h)).strftime(
            "%Y-%m-%d %H:%M:%S"
        )
        assert peak["x1"] == (profile.last_dose_at + timedelta(hours=end_h)).strftime(
            "%Y-%m-%d %H:%M:%S"
        )
        assert (peak["yref"], peak["y0"], peak["y1"]) == ("paper", 0, 1)


def test_a_patient_whose_enrolment_was_lost_has_no_peak_window_and_says_so(
    run: Run, page: str
) -> None:
    # Seed 26 sends pt-0001's enrolment malformed, as a real gateway sometimes does.
    (lost,) = [p for p in _patients(run) if p.enrolment is None]
    assert _shapes(patient_figure(lost), "peak window") == []
    assert "none received: peak window unknown" in page


def test_ground_truth_episodes_are_labelled_bands_on_their_patient_plot(run: Run) -> None:
    assert run.simulation.episodes
    for patient in _patients(run):
        spec = patient_figure(patient)
        bands = [s for s in spec["layout"]["shapes"] if str(s.get("name")).startswith("episode")]
        assert [b["label"]["text"] for b in bands] == [
            f"episode: {e.kind.replace('_', ' ')}" for e in patient.episodes
        ]
        assert all(b["yref"] == "paper" for b in bands)


def test_rows_share_one_time_axis_and_alerts_are_coloured_by_priority_shaped_by_state(
    run: Run,
) -> None:
    for patient in _patients(run):
        spec = patient_figure(patient)
        assert {t["xaxis"] for t in spec["data"]} == {"x"}
        rows = [k for k in spec["layout"] if k.startswith("yaxis")]
        assert len(rows) == 8
        assert {t["yaxis"] for t in spec["data"]} == {"y", *(f"y{n}" for n in range(2, 9))}
        marked = sum(
            len(t["x"])
            for t in spec["data"]
            if t.get("legendgroup") == "alerts" and t.get("name") != "clinical event"
        )
        assert marked == len(patient.alerts), "one marker per alert transition"
        for trace in spec["data"]:
            if trace.get("legendgroup") == "alerts" and trace["name"] != "clinical event":
                priority, state = trace["name"].split(", ")
                assert trace["marker"]["color"] == PRIORITY_COLOURS[priority]
                assert trace["marker"]["symbol"] == STATE_SYMBOLS[state]


def test_doses_are_on_their_own_track_with_drug_mg_and_diazepam_equivalent(run: Run) -> None:
    patient = next(p for p in _patients(run) if p.doses)
    spec = patient_figure(patient)
    doses = [t for t in spec["data"] if t.get("legendgroup") == "doses"]
    assert sum(len(t["x"]) for t in doses) == len(patient.doses)
    hover = " ".join(h for t in doses for h in t["hovertext"])
    dose = patient.doses[0]
    assert f"{dose.drug} {dose.dose_mg:g} mg" in hover
    assert f"{dose.diazepam_equivalent_mg:g} mg diazepam equivalent" in hover


def test_the_figure_spec_is_valid_for_plotly(run: Run) -> None:
    for patient in _patients(run):
        go.Figure(patient_figure(patient))  # raises ValueError on any unknown property


def test_free_text_is_escaped_in_the_page_and_in_the_charts(run: Run, page: str) -> None:
    assert HOSTILE_RULE not in page
    assert "&lt;script&gt;alert(&quot;rule&quot;)&lt;/script&gt;" in page  # burden table
    assert "<title>Ward &lt;3&gt; &amp; telehealth</title>" in page
    # Plotly renders a subset of HTML in labels and hover text but decodes only a few
    # entities, so chart text escapes <, > and & and leaves quotes to Plotly's JSON.
    (patient,) = [p for p in _patients(run) if any(a.rule_id == HOSTILE_RULE for a in p.alerts)]
    spec = patient_figure(patient)
    lane = '&lt;script&gt;alert("rule")&lt;/script&gt;'
    assert lane in spec["layout"]["yaxis8"]["categoryarray"]
    (hover,) = [h for t in spec["data"] if t["name"] == "high, escalated" for h in t["hovertext"]]
    assert 'Pulse &lt;b&gt;high&lt;/b&gt; &amp; "rising"' in hover
    assert "Pulse &lt;b&gt;high" in page
    assert "Pulse \\u003cb\\u003ehigh" not in page
    assert HOSTILE_SUMMARY not in page


def test_no_raw_message_content_reaches_the_page(run: Run, page: str) -> None:
    for event in run.events[:50]:
        assert str(event.event_id) not in page
    assert "device_id" not in page


def test_a_patient_without_alerts_gets_an_explicit_empty_alert_lane(run: Run) -> None:
    quiet = PatientData(
        "pt-9999", vitals=[e for e in run.events if isinstance(e, VitalSignsObservation)][:3]
    )
    spec = patient_figure(quiet)
    assert spec["layout"]["yaxis8"]["categoryarray"] == ["no alerts"]
    assert spec["layout"]["xaxis"]["anchor"] == "y8"


def test_the_report_builds_quickly(run: Run) -> None:
    began = time.perf_counter()
    render_report(
        events=run.events,
        alerts=run.alerts,
        episodes=run.simulation.episodes,
        detection=run.detection,
        title="timing",
    )
    assert time.perf_counter() - began < 5


def test_episodes_round_trip_through_json(run: Run, tmp_path: Path) -> None:
    episodes = run.simulation.episodes
    assert episodes_from_json(episodes_to_json(episodes)) == episodes
    path = write_episodes(tmp_path / "episodes.json", episodes)
    assert read_episodes(path) == episodes


def test_an_episode_of_an_unknown_kind_is_refused() -> None:
    bad = Episode("pt-0001", "fever", START, START + timedelta(hours=1))
    text = episodes_to_json([bad]).replace('"fever"', '"fevr"')
    with pytest.raises(ValueError, match="kind"):
        episodes_from_json(text)


def test_the_report_command_builds_the_page_from_files(run: Run, tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    events.write_bytes(b"".join(m.value + b"\n" for m in run.simulation.messages))
    alerts = tmp_path / "alerts.jsonl"
    alerts.write_text("".join(a.model_dump_json() + "\n" for a in run.alerts))
    episodes = write_episodes(tmp_path / "episodes.json", run.simulation.episodes)
    result = CliRunner().invoke(
        report_command,
        [str(events), str(alerts), str(tmp_path / "out"), "--episodes", str(episodes)],
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(tmp_path / "out" / "index.html")
    page = (tmp_path / "out" / "index.html").read_text(encoding="utf-8")
    assert page.count("Plotly.newPlot(") == len(run.simulation.patients)
    assert "sensitivity" in page
    malformed = sum(1 for m in run.simulation.messages if m.label in ("malformed", "artefact"))
    if malformed:
        assert f"skipped {malformed} lines" in result.stderr


def test_a_run_with_nothing_in_it_still_renders_a_page_that_says_so() -> None:
    page = render_report(events=[], alerts=[], episodes=None, detection=None, title="empty")
    assert "0 patients, 0.0 patient-days, no events." in page
    assert "No alerts in 0.0 patient-days." in page
    assert "Plotly.newPlot(" not in page


def test_a_patient_known_only_from_alerts_still_gets_a_plot() -> None:
    alert = hostile_alert("pt-0042", START)
    page = render_report(events=[], alerts=[alert], episodes=None, detection=None, title="t")
    assert page.count("Plotly.newPlot(") == 1
    assert "<h2>Patient pt-0042</h2>" in page


def test_the_page_has_a_detection_by_rule_table_when_ground_truth_is_known(
    run: Run, page: str
) -> None:
    assert "<h3>Detection by rule</h3>" in page
    head = next(row for row in table_rows(page) if row[:2] == ["rule", "episodes caught"])
    assert head[-1] == "outside per patient-day"
    without = render_report(
        events=run.events, alerts=run.alerts, episodes=None, detection=None, title="t"
    )
    assert "Detection by rule" not in without


def test_replay_writes_the_report_scored_against_episodes(run: Run, tmp_path: Path) -> None:
    from agents.engine_cli import replay

    events = tmp_path / "events.jsonl"
    events.write_text("".join(e.model_dump_json() + "\n" for e in run.events))
    episodes = write_episodes(tmp_path / "episodes.json", run.simulation.episodes)
    out = tmp_path / "replayed"
    result = CliRunner().invoke(
        replay, [str(events), "--report", str(out), "--episodes", str(episodes)]
    )
    assert result.exit_code == 0, result.output
    assert result.stderr.strip() == f"report: {out / 'index.html'}"
    transitions = [Alert.model_validate_json(line) for line in result.stdout.splitlines()]
    page = (out / "index.html").read_text(encoding="utf-8")
    assert page.count("Plotly.newPlot(") == len(run.simulation.patients)
    assert f"{len(transitions)} alert transitions" in page
    assert "<h3>Detection by rule</h3>" in page
    refused = CliRunner().invoke(replay, [str(events), "--episodes", str(episodes)])
    assert refused.exit_code == 2
    assert "add --report DIR" in refused.output
