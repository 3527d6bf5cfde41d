"""A webhook receiver on loopback for the tests, and a reader of Mailpit's inbox.

The receiver is an aiohttp server in the test process. Every request is verified
with the standardwebhooks library against the endpoint's secret (the way a provider
would verify it, with none of the platform's code) and recorded; how it answers is
up to the test (`answer`: a coroutine given the request's webhook-id and how many
times that id came before, returning (status, headers)).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx
from aiohttp import web
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

Answer = Callable[[str, int], Awaitable[tuple[int, dict[str, str]]]]


async def always_ok(_webhook_id: str, _seen: int) -> tuple[int, dict[str, str]]:
    return 200, {}


@dataclass
class Received:
    webhook_id: str
    headers: dict[str, str]
    body: bytes
    payload: dict | None
    """The verified payload; None when the signature did not verify."""
    at: float
    """time.time() when the request arrived."""
    answered: int | None = None


@dataclass
class Receiver:
    answer: Answer = always_ok
    secret: str | None = None
    received: list[Received] = field(default_factory=list)
    _runner: web.AppRunner | None = None
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    async def start(self) -> Receiver:
        app = web.Application()
        app.router.add_post("/hooks", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # noqa: SLF001 - the port picked by the OS
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = {k.lower(): v for k, v in request.headers.items()}
        webhook_id = headers.get("webhook-id", "")
        payload = None
        if self.secret:
            try:
                payload = Webhook(self.secret).verify(body, headers)
            except WebhookVerificationError:
                payload = None
        record = Received(webhook_id, headers, body, payload, time.time())
        seen = sum(1 for r in self.received if r.webhook_id == webhook_id)
        self.received.append(record)
        status, extra = await self.answer(webhook_id, seen)
        record.answered = status
        return web.Response(status=status, headers=extra, text="ok" if status < 300 else "no")

    # ------------------------------------------------------------------ reading what came

    def verified(self) -> list[Received]:
        return [r for r in self.received if r.payload is not None]

    def unverified(self) -> list[Received]:
        return [r for r in self.received if r.payload is None]

    def delivered(self) -> dict[str, Received]:
        """webhook-id -> the first request of it that was answered 2xx."""
        out: dict[str, Received] = {}
        for r in self.received:
            if r.answered is not None and 200 <= r.answered < 300:
                out.setdefault(r.webhook_id, r)
        return out

    def delivered_events(self) -> set[tuple[str, str]]:
        """(type, claim or authorization or remittance id) of everything delivered."""
        return {(r.payload["type"], _subject(r.payload["data"])) for r in self.delivered().values() if r.payload}

    def requests_per_id(self) -> Counter:
        return Counter(r.webhook_id for r in self.received)


def _subject(data: dict) -> str:
    return data.get("claim_id") or data.get("authorization_id") or data.get("remittance_id") or ""


async def create_endpoint(client: httpx.AsyncClient, url: str, event_types: list[str], **extra) -> dict:
    response = await client.post("/v1/webhooks/endpoints", json={"url": url, "event_types": event_types, **extra})
    assert response.status_code == 201, response.text
    return response.json()


async def deliveries(client: httpx.AsyncClient, endpoint_id: str, status: str | None = None) -> list[dict]:
    """Every delivery of the endpoint (all pages)."""
    out: list[dict] = []
    params: dict = {"limit": 100, **({"status": status} if status else {})}
    while True:
        response = await client.get(f"/v1/webhooks/endpoints/{endpoint_id}/deliveries", params=params)
        assert response.status_code == 200, response.text
        out.extend(response.json())
        cursor = response.headers.get("x-next-cursor")
        if not cursor:
            return out
        params["cursor"] = cursor


class Mailpit:
    """Mailpit's HTTP API (https://mailpit.axllent.org/docs/api-v1/): what reached the inbox."""

    def __init__(self, base_url: str) -> None:
        self.http = httpx.AsyncClient(base_url=base_url, timeout=10.0)

    async def close(self) -> None:
        await self.http.aclose()

    async def find(self, text: str) -> list[dict]:
        """Messages that contain `text` (subject or body), each with its full text."""
        response = await self.http.get("/api/v1/search", params={"query": f'"{text}"', "limit": 50})
        response.raise_for_status()
        found = []
        for summary in response.json().get("messages") or []:
            message = await self.http.get(f"/api/v1/message/{summary['ID']}")
            message.raise_for_status()
            found.append(message.json())
        return found

    async def raw(self, message_id: str) -> str:
        response = await self.http.get(f"/api/v1/message/{message_id}/raw")
        response.raise_for_status()
        return response.text


async def until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Waits, polling, until predicate() is true (for what the receiver records in process)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.05)
