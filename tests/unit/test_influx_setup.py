"""Retention durations and the rollup statements `detoxmon influx setup` sends."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from agents.influx.setup import ROLLUPS, continuous_query, duration_seconds, flux_task
from agents.settings import InfluxSettings
from schemas.vitals import VITAL_FIELDS


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90d", 90 * 86400),
        ("2w", 14 * 86400),
        ("1h", 3600),
        ("INF", 0),
        ("2160h0m0s", 90 * 86400),  # how SHOW RETENTION POLICIES prints 90d
        ("0s", 0),  # ... and INF
        ("1h30m0s", 5400),
    ],
)
def test_durations_in_influxql_and_go_notation(text: str, seconds: int) -> None:
    assert duration_seconds(text) == seconds


def test_a_malformed_duration_is_refused() -> None:
    with pytest.raises(ValueError, match="not a duration"):
        duration_seconds("90 days")


@pytest.mark.parametrize("value", ["30", "0d", "1m", "90 d", "forever"])
def test_settings_refuse_a_retention_influxdb_would_refuse(value: str) -> None:
    with pytest.raises(ValidationError, match="raw_retention"):
        InfluxSettings(raw_retention=value)


def test_the_continuous_query_reads_raw_and_writes_every_aggregate_into_the_rollup_policy() -> None:
    settings = InfluxSettings(database="dx", rollup_retention_policy="longterm")
    statement = continuous_query(settings, ROLLUPS[0])
    assert statement.startswith(
        'CREATE CONTINUOUS QUERY "vitals_1m" ON "dx" RESAMPLE EVERY 1m FOR 1h BEGIN SELECT '
    )
    assert 'INTO "dx"."longterm"."vitals_1m" FROM "dx"."raw"."vitals"' in statement
    assert statement.endswith('GROUP BY time(1m), "patient_id", "ward" END')
    for vital in VITAL_FIELDS:
        for function in ("mean", "min", "max"):
            assert f'{function}("{vital}") AS "{vital}_{function}"' in statement
    assert 'count("event_id") AS "readings"' in statement


def test_a_configured_write_policy_is_the_raw_policy() -> None:
    statement = continuous_query(InfluxSettings(retention_policy="bedside"), ROLLUPS[1])
    assert 'FROM "detoxmon"."bedside"."vitals"' in statement
    assert "RESAMPLE EVERY 1h FOR 1d" in statement


def test_the_flux_task_names_itself_and_writes_the_same_fields_to_the_rollup_bucket() -> None:
    flux = flux_task(InfluxSettings(bucket="raw-b", rollup_bucket="roll-b", org="o"), ROLLUPS[1])
    assert flux.startswith('option task = {name: "detoxmon_vitals_1h", every: 1h}\n')
    assert 'from(bucket: "raw-b")' in flux
    assert "range(start: -1d)" in flux
    assert flux.count('to(bucket: "roll-b", org: "o")') == 2
    for function in ("mean", "min", "max"):
        assert f'rollup(fn: {function}, suffix: "_{function}")' in flux
    assert '_field: "readings"' in flux
    assert 'timeSrc: "_start"' in flux  # window start, as InfluxQL's GROUP BY time()
