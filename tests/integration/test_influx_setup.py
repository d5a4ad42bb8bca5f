"""`detoxmon influx setup` on the real InfluxDB 1.6.7: run twice, the state is the same."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agents.embedded import EmbeddedInfluxDB
from agents.influx.setup import ROLLUPS, continuous_query, ensure_storage, query_v1
from agents.settings import InfluxSettings

pytestmark = pytest.mark.integration


@pytest.fixture
def influxdb(tmp_path: Path) -> Iterator[EmbeddedInfluxDB]:
    db = EmbeddedInfluxDB(tmp_path / "influx")
    db.start()
    try:
        yield db
    finally:
        db.stop()


def setup_command(db: EmbeddedInfluxDB, **env: str) -> subprocess.CompletedProcess[str]:
    """The real command, in a child process, configured only through the environment."""
    variables = {
        **{k: v for k, v in os.environ.items() if not k.startswith("DETOXMON_")},
        "DETOXMON_INFLUX__URL": db.url,
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "agents.cli", "influx", "setup"],
        env=variables,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def setup_in_process(db: EmbeddedInfluxDB, **overrides: Any) -> str:
    """The same setup without a child process, for the tests that vary settings."""
    return str(ensure_storage(InfluxSettings.model_validate({"url": db.url, **overrides})))


def show(db: EmbeddedInfluxDB, statement: str) -> list[list[Any]]:
    result: Any = query_v1(InfluxSettings(url=db.url), statement)
    return [
        [series.get("name"), *row]
        for item in result["results"]
        for series in item.get("series", [])
        for row in series["values"]
    ]


def state(db: EmbeddedInfluxDB) -> tuple[list[list[Any]], list[list[Any]]]:
    return (
        show(db, 'SHOW RETENTION POLICIES ON "detoxmon"'),
        show(db, "SHOW CONTINUOUS QUERIES"),
    )


def test_running_setup_twice_leaves_the_same_state(influxdb: EmbeddedInfluxDB) -> None:
    first = setup_command(influxdb)
    assert first.returncode == 0, first.stderr
    assert "created database with retention policy raw" in first.stdout
    assert "created continuous query vitals_1m" in first.stdout
    policies, queries = before = state(influxdb)
    assert [p[1:] for p in policies] == [
        ["raw", "2160h0m0s", "24h0m0s", 1, True],
        ["rollups", "17520h0m0s", "168h0m0s", 1, False],
    ]
    assert sorted(q[1] for q in queries) == ["vitals_1h", "vitals_1m"]

    second = setup_command(influxdb)
    assert second.returncode == 0, second.stderr
    assert second.stdout.strip().endswith("already as configured")
    assert state(influxdb) == before


def test_changed_settings_alter_only_what_differs(influxdb: EmbeddedInfluxDB) -> None:
    setup_in_process(influxdb)
    _, queries_before = state(influxdb)
    changed = setup_in_process(influxdb, raw_retention="30d", rollup_retention="INF")
    assert changed.endswith(
        "altered retention policy raw (30d); altered retention policy rollups (INF)"
    )
    policies, queries = state(influxdb)
    assert {p[1]: (p[2], p[5]) for p in policies} == {
        "raw": ("720h0m0s", True),
        "rollups": ("0s", False),
    }
    assert queries == queries_before


def test_a_continuous_query_that_differs_is_replaced(influxdb: EmbeddedInfluxDB) -> None:
    settings = InfluxSettings(url=influxdb.url)
    setup_in_process(influxdb)
    # An operator hand-edited vitals_1m (InfluxDB 1.x has no CREATE OR REPLACE).
    query_v1(settings, 'DROP CONTINUOUS QUERY "vitals_1m" ON "detoxmon"')
    query_v1(
        settings,
        'CREATE CONTINUOUS QUERY "vitals_1m" ON "detoxmon" BEGIN SELECT mean("heart_rate") '
        'INTO "detoxmon"."rollups"."vitals_1m" FROM "detoxmon"."raw"."vitals" '
        "GROUP BY time(5m), * END",
    )
    assert setup_in_process(influxdb).endswith(": replaced continuous query vitals_1m")
    queries = {q[1]: q[2] for q in show(influxdb, "SHOW CONTINUOUS QUERIES")}
    assert queries["vitals_1m"] == continuous_query(settings, ROLLUPS[0]).replace('"', "")


def test_an_existing_database_gains_the_raw_default_and_keeps_its_data(
    influxdb: EmbeddedInfluxDB,
) -> None:
    settings = InfluxSettings(url=influxdb.url)
    query_v1(settings, 'CREATE DATABASE "detoxmon"')  # as the walking skeleton made it
    write = urllib.request.Request(
        f"{influxdb.url}/write?db=detoxmon&rp=autogen", data=b"vitals,patient_id=pt-old hr=70 1"
    )
    with urllib.request.urlopen(write, timeout=10) as response:
        assert response.status == 204
    assert "created retention policy raw (90d)" in setup_in_process(influxdb)
    policies = {p[1]: p[5] for p in show(influxdb, 'SHOW RETENTION POLICIES ON "detoxmon"')}
    assert policies == {"autogen": False, "raw": True, "rollups": False}
    kept = show(influxdb, 'SELECT count(hr) FROM "detoxmon"."autogen"."vitals"')
    assert kept[0][2] == 1


def test_an_unreachable_database_fails_with_a_message_and_exit_code_1(tmp_path: Path) -> None:
    db = EmbeddedInfluxDB(tmp_path / "never-started")
    result = setup_command(db, DETOXMON_INFLUX__TIMEOUT_S="2")
    assert result.returncode == 1
    assert "influx setup failed" in result.stderr
