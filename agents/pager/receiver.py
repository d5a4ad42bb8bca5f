"""A reference webhook receiver: verifies signatures, drops duplicates, hands pages on.

The demo prints pages with it; hospital bridges can start from it. It rejects a missing or
wrong signature with 401 and answers a repeated ``Idempotency-Key`` with 200 without
handing the page on again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from agents.pager.webhook import verify
from schemas import Alert

PageHandler = Callable[[Alert], Awaitable[None]]


class WebhookReceiver:
    """An aiohttp server on loopback that accepts signed pages at ``/page``."""

    def __init__(self, *, secret: bytes | None, on_page: PageHandler, port: int = 0) -> None:
        self._secret = secret
        self._on_page = on_page
        self._port = port
        self._seen: set[str] = set()
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    @property
    def url(self) -> str:
        """The URL to configure as a pager webhook."""
        return f"http://127.0.0.1:{self.port}/page"

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        if self._secret is not None:
            timestamp = request.headers.get("X-Detoxmon-Timestamp", "")
            signature = request.headers.get("X-Detoxmon-Signature", "")
            if not verify(self._secret, timestamp, body, signature):
                return web.json_response({"error": "bad or missing signature"}, status=401)
        key = request.headers.get("Idempotency-Key", "")
        if key and key in self._seen:
            return web.json_response({"status": "duplicate"})
        try:
            alert = Alert.model_validate_json(body)
        except ValueError as exc:
            return web.json_response({"error": f"not an alert: {exc}"}, status=422)
        self._seen.add(key)
        await self._on_page(alert)
        return web.json_response({"status": "accepted"})

    async def start(self) -> None:
        """Start serving."""
        app = web.Application()
        app.router.add_post("/page", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self._port)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else self._port

    async def stop(self) -> None:
        """Stop serving."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
