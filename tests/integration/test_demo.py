"""`detoxmon demo` end to end: board, pages, detection figures, data stored, everything stopped.

Small figures (6 patients, 72 simulated hours at 5400x: 48 s of publishing) on the real
broker, worker and InfluxDB. Seed 28 has two telehealth patients (published over HTTP) and
six ground-truth episodes of three kinds inside the run.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def test_the_demo_shows_the_board_pages_scores_detection_and_stops_everything(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "demo"
    started = time.monotonic()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "agents.cli",
            "demo",
            "--patients",
            "6",
            "--hours",
            "72",
            "--speed",
            "5400",
            "--seed",
            "28",
            "--data-dir",
            str(data_dir),
            "--report",
            str(tmp_path / "report"),
        ],
        capture_output=True,  # not a terminal: the plain board
        text=True,
        timeout=240,
        check=False,
    )
    elapsed = time.monotonic() - started
    out = result.stdout
    assert result.returncode == 0, result.stderr[-3000:] + out[-3000:]
    print(out)

    # The board: a header with simulated time, then a row per patient, several times.
    headers = re.findall(r"^BOARD +(\d+)% simulated time", out, re.MULTILINE)
    assert len(headers) >= 3, out[-3000:]
    assert headers[-1] == "100"
    rows = re.findall(r"^BOARD (pt-\d{4}) (\S+) \| HR (\S+) .* \| NEWS2 (\S+)", out, re.MULTILINE)
    assert {patient for patient, *_ in rows} == {f"pt-{n:04d}" for n in range(1, 7)}
    assert {where for _, where, *_ in rows} >= {"ward-3", "tele"}
    assert any(hr != "-" and news2 != "-" for _, _, hr, news2 in rows)

    # Both gateway paths, and the mess dead-lettered rather than crashing anything.
    published = re.search(r"(\d+) via Kafka, (\d+) via HTTP POST /ingest \(([^)]*)\)", out)
    assert published is not None, out[-3000:]
    assert int(published.group(1)) > 0
    assert int(published.group(2)) > 0
    assert "202" in published.group(3)
    stored = re.search(r"InfluxDB holds (\d+) of (\d+) accepted vital-sign sets", out)
    assert stored is not None
    assert stored.group(1) == stored.group(2)

    # Pages printed as they came, and the detection figures at the end.
    assert re.search(r"^PAGE FIRING", out, re.MULTILINE), out[-3000:]
    assert re.search(r"^PAGES \d+ received", out, re.MULTILINE)
    kinds = dict(
        re.findall(r"^  (hypertensive_surge|rising_ciwa|seizure) +\d+ +\d+ +(\d+)%", out, re.M)
    )
    assert set(kinds) == {"hypertensive_surge", "rising_ciwa", "seizure"}, out[-3000:]
    assert kinds["seizure"] == "100"  # a seizure pages at once
    assert re.search(r"alerts outside episodes: \d+ firings, [\d.]+ per patient-day", out)
    assert "DATA InfluxDB 1.x at http://127.0.0.1:" in out
    assert "deploy/grafana/dashboards/ward-overview.json" in out

    # The run's files and the report.
    episodes = json.loads((data_dir / "run" / "episodes.json").read_text())["episodes"]
    assert len(episodes) == 6
    assert (data_dir / "run" / "alerts.jsonl").read_text().count("\n") > 0
    assert (
        "<h2>Detection against ground truth</h2>"
        in (tmp_path / "report" / "index.html").read_text()
    )

    timing = re.search(r"TIMING board after (\d+) s, (\d+) s in all", out)
    assert timing is not None
    assert int(timing.group(1)) < 60  # the board within a minute
    assert elapsed < 150
    leftovers = subprocess.run(
        ["pgrep", "-f", str(data_dir)], capture_output=True, text=True, check=False
    )
    assert leftovers.stdout.strip() == "", "the demo left processes running"
