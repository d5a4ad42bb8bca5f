"""InfluxDB storage: points from events, writers for the v1 and v2 APIs, the batching sink."""

from agents.influx.points import alert_point, observation_point
from agents.influx.writer import InfluxWriteError, InfluxWriter, create_writer

__all__ = ["InfluxWriteError", "InfluxWriter", "alert_point", "create_writer", "observation_point"]
