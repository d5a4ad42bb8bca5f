"""In-process counters the sinks update and the heartbeat reports (``pipeline_health``).

A plain object rather than a metrics library: the sinks and the heartbeat timer share one event
loop in one worker, and the only consumer is the heartbeat point.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class LatencySummary:
    """Sink latency over one heartbeat interval, in milliseconds."""

    mean_ms: float
    max_ms: float


class SinkMetrics:
    """Points written since start, and sink latencies since the last :meth:`take_latency`."""

    def __init__(self) -> None:
        self.points_written_total = 0
        self._latency_sum_ms = 0.0
        self._latency_count = 0
        self._latency_max_ms = 0.0

    def record(self, *, points: int, latencies_ms: Iterable[float]) -> None:
        """Count ``points`` written, with the latency of each event that was stored."""
        self.points_written_total += points
        for latency in latencies_ms:
            self._latency_sum_ms += latency
            self._latency_count += 1
            self._latency_max_ms = max(self._latency_max_ms, latency)

    def take_latency(self) -> LatencySummary | None:
        """The latency summary since the last call (None if nothing was written), then reset."""
        if not self._latency_count:
            return None
        summary = LatencySummary(
            mean_ms=self._latency_sum_ms / self._latency_count, max_ms=self._latency_max_ms
        )
        self._latency_sum_ms = 0.0
        self._latency_count = 0
        self._latency_max_ms = 0.0
        return summary


#: The worker's sink metrics.
SINK_METRICS = SinkMetrics()
