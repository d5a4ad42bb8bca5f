"""Writing line protocol to InfluxDB over the v1 or the v2 API, with errors sorted by cause.

- v1 (``POST /write``): InfluxDB 1.x (database, retention policy, user and password), and the
  v1 compatibility endpoint of 2.x and 3.x. Sent with aiohttp, which Faust already runs on.
- v2 (``POST /api/v2/write``): InfluxDB 1.8+, 2.x, 3.x and Cloud (token, org, bucket), through
  influxdb-client's async API.

Both share one line-protocol path (:mod:`agents.influx.points`). Failures raise
:class:`InfluxWriteError` with ``retryable`` set: timeouts, connection errors, 5xx and 429 are
worth retrying (``retry_after`` carries the server's Retry-After); 400 means the points
themselves were refused and retrying cannot help; 401/403/404 are configuration errors that an
operator must fix, so they are retried too (delay, not loss).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol, cast

import aiohttp
from influxdb_client.client.influxdb_client_async import InfluxDBClientAsync
from influxdb_client.domain.write_precision import WritePrecision
from influxdb_client.rest import ApiException

from agents.settings import InfluxSettings

log = logging.getLogger(__name__)


class InfluxWriteError(Exception):
    """A write failed; ``retryable`` says whether the same batch may succeed later."""

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.status = status
        self.retry_after = retry_after


def _classify(status: int, body: str, retry_after: str | None) -> InfluxWriteError:
    after: float | None = None
    if retry_after:
        try:
            after = float(retry_after)
        except ValueError:
            after = None
    retryable = status != 400
    return InfluxWriteError(
        f"InfluxDB answered {status}: {body.strip()[:300]}",
        retryable=retryable,
        status=status,
        retry_after=after,
    )


class InfluxWriter(Protocol):
    """Writes batches of line protocol."""

    async def write(self, lines: Sequence[str]) -> None:
        """Write all ``lines`` or raise :class:`InfluxWriteError`."""

    async def close(self) -> None:
        """Release connections."""


class V1Writer:
    """``POST /write?db=..&rp=..&precision=ns`` with optional basic auth."""

    def __init__(self, settings: InfluxSettings) -> None:
        self._settings = settings
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            auth = None
            if self._settings.username:
                password = (
                    self._settings.password.get_secret_value() if self._settings.password else ""
                )
                auth = aiohttp.BasicAuth(self._settings.username, password)
            self._session = aiohttp.ClientSession(
                auth=auth, timeout=aiohttp.ClientTimeout(total=self._settings.timeout_s)
            )
        return self._session

    async def write(self, lines: Sequence[str]) -> None:
        """Write ``lines`` in one request."""
        params = {"db": self._settings.database, "precision": "ns"}
        if self._settings.retention_policy:
            params["rp"] = self._settings.retention_policy
        body = "\n".join(lines).encode()
        try:
            async with self._client().post(
                f"{self._settings.url.rstrip('/')}/write", params=params, data=body
            ) as response:
                if response.status == 204:
                    return
                text = await response.text()
                raise _classify(response.status, text, response.headers.get("Retry-After"))
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise InfluxWriteError(f"InfluxDB unreachable: {exc!r}", retryable=True) from exc

    async def close(self) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            await self._session.close()


class V2Writer:
    """``POST /api/v2/write`` through influxdb-client's async write API."""

    def __init__(self, settings: InfluxSettings) -> None:
        self._settings = settings
        token = settings.token.get_secret_value() if settings.token else ""
        self._client: InfluxDBClientAsync | None = None
        self._token = token

    def _api(self) -> InfluxDBClientAsync:
        if self._client is None:
            self._client = InfluxDBClientAsync(
                url=self._settings.url,
                token=self._token,
                org=self._settings.org,
                timeout=int(self._settings.timeout_s * 1000),
            )
        return self._client

    async def write(self, lines: Sequence[str]) -> None:
        """Write ``lines`` to the bucket."""
        try:
            await (
                self._api()
                .write_api()
                .write(
                    bucket=self._settings.bucket,
                    org=self._settings.org,
                    record=list(lines),
                    write_precision=cast(WritePrecision, WritePrecision.NS),
                )
            )
        except ApiException as exc:
            if not exc.status:  # no HTTP answer at all
                raise InfluxWriteError(
                    f"InfluxDB unreachable: {exc.reason}", retryable=True
                ) from exc
            raise _classify(exc.status, str(exc.message), exc.retry_after) from exc
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise InfluxWriteError(f"InfluxDB unreachable: {exc!r}", retryable=True) from exc

    async def close(self) -> None:
        """Close the client."""
        if self._client is not None:
            await self._client.close()


def create_writer(settings: InfluxSettings) -> InfluxWriter:
    """The writer for the configured API version."""
    return V1Writer(settings) if settings.api_version == 1 else V2Writer(settings)
