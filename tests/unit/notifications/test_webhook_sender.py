"""The sender against a receiver on loopback (in process): the connection goes to the checked
address with the name in the Host header, redirects are not followed, the timeout holds, and
a refused target is never connected to."""

import asyncio
from datetime import UTC, datetime

from aiohttp import web
from standardwebhooks.webhooks import Webhook

from services.notifications.domain.secrets import new_secret
from services.notifications.webhook_sender import WebhookSender

BODY = '{"type":"claim.received","timestamp":"2026-12-01T12:00:00Z","data":{"claim_id":"c-1","status":"received"}}'


async def serve(handler) -> tuple[web.AppRunner, int]:
    app = web.Application()
    app.router.add_post("/{tail:.*}", handler)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, site._server.sockets[0].getsockname()[1]  # noqa: SLF001


async def test_a_signed_post_to_the_checked_address_with_the_name_as_host():
    seen = []
    secret = new_secret()

    async def handler(request):
        seen.append((request.headers["Host"], dict(request.headers), await request.read()))
        return web.Response(status=204)

    runner, port = await serve(handler)
    sender = WebhookSender(timeout_seconds=5, allow_private=True, require_https=False)
    try:
        result = await sender.send(f"http://localhost:{port}/in?x=1", secrets=[secret], webhook_id="msg_1",
                                   body=BODY, now=datetime.now(UTC))
    finally:
        await sender.close()
        await runner.cleanup()
    assert result.status == 204 and result.error is None and result.duration_ms > 0
    host, headers, body = seen[0]
    assert host == f"localhost:{port}" and body.decode() == BODY
    assert Webhook(secret).verify(body, headers)["data"]["claim_id"] == "c-1"


async def test_redirects_are_not_followed_and_the_timeout_holds():
    calls = []

    async def redirect(request):
        calls.append(request.path)
        if request.path == "/slow":
            await asyncio.sleep(5)
        return web.Response(status=302, headers={"Location": "http://127.0.0.1:1/elsewhere"})

    runner, port = await serve(redirect)
    sender = WebhookSender(timeout_seconds=0.5, allow_private=True, require_https=False)
    try:
        moved = await sender.send(f"http://127.0.0.1:{port}/r", secrets=[new_secret()], webhook_id="m", body=BODY,
                                  now=datetime.now(UTC))
        slow = await sender.send(f"http://127.0.0.1:{port}/slow", secrets=[new_secret()], webhook_id="m", body=BODY,
                                 now=datetime.now(UTC))
    finally:
        await sender.close()
        await runner.cleanup()
    assert moved.status == 302 and calls[0] == "/r"
    assert slow.error == "timeout" and 400 <= slow.duration_ms < 2000


async def test_a_refused_target_is_never_connected_to():
    calls = []

    async def handler(request):
        calls.append(request.path)
        return web.Response(status=200)

    runner, port = await serve(handler)
    sender = WebhookSender(timeout_seconds=2, allow_private=False, require_https=False)
    try:
        for host in ("localhost", "127.0.0.1", "[::ffff:127.0.0.1]"):
            result = await sender.send(f"http://{host}:{port}/x", secrets=[new_secret()], webhook_id="m", body=BODY,
                                       now=datetime.now(UTC))
            assert result.error == "target_refused:loopback_address", result
        local = WebhookSender(timeout_seconds=2, allow_private=True, require_https=False)
        closed = await local.send("http://127.0.0.1:1/x", secrets=[new_secret()], webhook_id="m", body=BODY,
                                  now=datetime.now(UTC))
        await local.close()
        assert closed.error == "connect_error"
    finally:
        await sender.close()
        await runner.cleanup()
    assert calls == []
