"""Scoring a run's alerts against the simulator's ground truth.

An episode counts as detected when an alert for that patient fires between the episode's
start and its end plus a grace period (a rule with persistence or an overdue-observation rule
needs some time after the episode begins). Time to alert is measured from the episode's start
to the first such firing. Firings outside every episode's window are the alert burden,
reported per patient-day; they are not all false alarms, since the withdrawal course itself
can cross thresholds.

Any rule's firing counts towards an episode, as a nurse paged for any reason would see the
patient. :func:`score_by_rule` shows which rules did the catching, and at what cost outside
episodes, so a lead tuning one rule sees both sides of it.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from schemas import Alert
from streams.ward.episodes import Episode

GRACE = timedelta(hours=2)


@dataclass(frozen=True)
class KindFigures:
    """Detection figures for one episode kind."""

    kind: str
    episodes: int
    detected: int
    median_minutes_to_alert: float | None
    max_minutes_to_alert: float | None

    @property
    def sensitivity(self) -> float | None:
        """Share of episodes detected, or None when there were none."""
        return self.detected / self.episodes if self.episodes else None


@dataclass(frozen=True)
class DetectionReport:
    """Per kind figures and the alert burden outside episodes."""

    by_kind: list[KindFigures]
    alerts_outside_episodes: int
    patient_days: float

    @property
    def alerts_per_patient_day(self) -> float:
        """Firings outside any episode, per patient-day monitored."""
        return self.alerts_outside_episodes / self.patient_days if self.patient_days else 0.0

    def overall_sensitivity(self) -> float | None:
        """Share of all episodes detected."""
        total = sum(k.episodes for k in self.by_kind)
        return sum(k.detected for k in self.by_kind) / total if total else None


@dataclass(frozen=True)
class RuleFigures:
    """What one rule caught, how fast, and how often it fired outside every episode."""

    rule_id: str
    episodes_caught: int
    episodes_total: int
    kinds: tuple[str, ...]
    median_minutes_to_alert: float | None
    firings_outside: int
    patient_days: float

    @property
    def share_caught(self) -> float | None:
        """Share of all episodes in whose window this rule fired."""
        return self.episodes_caught / self.episodes_total if self.episodes_total else None

    @property
    def outside_per_patient_day(self) -> float:
        """This rule's firings outside every episode, per patient-day."""
        return self.firings_outside / self.patient_days if self.patient_days else 0.0


def _windows(
    episodes: list[Episode], grace: timedelta
) -> dict[str, list[tuple[datetime, datetime]]]:
    windows: dict[str, list[tuple[datetime, datetime]]] = defaultdict(list)
    for episode in episodes:
        windows[episode.patient_id].append((episode.start, episode.end + grace))
    return windows


def score_by_rule(
    episodes: list[Episode],
    alerts: list[Alert],
    *,
    patient_days: float,
    grace: timedelta = GRACE,
) -> list[RuleFigures]:
    """Per rule that fired: episodes caught, median time to its first firing, burden outside."""
    windows = _windows(episodes, grace)
    firings: dict[str, dict[str, list[datetime]]] = defaultdict(lambda: defaultdict(list))
    unique = {alert.transition_id: alert for alert in alerts if alert.state == "firing"}
    for alert in unique.values():
        firings[alert.rule_id][alert.patient_id].append(alert.at)
    rows = []
    for rule_id, by_patient in firings.items():
        delays: list[float] = []
        kinds: set[str] = set()
        for episode in episodes:
            window_end = episode.end + grace
            hits = sorted(
                t
                for t in by_patient.get(episode.patient_id, [])
                if episode.start <= t <= window_end
            )
            if hits:
                delays.append((hits[0] - episode.start).total_seconds() / 60)
                kinds.add(episode.kind)
        outside = sum(
            1
            for patient_id, times in by_patient.items()
            for t in times
            if not any(s <= t <= f for s, f in windows.get(patient_id, []))
        )
        rows.append(
            RuleFigures(
                rule_id=rule_id,
                episodes_caught=len(delays),
                episodes_total=len(episodes),
                kinds=tuple(sorted(kinds)),
                median_minutes_to_alert=statistics.median(delays) if delays else None,
                firings_outside=outside,
                patient_days=patient_days,
            )
        )
    return sorted(rows, key=lambda r: (-r.episodes_caught, -r.firings_outside, r.rule_id))


def score(
    episodes: list[Episode],
    alerts: list[Alert],
    *,
    patient_days: float,
    grace: timedelta = GRACE,
) -> DetectionReport:
    """Match firings to episodes."""
    firings: dict[str, list[datetime]] = defaultdict(list)
    for alert in alerts:
        if alert.state == "firing":
            firings[alert.patient_id].append(alert.at)
    for times in firings.values():
        times.sort()
    delays: dict[str, list[float]] = defaultdict(list)
    counts: dict[str, int] = defaultdict(int)
    for episode in episodes:
        counts[episode.kind] += 1
        window_end = episode.end + grace
        hits = [t for t in firings[episode.patient_id] if episode.start <= t <= window_end]
        if hits:
            delays[episode.kind].append((hits[0] - episode.start).total_seconds() / 60)
    outside = 0
    for patient_id, times in firings.items():
        windows = [(e.start, e.end + grace) for e in episodes if e.patient_id == patient_id]
        outside += sum(1 for t in times if not any(s <= t <= f for s, f in windows))
    by_kind = [
        KindFigures(
            kind=kind,
            episodes=counts[kind],
            detected=len(delays[kind]),
            median_minutes_to_alert=statistics.median(delays[kind]) if delays[kind] else None,
            max_minutes_to_alert=max(delays[kind]) if delays[kind] else None,
        )
        for kind in sorted(counts)
    ]
    return DetectionReport(
        by_kind=by_kind, alerts_outside_episodes=outside, patient_days=patient_days
    )
