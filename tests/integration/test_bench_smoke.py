"""The benchmark's smoke profile runs every phase and reports every figure, so it cannot rot.

It runs ``detoxmon bench --smoke`` as a subprocess, on its own embedded services, and checks
the JSON's shape and that each figure is a positive number. It asserts no speed: on a shared
machine speed is measured by the full run, against baselines measured in the same run.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration


def _command() -> list[str]:
    script = Path(sys.executable).with_name("detoxmon")
    return [str(script)] if script.exists() else [sys.executable, "-m", "agents.cli"]


def positive(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


def positive_or_none(value: Any) -> bool:
    return value is None or positive(value)


def test_smoke_run_reports_every_figure(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    done = subprocess.run(
        [*_command(), "bench", "--smoke", "--out", str(out)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    result = json.loads(out.read_text())

    machine = result["machine"]
    assert positive(machine["cpu_count"])
    assert isinstance(machine["cpu_model"], str)
    assert machine["python"].startswith("3.")
    assert isinstance(machine["packages"]["faust-streaming"], str)

    workload = result["workload"]
    assert workload["messages"] == 2000
    sets = workload["observation_sets"]
    assert 0 < sets < workload["messages"]
    assert 5 * sets <= workload["vital_values"] <= 6 * sets
    assert {"ciwa_b", "clinical_event", "enrolment"} <= set(workload["by_kind"])

    baselines = result["baselines"]
    for name in ("raw_ceiling", "framework_ceiling", "naive_pipeline"):
        assert positive(baselines[name]["msgs_per_s"]), name
        assert positive(baselines[name]["sustained_msgs_per_s"]), name
    assert baselines["raw_ceiling"]["complete"]
    assert baselines["framework_ceiling"]["complete"]
    assert positive(baselines["naive_pipeline"]["points_written"])
    assert [hop["fetch_max_wait_ms"] for hop in baselines["broker_hop_ms"]] == [1500, 20]
    assert result["worker_kafka"] == {"fetch_max_wait_ms": 20, "producer_linger_ms": 5}
    assert all(positive(hop["p50"]) for hop in baselines["broker_hop_ms"])

    e2e = result["end_to_end"]
    assert e2e["complete"]
    assert e2e["observation_sets"] == sets
    for name in ("msgs_per_s", "sustained_msgs_per_s", "observation_sets_per_s", "seconds"):
        assert positive(e2e[name]), name
    assert positive(e2e["vital_values_per_s"])
    assert isinstance(e2e["alerts_published"], int)
    assert isinstance(e2e["dead_letters"], int)
    assert positive(e2e["cpu"]["worker_cpu_s"])

    assert all(positive(value) for value in result["ratios"].values()), result["ratios"]

    assert [row["offered_msgs_per_s"] for row in result["latency"]] == [20, 50, 100]
    for index, row in enumerate(result["latency"]):
        assert positive(row["achieved_offered_msgs_per_s"])
        assert positive(row["probes"])
        for key in ("reading_to_alert_ms", "reading_to_alert_record_ms", "reading_to_page_ms"):
            figures = row[key]
            assert figures["n"] + figures["missing"] == row["probes"], key
            # The lowest load is far below any pipeline's capacity; above it, a slow pipeline
            # on a busy machine may leave probes undelivered, which the JSON reports as null.
            assert positive(figures["p50"]) if index == 0 else positive_or_none(figures["p50"])
            assert positive_or_none(figures["p95"]), key
            assert positive_or_none(figures["p99"]), key

    memory = result["memory"]
    assert memory["patients"] == 500
    assert memory["processed"]
    assert positive(memory["rss_mb"])
    assert positive(memory["baseline_rss_mb"])
    assert memory["peak_rss_mb"] >= memory["rss_mb"]

    assert len(result["targets"]) == 5
    assert {target["status"] for target in result["targets"]} <= {"PASS", "MISS", "N/A"}

    profile = result["profile"]
    if profile["available"]:
        assert positive(profile["samples"])
        assert profile["self_by_package"]
        assert profile["top_self"]
        assert Path(profile["raw"]).exists()
    else:
        assert isinstance(profile["reason"], str)

    assert set(result["phase_seconds"]) >= {"end_to_end", "latency", "memory"}
    assert "targets" in done.stdout
