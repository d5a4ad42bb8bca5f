"""Writing line protocol to InfluxDB over the v1 or the v2 API, with failures sorted by cause.

- v1 (``POST /write?db=..&rp=..&precision=ns``): InfluxDB 1.x, and the v1 compatibility endpoint
  of 2.x and 3.x. User and password go in an ``Authorization: Basic`` header (never in the
  URL, which proxies log). Sent with aiohttp, which Faust already runs on: influxdb-client has
  no v1 write path.
- v2 (``POST /api/v2/write?org=..&bucket=..&precision=ns``): InfluxDB 1.8+, 2.x, 3.x and Cloud,
  through influxdb-client's async API (``Authorization: Token``).

Both take the same line protocol (:mod:`agents.influx.points`) and may gzip it
(``DETOXMON_INFLUX__GZIP``, ``Content-Encoding: gzip``; 1.x accepts it too). Failures raise::

    InfluxWriteError                 a write did not complete
    ├── InfluxUnavailable            retry later: no answer, timeout, 5xx, 429 (with
    │                                retry_after), and 401/403/404 (credentials, database or
    │                                bucket missing: an operator fixes them; delay, not loss)
    └── InfluxRefused                the points themselves: 400 (bad line, field type conflict,
                                     beyond the retention period), 413 (too large), 422

InfluxDB's message for a line it cannot parse quotes the line, which holds patient data; the
quote is cut from the error text before it reaches a log or a dead letter.
"""

from __future__ import annotations

import gzip
import json
import logging
import re
from collections.abc import Sequence
from typing import Protocol, cast

import aiohttp
from influxdb_client.client.influxdb_client_async import InfluxDBClientAsync
from influxdb_client.client.write_api_async import WriteApiAsync
from influxdb_client.domain.write_precision import WritePrecision
from influxdb_client.rest import ApiException

from agents.retry import parse_retry_after
from agents.settings import InfluxSettings

__all__ = [
    "InfluxRefused",
    "InfluxUnavailable",
    "InfluxWriteError",
    "InfluxWriter",
    "V1Writer",
    "V2Writer",
    "create_writer",
]

log = logging.getLogger(__name__)

#: Statuses that say the points themselves were refused: retrying the same batch cannot help.
REFUSED_STATUSES = frozenset({400, 413, 422})

_QUOTED_LINE = re.compile(r"unable to parse '.*': ")


class InfluxWriteError(Exception):
    """A write did not complete; ``retryable`` says whether the same batch may succeed later."""

    retryable = False

    def __init__(
        self, message: str, *, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class InfluxUnavailable(InfluxWriteError):
    """InfluxDB did not take the batch for a reason outside the batch: retry it."""

    retryable = True


class InfluxRefused(InfluxWriteError):
    """InfluxDB refused (some of) the points; valid points in the same request may be written."""


def redact(message: str) -> str:
    """InfluxDB's error text without the quoted line protocol it sometimes echoes."""
    return _QUOTED_LINE.sub("unable to parse <line>: ", message)


def error_for_status(status: int, message: str, retry_after: str | None) -> InfluxWriteError:
    """The error for a non-2xx answer."""
    text = f"InfluxDB answered {status}: {redact(message.strip())[:300]}"
    if status in REFUSED_STATUSES:
        return InfluxRefused(text, status=status)
    return InfluxUnavailable(text, status=status, retry_after=parse_retry_after(retry_after))


def _error_text(body: str) -> str:
    """The ``error`` (v1) or ``message`` (v2) of a JSON error body, else the body."""
    try:
        data = json.loads(body)
    except ValueError:
        return body
    if isinstance(data, dict):
        return str(data.get("error") or data.get("message") or body)
    return body


class InfluxWriter(Protocol):
    """Writes batches of line protocol."""

    async def write(self, lines: Sequence[str]) -> None:
        """Write all ``lines`` or raise :class:`InfluxWriteError`."""

    async def close(self) -> None:
        """Release connections."""


class V1Writer:
    """``POST /write?db=..&rp=..&precision=ns`` with optional basic auth and gzip."""

    def __init__(self, settings: InfluxSettings) -> None:
        self._settings = settings
        self._session: aiohttp.ClientSession | None = None
        self._params = {"db": settings.database, "precision": "ns"}
        if settings.retention_policy:
            self._params["rp"] = settings.retention_policy

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            auth = None
            if self._settings.username:
                password = self._settings.password
                auth = aiohttp.BasicAuth(
                    self._settings.username, password.get_secret_value() if password else ""
                )
            self._session = aiohttp.ClientSession(
                auth=auth, timeout=aiohttp.ClientTimeout(total=self._settings.timeout_s)
            )
        return self._session

    async def write(self, lines: Sequence[str]) -> None:
        """Write ``lines`` in one request."""
        body = "\n".join(lines).encode()
        headers = {"Content-Type": "text/plain; charset=utf-8"}
        if self._settings.gzip:
            body = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
        try:
            async with self._client().post(
                f"{self._settings.url.rstrip('/')}/write",
                params=self._params,
                data=body,
                headers=headers,
            ) as response:
                if response.status == 204:
                    return
                text = await response.text()
                raise error_for_status(
                    response.status, _error_text(text), response.headers.get("Retry-After")
                )
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise InfluxUnavailable(f"InfluxDB unreachable: {exc!r}") from exc

    async def close(self) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            await self._session.close()


class V2Writer:
    """``POST /api/v2/write`` through influxdb-client's async write API."""

    def __init__(self, settings: InfluxSettings) -> None:
        self._settings = settings
        self._client: InfluxDBClientAsync | None = None
        self._api: WriteApiAsync | None = None

    def _write_api(self) -> WriteApiAsync:
        if self._api is None:
            token = self._settings.token.get_secret_value() if self._settings.token else ""
            self._client = InfluxDBClientAsync(
                url=self._settings.url,
                token=token,
                org=self._settings.org,
                timeout=int(self._settings.timeout_s * 1000),
                enable_gzip=self._settings.gzip,
            )
            self._api = self._client.write_api()
        return self._api

    async def write(self, lines: Sequence[str]) -> None:
        """Write ``lines`` to the bucket."""
        try:
            await self._write_api().write(
                bucket=self._settings.bucket,
                org=self._settings.org,
                record=list(lines),
                write_precision=cast(WritePrecision, WritePrecision.NS),
            )
        except ApiException as exc:
            if not exc.status:  # raised before any request was sent: a bug, not an outage
                raise InfluxWriteError(f"InfluxDB request not sent: {exc.reason}") from exc
            raise error_for_status(int(exc.status), str(exc.message), exc.retry_after) from exc
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise InfluxUnavailable(f"InfluxDB unreachable: {exc!r}") from exc

    async def close(self) -> None:
        """Close the client."""
        if self._client is not None:
            await self._client.close()
            self._client = None
            self._api = None


def create_writer(settings: InfluxSettings) -> InfluxWriter:
    """The writer for the configured API version."""
    return V1Writer(settings) if settings.api_version == 1 else V2Writer(settings)
