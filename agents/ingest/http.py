"""``POST /ingest`` and ``GET /health`` on the worker's web server (Faust views, aiohttp).

``POST /ingest`` takes one message in the format its ``Content-Type`` names (native JSON, FHIR
or HL7 v2; :func:`~agents.ingest.formats.format_for`) from a gateway that proves itself with
``Authorization: Bearer <token>`` (:mod:`agents.ingest.gateways`). A 202 is a receipt: it is
sent only after the broker has acknowledged (``acks=all``) every accepted event on the
observations topic and every rejected part on the dead-letter topic, so a gateway may forget
a message once it has its 202. Refusals carry ``{"error": reason, "detail": ...}``:

- 202 ``{"accepted": [event ids], "rejected": [{location, reason, detail}], "partial": bool}``
  when at least one event was accepted; ``partial``: some parts (e.g. entries of a FHIR
  Bundle) were rejected and dead-lettered while the rest went through;
- 400 the body could not be read in its format, or held no event;
- 401 no token, or one no gateway has (with ``WWW-Authenticate: Bearer``);
- 403 an event is outside the gateway's wards or devices: the whole message is refused;
- 413 the body is larger than ``DETOXMON_INGEST__MAX_BODY_BYTES``, judged on
  ``Content-Length`` before reading and while reading a chunked body;
- 415 a content type no converter takes;
- 422 readable, but no event meets the contract;
- 503 the broker did not acknowledge in time: retry (event ids make a retry idempotent).

Every refused message from a gateway is dead-lettered with its original bytes (path
``http:/ingest``, the gateway in the ``detoxmon-gateway`` header). Two kinds are not, because
there is nothing trustworthy to keep: a request without a valid token (anyone could fill the
topic) and a body over the limit (it is never read whole). Both are logged without content.

Faust's :class:`~faust.web.View` turns only its own ``WebError`` into a response; anything else
becomes aiohttp's plain-text 500, so the handler answers every outcome itself, as JSON.
"""

from __future__ import annotations

import logging
from typing import Any, cast

from aiohttp import web as aiohttp_web
from aiokafka.errors import KafkaError  # type: ignore[import-untyped]
from faust.exceptions import ProducerSendError
from faust.web import Request, Response, View
from mode import Service

from agents.app import app, settings
from agents.ingest.dlq import Origin
from agents.ingest.formats import Rejection
from agents.ingest.gateways import current_registry
from agents.validate import Verdict, ingest

log = logging.getLogger(__name__)

PATH = "http:/ingest"
MAX_BODY_BYTES = settings.ingest.max_body_bytes
READ_CHUNK_BYTES = 64 * 1024
REALM = 'Bearer realm="detoxmon"'

#: The status of a message of which nothing was accepted, by why.
REFUSAL_STATUS = {"out_of_scope": 403, "unsupported": 415, "unreadable": 400, "contract": 422}


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header (scheme case-insensitive)."""
    if authorization is None:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


async def read_bounded(request: aiohttp_web.Request, limit: int) -> bytes | None:
    """The body, or None as soon as it is known to exceed ``limit`` bytes.

    aiohttp's own ``client_max_size`` guards only ``request.read()``, and Faust's
    ``read_request_content`` reads the stream unbounded, hence this.
    """
    if request.content_length is not None and request.content_length > limit:
        return None
    body = bytearray()
    async for chunk in request.content.iter_chunked(READ_CHUNK_BYTES):
        body += chunk
        if len(body) > limit:
            return None
    return bytes(body)


def rejected_json(rejections: list[Rejection]) -> list[dict[str, str | None]]:
    """Rejections as the response lists them."""
    return [{"location": r.location, "reason": r.reason, "detail": r.detail} for r in rejections]


def refusal_body(verdict: Verdict) -> dict[str, Any]:
    """``error`` and ``detail`` for a message of which nothing was accepted, and every part."""
    reasons = sorted({r.reason for r in verdict.rejections})
    scoped = [r for r in verdict.rejections if r.reason == "out_of_scope"]
    first = scoped[0] if scoped else verdict.rejections[0]
    if len(verdict.rejections) == 1 or scoped:
        error, detail = first.reason, first.detail
    elif len(reasons) == 1:
        error, detail = reasons[0], f"all {len(verdict.rejections)} parts: see rejected"
    else:
        error = "nothing_acceptable"
        detail = f"no part was acceptable ({', '.join(reasons)}): see rejected"
    return {"error": error, "detail": detail, "rejected": rejected_json(verdict.rejections)}


class RegistryLoader(Service):
    """Loads the gateway registry as the web server starts, before it listens.

    A child of Faust's web service rather than an ``@app.service`` (those start after table
    recovery, long after the web server answers): a bad registry stops the worker with its
    message before any gateway is answered, and commands other than ``worker`` never load it.
    """

    async def on_start(self) -> None:
        """Load the registry; its :class:`GatewayConfigError` says what is wrong."""
        count = len(current_registry())
        log.info("gateway registry loaded gateways=%d", count)
        if not count:
            log.warning("no gateway registry configured: POST /ingest answers 401 to everyone")


app.web.add_dependency(RegistryLoader())


@app.page("/ingest")
class IngestView(View):
    """Messages from gateways over HTTP."""

    async def post(self, request: Request) -> Response:
        """Authenticate, bound, judge, produce and acknowledge one message."""
        token = bearer_token(request.headers.get("Authorization"))
        if token is None:
            return self._unauthorized("missing_token", "send Authorization: Bearer <token>")
        gateway = current_registry().authenticate(token)
        if gateway is None:
            return self._unauthorized("invalid_token", "the token is not a gateway's token")
        raw = await read_bounded(cast(aiohttp_web.Request, request), MAX_BODY_BYTES)
        if raw is None:
            log.warning("refused body over %d bytes gateway=%s", MAX_BODY_BYTES, gateway.id)
            return self.error(
                413,
                "body_too_large",
                detail=f"the body exceeds {MAX_BODY_BYTES} bytes: send fewer events at once",
            )
        origin = Origin(
            path=PATH, content_type=request.headers.get("Content-Type"), gateway_id=gateway.id
        )
        try:
            verdict = await ingest(raw, origin, durable=True)
        except (TimeoutError, KafkaError, ProducerSendError) as exc:
            log.error("ingest not stored gateway=%s error=%s", gateway.id, type(exc).__name__)
            return self.error(
                503,
                "broker_unavailable",
                headers={"Retry-After": "5"},
                detail="the message could not be stored: retry it (event ids are idempotent)",
            )
        if verdict.refusal is not None:
            return self.json(refusal_body(verdict), status=REFUSAL_STATUS[verdict.refusal])
        return self.json(
            {
                "accepted": [str(event.event_id) for event in verdict.accepted],
                "rejected": rejected_json(verdict.rejections),
                "partial": bool(verdict.rejections),
            },
            status=202,
        )

    def _unauthorized(self, error: str, detail: str) -> Response:
        header = REALM if error == "missing_token" else f'{REALM}, error="{error}"'
        log.warning("refused unauthenticated ingest reason=%s", error)
        return self.error(401, error, headers={"WWW-Authenticate": header}, detail=detail)


@app.page("/health")
class HealthView(View):
    """Liveness for load balancers: no authentication, and nothing about patients."""

    async def get(self, request: Request) -> Response:
        """200 while the web server answers."""
        return self.json({"status": "ok"})
