"""The v2 path (influxdb-client, /api/v2/*) against a stand-in enforcing InfluxDB 2.x's contract.

No InfluxDB 2.x runs here, so `tests/support/influx_v2_server.py` checks every request against
the documented API, and a real InfluxDB 1.6.7 parses the line protocol (1.x and 2.x share it).
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path

import pytest

from agents.embedded import EmbeddedInfluxDB
from agents.influx.setup import ROLLUPS, ensure_storage, flux_task, query_v1
from agents.influx.sink import write_isolating, write_with_retry
from agents.influx.writer import InfluxUnavailable, V2Writer
from agents.settings import InfluxSettings
from tests.support.influx_v2_server import InfluxV2Server, influx_v2_server

pytestmark = pytest.mark.integration

TOKEN = "tok-3f9a"
ORG = "clinic"
BUCKET = "detoxmon"
ORACLE_DB = "v2oracle"

LINES = [
    'vitals,patient_id=pt-1,ward=ward-3 heart_rate=80,event_id="e1" 1795428000000000001',
    'vitals,patient_id=pt-2,ward=ward-3 heart_rate=92.5,event_id="e2" 1795428000000000002',
]


@pytest.fixture(scope="module")
def oracle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedInfluxDB]:
    """A real InfluxDB that judges the line protocol the stand-in receives."""
    db = EmbeddedInfluxDB(Path(tmp_path_factory.mktemp("oracle")))
    db.start()
    try:
        query_v1(InfluxSettings(url=db.url), f'CREATE DATABASE "{ORACLE_DB}"')
        yield db
    finally:
        db.stop()


@pytest.fixture
def server(oracle: EmbeddedInfluxDB) -> Iterator[InfluxV2Server]:
    with influx_v2_server(
        token=TOKEN, org=ORG, oracle_url=oracle.url, oracle_db=ORACLE_DB, buckets=(BUCKET,)
    ) as state:
        yield state
        assert state.violations == []


def settings_for(server: InfluxV2Server, **overrides: object) -> InfluxSettings:
    values: dict[str, object] = {
        "url": server.url,
        "api_version": 2,
        "token": TOKEN,
        "org": ORG,
        "bucket": BUCKET,
        **overrides,
    }
    return InfluxSettings.model_validate(values)


def oracle_count(oracle: EmbeddedInfluxDB, patient: str) -> int:
    result = query_v1(
        InfluxSettings(url=oracle.url),
        f"SELECT count(heart_rate) FROM vitals WHERE patient_id = '{patient}'",
        database=ORACLE_DB,
    )
    series = result["results"][0].get("series")  # type: ignore[index]
    return int(series[0]["values"][0][1]) if series else 0


class FakeClock:
    def __init__(self) -> None:
        self.sleeps: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)


@pytest.mark.parametrize("compress", [False, True])
async def test_a_write_follows_the_documented_request_contract(
    server: InfluxV2Server, oracle: EmbeddedInfluxDB, compress: bool
) -> None:
    writer = V2Writer(settings_for(server, gzip=compress))
    try:
        await writer.write(LINES)
    finally:
        await writer.close()
    [request] = server.writes()
    assert request.method == "POST"
    assert request.path == "/api/v2/write"
    assert request.query == {"org": ORG, "bucket": BUCKET, "precision": "ns"}
    assert request.headers["Authorization"] == f"Token {TOKEN}"
    assert request.headers["Content-Type"].startswith("text/plain")
    if compress:
        assert request.headers["Content-Encoding"] == "gzip"
        assert gzip.decompress(request.raw_body) == request.body
    else:
        assert request.headers.get("Content-Encoding", "identity") == "identity"
        assert request.raw_body == request.body
    assert request.body.decode() == "\n".join(LINES)
    assert request.status == 204
    assert oracle_count(oracle, "pt-2") >= 1  # a real parser accepted it


async def test_429_and_503_are_retried_honouring_retry_after(server: InfluxV2Server) -> None:
    server.scripted = [(429, {"Retry-After": "3"}), (503, {"Retry-After": "1"}), (503, {})]
    clock = FakeClock()
    writer = V2Writer(settings_for(server))
    try:
        await write_with_retry(writer, LINES, max_backoff_s=0.2, sleep=clock.sleep)
    finally:
        await writer.close()
    assert [r.status for r in server.writes()] == [429, 503, 503, 204]
    assert clock.sleeps[:2] == [3.0, 1.0]
    assert 0 < clock.sleeps[2] <= 0.2  # no Retry-After: capped backoff


async def test_a_400_is_not_retried_and_only_the_bad_line_is_refused(
    server: InfluxV2Server, oracle: EmbeddedInfluxDB
) -> None:
    bad = 'vitals,patient_id=pt-4 heart_rate="not a number" 1795428000000000004'
    good = [f"vitals,patient_id=pt-4 heart_rate={70 + n} 179542800000000001{n}" for n in range(3)]
    clock = FakeClock()
    writer = V2Writer(settings_for(server))
    try:
        refusals = await write_isolating(
            writer, [good[0], bad, *good[1:]], max_backoff_s=1, sleep=clock.sleep
        )
    finally:
        await writer.close()
    assert clock.sleeps == []  # a refusal is never retried as such
    assert [r.index for r in refusals] == [1]
    assert refusals[0].error.status == 400
    assert "field type conflict" in str(refusals[0].error)
    assert oracle_count(oracle, "pt-4") == 3


async def test_a_batch_too_large_is_split_until_it_fits(
    server: InfluxV2Server, oracle: EmbeddedInfluxDB
) -> None:
    server.max_body_bytes = 200
    lines = [
        f"vitals,patient_id=pt-5 heart_rate={60 + n} 17954280000000001{n:02d}" for n in range(8)
    ]
    writer = V2Writer(settings_for(server))
    try:
        refusals = await write_isolating(writer, lines, max_backoff_s=1)
    finally:
        await writer.close()
    assert refusals == []
    assert 413 in [r.status for r in server.writes()]
    assert oracle_count(oracle, "pt-5") == 8


@pytest.mark.parametrize(
    ("overrides", "status"),
    [({"token": "wrong"}, 401), ({"bucket": "missing"}, 404), ({"org": "nobody"}, 404)],
)
async def test_configuration_errors_are_retryable_not_refusals(
    server: InfluxV2Server, overrides: dict[str, object], status: int
) -> None:
    writer = V2Writer(settings_for(server, **overrides))
    try:
        with pytest.raises(InfluxUnavailable) as caught:
            await writer.write(LINES)
    finally:
        await writer.close()
    assert caught.value.status == status


def test_setup_creates_buckets_tasks_and_mappings_and_a_second_run_changes_nothing(
    oracle: EmbeddedInfluxDB,
) -> None:
    with influx_v2_server(
        token=TOKEN, org=ORG, oracle_url=oracle.url, oracle_db=ORACLE_DB
    ) as server:
        settings = settings_for(server)
        first = ensure_storage(settings)
        assert first.changes == [
            "created bucket detoxmon (90d)",
            "created bucket detoxmon_rollups (730d)",
            "created task detoxmon_vitals_1m",
            "created task detoxmon_vitals_1h",
            "mapped detoxmon/raw",
            "mapped detoxmon/rollups",
        ]
        buckets = {b["name"]: b for b in server.buckets.values()}
        assert buckets["detoxmon"]["retentionRules"] == [
            {"type": "expire", "everySeconds": 90 * 86400}
        ]
        assert buckets["detoxmon_rollups"]["retentionRules"][0]["everySeconds"] == 730 * 86400
        tasks = {t["name"]: t for t in server.tasks.values()}
        for rollup in ROLLUPS:
            assert tasks[rollup.task_name]["flux"] == flux_task(settings, rollup)
            assert tasks[rollup.task_name]["every"] == rollup.every
            assert tasks[rollup.task_name]["status"] == "active"
        mappings = {(d["database"], d["retention_policy"]): d for d in server.dbrps.values()}
        assert mappings[("detoxmon", "raw")]["bucketID"] == buckets["detoxmon"]["id"]
        assert mappings[("detoxmon", "raw")]["default"] is True
        assert mappings[("detoxmon", "rollups")]["bucketID"] == buckets["detoxmon_rollups"]["id"]

        before = len(server.mutations())
        state = (dict(server.buckets), dict(server.tasks), dict(server.dbrps))
        second = ensure_storage(settings)
        assert second.changes == []
        assert str(second).endswith("already as configured")
        assert len(server.mutations()) == before
        assert (server.buckets, server.tasks, server.dbrps) == state

        shorter = ensure_storage(settings_for(server, raw_retention="30d"))
        assert shorter.changes == ["altered bucket detoxmon (30d)"]
        assert buckets["detoxmon"]["retentionRules"][0]["everySeconds"] == 30 * 86400
        assert server.violations == []
