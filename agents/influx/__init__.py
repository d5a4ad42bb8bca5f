"""InfluxDB storage: points from events, writers for the v1 and v2 APIs, the batching sink.

The schema is documented in ``docs/storage.md``.
"""

from agents.influx.points import alert_point, deadletter_point, health_points, observation_point
from agents.influx.writer import (
    InfluxRefused,
    InfluxUnavailable,
    InfluxWriteError,
    InfluxWriter,
    create_writer,
)

__all__ = [
    "InfluxRefused",
    "InfluxUnavailable",
    "InfluxWriteError",
    "InfluxWriter",
    "alert_point",
    "create_writer",
    "deadletter_point",
    "health_points",
    "observation_point",
]
