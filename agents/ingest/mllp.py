"""HL7 v2 over MLLP: a TCP listener inside the worker, for interface engines and monitors.

MLLP frames each message as ``0x0b <message> 0x1c 0x0d``. The framing is written here: it is
three bytes, and the ``hl7`` package's MLLP streams decode and parse as they read, while the
original bytes must be kept for the dead-letter topic. Each message goes through
:func:`agents.validate.ingest` as ``x-application/hl7-v2+er7`` and is answered on its
connection, in order, only after the broker has acknowledged its outputs (``acks=all``), with
an ACK from :func:`agents.ingest.hl7v2.ack_for`:

- ``AA`` when at least one event was accepted (rejected parts are dead-lettered);
- ``AE`` (with ERR) when the message was read but nothing in it was acceptable (contract,
  scope);
- ``AR`` (with ERR) when it could not be read as an ``ORU^R01`` at all, or was too long.

When the broker does not acknowledge in time, no ACK is sent and the connection is closed:
an interface engine resends a message it got no ACK for, which is what is wanted (an AE would
tell it not to). Event ids make the resend idempotent.

MLLP has no authentication. Bind it to loopback (the default) or to a private network behind
TLS termination (stunnel, or a TCP-passthrough ingress to a TLS sidecar), never to an open
network. Every message is scoped as coming from ``DETOXMON_INGEST__MLLP_GATEWAY``, whose
wards and devices are the most any MLLP sender can publish for. The listener is off unless
``DETOXMON_INGEST__MLLP_PORT`` is set.

A message longer than ``DETOXMON_INGEST__MAX_BODY_BYTES`` is answered ``AR`` and the
connection closed (its end cannot be found to resynchronise); it is not dead-lettered, as it
was never read whole.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiokafka.errors import KafkaError  # type: ignore[import-untyped]
from faust.exceptions import ProducerSendError
from mode import Service

from agents.app import app, settings
from agents.ingest.dlq import Origin
from agents.ingest.formats import Rejection
from agents.validate import ingest

log = logging.getLogger(__name__)

START_BLOCK = b"\x0b"
END_BLOCK = b"\x1c\x0d"
PATH = "mllp"
CONTENT_TYPE = "x-application/hl7-v2+er7"


def summary(rejections: list[Rejection]) -> str:
    """The rejections as one line for the acknowledgement's ERR segment."""
    return "; ".join(
        f"{r.location + ': ' if r.location else ''}{r.reason}: {r.detail}" for r in rejections
    )


def frame(message: bytes) -> bytes:
    """``message`` in an MLLP frame."""
    return START_BLOCK + message + END_BLOCK


def acknowledgement(raw: bytes, *, accepted: bool, error: str | None) -> bytes:
    """The framed ACK for ``raw`` (the HL7 library loads on first use, like the converters)."""
    from agents.ingest.hl7v2 import ack_for

    return frame(ack_for(raw, accepted=accepted, error=error))


async def answer(raw: bytes, gateway_id: str | None) -> bytes | None:
    """Ingest one unframed message; its framed ACK, or None if it could not be stored."""
    origin = Origin(path=PATH, content_type=CONTENT_TYPE, gateway_id=gateway_id)
    try:
        verdict = await ingest(raw, origin, durable=True)
    except (TimeoutError, KafkaError, ProducerSendError) as exc:
        log.error("mllp message not stored error=%s; closing without an ACK", type(exc).__name__)
        return None
    if verdict.refusal is None:
        return acknowledgement(raw, accepted=True, error=None)
    return acknowledgement(raw, accepted=False, error=summary(verdict.rejections))


def unframe(block: bytes) -> bytes:
    """The message of a block read up to and including the end block.

    Bytes before the start block are line noise some senders emit (a stray CR or LF) and are
    dropped; a block without a start block is judged on its content.
    """
    body = block[: -len(END_BLOCK)]
    start = body.find(START_BLOCK)
    if start < 0:
        return body
    if body[:start].strip():
        log.warning("mllp dropped bytes=%d before a start block", start)
    return body[start + 1 :]


@app.service
class MllpListener(Service):
    """The MLLP server, started with the worker once its tables are recovered."""

    _server: asyncio.Server | None = None

    async def on_start(self) -> None:
        """Start listening, if a port is set."""
        ingest_settings = settings.ingest
        if not ingest_settings.mllp_port:
            log.info("MLLP listener off (DETOXMON_INGEST__MLLP_PORT unset)")
            return
        self._server = await asyncio.start_server(
            self._serve,
            host=ingest_settings.mllp_bind,
            port=ingest_settings.mllp_port,
            limit=ingest_settings.max_body_bytes + len(START_BLOCK) + len(END_BLOCK),
        )
        log.info(
            "MLLP listening bind=%s port=%d gateway=%s",
            ingest_settings.mllp_bind,
            ingest_settings.mllp_port,
            ingest_settings.mllp_gateway,
        )

    async def on_stop(self) -> None:
        """Stop accepting, and close the connections."""
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), timeout=5)
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Answer each framed message in turn until the peer closes or breaks the framing."""
        try:
            while True:
                try:
                    block = await reader.readuntil(END_BLOCK)
                except asyncio.IncompleteReadError as exc:
                    if exc.partial.strip():
                        log.warning("mllp peer closed mid-message bytes=%d", len(exc.partial))
                    return
                except asyncio.LimitOverrunError:
                    limit = settings.ingest.max_body_bytes
                    log.warning("mllp message over %d bytes; closing", limit)
                    error = f"message_too_large: over {limit} bytes"
                    writer.write(acknowledgement(b"", accepted=False, error=error))
                    await writer.drain()
                    return
                ack = await answer(unframe(block), settings.ingest.mllp_gateway)
                if ack is None:
                    return
                writer.write(ack)
                await writer.drain()
        except ConnectionError:
            log.info("mllp peer went away")
        except Exception as exc:  # one connection's failure must not stop the listener
            # The message is already dead-lettered when judged; closing makes the peer resend.
            log.error("mllp connection failed error=%s", type(exc).__name__)
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
