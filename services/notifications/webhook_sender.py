"""Sends one signed attempt to a receiver, over a connection pinned to the address that was checked.

The host is resolved here, every address it resolves to is checked
(domain/target_policy.py), and the request goes to the first checked address itself:
the URL names the IP, the Host header and (for https) the TLS server name and the
certificate check name the original host. A second resolution that could answer
differently (DNS rebinding) never happens. One client per host name keeps pooled
TLS connections from being reused for another name that shares an address.

Redirects are never followed (a 3xx is a failed attempt), proxies from the
environment are ignored, the whole attempt (resolution included) ends after the
timeout, and at most 64 KiB of the answer is read.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
import time
from collections import OrderedDict
from datetime import datetime

import httpx
from standardwebhooks.webhooks import Webhook

from services.notifications.domain.attempt_outcome import AttemptResult
from services.notifications.domain.retry_schedule import parse_retry_after
from services.notifications.domain.target_policy import IPAddress, Target, TargetRefused, check_addresses, parse_target

USER_AGENT = "provider-platform-webhooks/1"
MAX_ANSWER_BYTES = 64 * 1024
MAX_CLIENTS = 256


async def resolve(target: Target) -> list[IPAddress]:
    if target.literal is not None:
        return [target.literal]
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise TargetRefused("unresolvable", "The target's host name does not resolve.") from exc
    seen: list[IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        address = ipaddress.ip_address(sockaddr[0].split("%", 1)[0])
        if address not in seen:
            seen.append(address)
    return seen


async def checked_target(url: str, *, allow_private: bool, require_https: bool) -> tuple[Target, IPAddress]:
    """The parsed target and the address to connect to; TargetRefused otherwise."""
    target = parse_target(url, require_https=require_https)
    return target, check_addresses(await resolve(target), allow_private=allow_private)


def sign(secrets: list[str], webhook_id: str, timestamp: datetime, body: str) -> str:
    """webhook-signature: one v1 signature per signing secret, space-separated (Standard Webhooks)."""
    return " ".join(Webhook(secret).sign(webhook_id, timestamp, body) for secret in secrets)


class WebhookSender:
    def __init__(self, *, timeout_seconds: float, allow_private: bool, require_https: bool) -> None:
        self.timeout = timeout_seconds
        self.allow_private = allow_private
        self.require_https = require_https
        self._clients: OrderedDict[str, httpx.AsyncClient] = OrderedDict()

    def _client(self, host: str) -> httpx.AsyncClient:
        client = self._clients.get(host)
        if client is None:
            client = httpx.AsyncClient(
                follow_redirects=False, trust_env=False, timeout=httpx.Timeout(self.timeout),
                limits=httpx.Limits(max_connections=16, max_keepalive_connections=4, keepalive_expiry=30),
            )
            self._clients[host] = client
            while len(self._clients) > MAX_CLIENTS:
                _, old = self._clients.popitem(last=False)
                asyncio.get_running_loop().create_task(old.aclose())
        self._clients.move_to_end(host)
        return client

    async def close(self) -> None:
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()

    async def send(self, url: str, *, secrets: list[str], webhook_id: str, body: str, now: datetime) -> AttemptResult:
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self.timeout):
                target, address = await checked_target(url, allow_private=self.allow_private,
                                                       require_https=self.require_https)
                response_status, retry_after = await self._post(target, address, secrets, webhook_id, body, now)
        except TargetRefused as exc:
            return AttemptResult(error=f"target_refused:{exc.code}", duration_ms=_ms(started))
        except (TimeoutError, httpx.TimeoutException):
            return AttemptResult(error="timeout", duration_ms=_ms(started))
        except httpx.ConnectError as exc:
            cause = exc.__cause__ or exc.__context__
            code = "tls_error" if isinstance(cause, ssl.SSLError) or "SSL" in type(cause).__name__ else "connect_error"
            return AttemptResult(error=code, duration_ms=_ms(started))
        except (httpx.RemoteProtocolError, httpx.LocalProtocolError):
            return AttemptResult(error="protocol_error", duration_ms=_ms(started))
        except httpx.HTTPError:
            return AttemptResult(error="network_error", duration_ms=_ms(started))
        except OSError:
            return AttemptResult(error="network_error", duration_ms=_ms(started))
        return AttemptResult(status=response_status, retry_after=retry_after, duration_ms=_ms(started))

    async def _post(
        self, target: Target, address: IPAddress, secrets: list[str], webhook_id: str, body: str, now: datetime
    ) -> tuple[int, float | None]:
        literal = f"[{address}]" if address.version == 6 else str(address)
        default_port = 443 if target.scheme == "https" else 80
        host_header = target.host if target.literal is None else (f"[{target.host}]" if ":" in target.host else target.host)
        if target.port != default_port:
            host_header += f":{target.port}"
        headers = {
            "host": host_header,
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            "webhook-id": webhook_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": sign(secrets, webhook_id, now, body),
        }
        extensions = {"sni_hostname": target.host} if target.scheme == "https" and target.literal is None else {}
        client = self._client(f"{target.scheme}://{target.host}:{target.port}")
        request = client.build_request(
            "POST", f"{target.scheme}://{literal}:{target.port}{target.path_and_query}",
            content=body.encode(), headers=headers, extensions=extensions,
        )
        response = await client.send(request, stream=True)
        try:
            read = 0
            async for chunk in response.aiter_raw():
                read += len(chunk)
                if read >= MAX_ANSWER_BYTES:
                    break
        finally:
            await response.aclose()
        return response.status_code, parse_retry_after(response.headers.get("retry-after"))


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
