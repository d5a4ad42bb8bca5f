"""Creating the database (v1) or bucket (v2) the pipeline writes to, idempotently."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request

from influxdb_client.client.influxdb_client import InfluxDBClient

from agents.settings import InfluxSettings


def query_v1(
    settings: InfluxSettings,
    statement: str,
    *,
    database: str | None = None,
    epoch: str | None = None,
) -> dict[str, object]:
    """Run one InfluxQL statement over ``POST /query`` and return the decoded JSON.

    Raises:
        RuntimeError: InfluxDB answered with an error.
    """
    form: dict[str, str] = {"q": statement}
    if database:
        form["db"] = database
    if epoch:
        form["epoch"] = epoch  # timestamps as integers in this unit instead of RFC 3339
    if settings.username:
        form["u"] = settings.username
        form["p"] = settings.password.get_secret_value() if settings.password else ""
    request = urllib.request.Request(  # noqa: S310 - URL comes from settings
        f"{settings.url.rstrip('/')}/query",
        data=urllib.parse.urlencode(form).encode(),
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=settings.timeout_s) as response:  # noqa: S310
        result: dict[str, object] = json.loads(response.read())
    for item in result.get("results", []):  # type: ignore[attr-defined]
        if isinstance(item, dict) and "error" in item:
            raise RuntimeError(f"InfluxDB refused {statement!r}: {item['error']}")
    return result


def setup_storage(settings: InfluxSettings) -> str:
    """Create the database or bucket if missing; return what was ensured."""
    if settings.api_version == 1:
        query_v1(settings, f'CREATE DATABASE "{settings.database}"')
        return f"database {settings.database!r} at {settings.url}"
    token = settings.token.get_secret_value() if settings.token else ""
    with InfluxDBClient(url=settings.url, token=token, org=settings.org) as client:
        buckets = client.buckets_api()
        if buckets.find_bucket_by_name(settings.bucket) is None:
            buckets.create_bucket(bucket_name=settings.bucket, org=settings.org)
    return f"bucket {settings.bucket!r} in org {settings.org!r} at {settings.url}"
