"""The v1 writer on the real InfluxDB 1.6.7: gzip, basic auth, and errors sorted by cause."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agents.embedded import EmbeddedInfluxDB, free_port
from agents.influx.setup import query_v1, setup_storage
from agents.influx.writer import InfluxRefused, InfluxUnavailable, V1Writer
from agents.settings import InfluxSettings

pytestmark = pytest.mark.integration

ADMIN, PASSWORD = "detoxmon-admin", "s3cret-pw"


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedInfluxDB]:
    """InfluxDB with ``auth-enabled = true`` and one admin user, set up by `setup_storage`."""
    db = EmbeddedInfluxDB(Path(tmp_path_factory.mktemp("secured")))
    db.start()  # renders the config
    db.stop()
    config = db.config_path.read_text()
    assert "  auth-enabled = false" in config
    db.config_path.write_text(config.replace("  auth-enabled = false", "  auth-enabled = true"))
    db.process.start()  # same config, now with authentication
    try:
        db.process.wait_healthy(db.ping, timeout_s=30)
        # With no user yet, InfluxDB lets exactly this statement through unauthenticated.
        query_v1(
            InfluxSettings(url=db.url),
            f"CREATE USER \"{ADMIN}\" WITH PASSWORD '{PASSWORD}' WITH ALL PRIVILEGES",
        )
        setup_storage(credentials(db))
        yield db
    finally:
        db.stop()


def credentials(db: EmbeddedInfluxDB, **overrides: Any) -> InfluxSettings:
    values: dict[str, Any] = {"url": db.url, "username": ADMIN, "password": PASSWORD, **overrides}
    return InfluxSettings.model_validate(values)


def stored(settings: InfluxSettings, patient: str) -> int:
    result: Any = query_v1(
        settings,
        f"SELECT count(heart_rate) FROM vitals WHERE patient_id = '{patient}'",
        database=settings.database,
    )
    series = result["results"][0].get("series")
    return int(series[0]["values"][0][1]) if series else 0


def line(patient: str, n: int) -> str:
    return f"vitals,patient_id={patient} heart_rate={60 + n} {time.time_ns() + n}"


@pytest.mark.parametrize("compress", [False, True])
async def test_writes_with_basic_auth_plain_or_gzipped(
    secured: EmbeddedInfluxDB, compress: bool
) -> None:
    settings = credentials(secured, gzip=compress)
    patient = f"pt-auth-{int(compress)}"
    writer = V1Writer(settings)
    try:
        await writer.write([line(patient, n) for n in range(4)])
    finally:
        await writer.close()
    assert stored(settings, patient) == 4


async def test_a_write_into_a_named_retention_policy_lands_there(secured: EmbeddedInfluxDB) -> None:
    settings = credentials(secured, retention_policy="rollups")
    writer = V1Writer(settings)
    try:
        await writer.write([line("pt-rp", 0)])
    finally:
        await writer.close()
    result: Any = query_v1(
        settings, 'SELECT count(heart_rate) FROM "rollups"."vitals"', database="detoxmon"
    )
    assert result["results"][0]["series"][0]["values"][0][1] == 1


@pytest.mark.parametrize(
    ("overrides", "status"),
    [({"password": "wrong"}, 401), ({"username": None}, 401), ({"database": "nope"}, 404)],
)
async def test_credentials_and_a_missing_database_are_retryable_configuration_errors(
    secured: EmbeddedInfluxDB, overrides: dict[str, Any], status: int
) -> None:
    writer = V1Writer(credentials(secured, **overrides))
    try:
        with pytest.raises(InfluxUnavailable) as caught:
            await writer.write([line("pt-denied", 0)])
    finally:
        await writer.close()
    assert caught.value.status == status
    assert PASSWORD not in str(caught.value)


async def test_a_malformed_line_is_refused_without_echoing_it(secured: EmbeddedInfluxDB) -> None:
    writer = V1Writer(credentials(secured))
    try:
        with pytest.raises(InfluxRefused) as caught:
            await writer.write(["vitals,patient_id=pt-secret heart_rate= 1"])
    finally:
        await writer.close()
    assert caught.value.status == 400
    assert "pt-secret" not in str(caught.value)


async def test_nothing_listening_is_unavailable() -> None:
    writer = V1Writer(InfluxSettings(url=f"http://127.0.0.1:{free_port()}", timeout_s=2))
    try:
        with pytest.raises(InfluxUnavailable, match="unreachable"):
            await writer.write([line("pt-void", 0)])
    finally:
        await writer.close()
