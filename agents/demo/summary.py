"""The end of a demo run in words: detection figures, where the data is, what to import."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from streams.ward.detection import DetectionReport, RuleFigures

#: The Grafana provisioning tree the project commits (``detoxmon grafana export``).
GRAFANA_TREE = Path("deploy/grafana")
SAMPLE_QUERY = (
    'SELECT max("heart_rate") FROM "vitals" WHERE time > now() - 7d GROUP BY "patient_id"'
)


def _minutes(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} min"


def detection_lines(report: DetectionReport, by_rule: list[RuleFigures]) -> list[str]:
    """Sensitivity and time to alert per episode kind, the burden outside, the rules that caught."""
    out = [
        "DETECTION against the simulator's ground truth (an episode counts as detected when any "
        "alert for its patient fires between its start and 2 h after its end):",
        f"  {'episode kind':<20} {'episodes':>8} {'detected':>8} {'sensitivity':>11} "
        f"{'median to alert':>15}",
    ]
    for kind in report.by_kind:
        sensitivity = "-" if kind.sensitivity is None else f"{kind.sensitivity:.0%}"
        out.append(
            f"  {kind.kind:<20} {kind.episodes:>8} {kind.detected:>8} {sensitivity:>11} "
            f"{_minutes(kind.median_minutes_to_alert):>15}"
        )
    overall = report.overall_sensitivity()
    if overall is None:
        out.append("  no episode fell inside this run: run longer (--hours) or with more patients")
    else:
        total = sum(k.episodes for k in report.by_kind)
        detected = sum(k.detected for k in report.by_kind)
        out.append(f"  {'all kinds':<20} {total:>8} {detected:>8} {overall:>11.0%}")
    out.append(
        f"  alerts outside episodes: {report.alerts_outside_episodes} firings, "
        f"{report.alerts_per_patient_day:.2f} per patient-day over "
        f"{report.patient_days:.1f} patient-days"
    )
    caught = [r for r in by_rule if r.episodes_caught]
    if caught:
        shown = ", ".join(f"{r.rule_id} {r.episodes_caught}" for r in caught[:6])
        out.append(f"  rules that fired inside episodes (episodes): {shown}")
    return out


def dead_letter_line(dead_letters: Counter[tuple[str, str]]) -> str:
    """Dead letters by path and reason."""
    if not dead_letters:
        return "DEAD LETTERS none"
    parts = ", ".join(
        f"{n} {reason} ({path})" for (path, reason), n in sorted(dead_letters.items())
    )
    return f"DEAD LETTERS {sum(dead_letters.values())}: {parts}"


def storage_lines(*, influx_url: str, database: str, data_dir: Path, config: Path) -> list[str]:
    """Where the data is, and how to look at it again after the demo stopped InfluxDB."""
    query = SAMPLE_QUERY.replace('"', '\\"')
    return [
        f"DATA InfluxDB 1.x at {influx_url} during the run, database '{database}'; "
        f"the files stay in {data_dir}",
        f"  to look again: influxd -config {config} & then",
        f"  curl -sG {influx_url}/query --data-urlencode db={database} "
        f'--data-urlencode "q={query}"',
    ]


def dashboard_lines(root: Path = GRAFANA_TREE) -> list[str]:
    """The Grafana dashboards to import, and the provisioning tree to mount."""
    dashboards = sorted((root / "dashboards").glob("*.json"))
    return [
        "GRAFANA dashboards to import (Dashboards > New > Import): "
        + ", ".join(str(path) for path in dashboards),
        f"  or mount {root / 'provisioning'} at /etc/grafana/provisioning and "
        f"{root / 'dashboards'} at /etc/grafana/dashboards "
        "(README, Grafana; or: detoxmon grafana provision --url URL)",
    ]
