"""Sends one signed attempt to a receiver, over a connection pinned to addresses that were checked.

aiohttp resolves a receiver's host only through CheckedResolver: it resolves the
name once, checks every address (domain/target_policy.py) and hands back exactly
those addresses to connect to, so no second resolution can answer differently (DNS
rebinding). The URL keeps the name, so the Host header, the TLS server name and the
certificate check are the name's. An address literal never reaches a resolver: it
is checked before the request. A pooled keep-alive connection goes to the address it
was opened to, which was checked then. (aiohttp, not httpx, for the CPU: the
dispatcher's share of each delivery is mostly client overhead; README dependencies.)

Redirects are never followed (a 3xx is a failed attempt), proxies from the
environment are ignored, the whole attempt (resolution included) ends after the
timeout, and at most 64 KiB of the answer is read.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from datetime import datetime

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from standardwebhooks.webhooks import Webhook

from services.notifications.domain.attempt_outcome import AttemptResult
from services.notifications.domain.retry_schedule import parse_retry_after
from services.notifications.domain.target_policy import (
    IPAddress, Target, TargetRefused, check_address, check_addresses, parse_target,
)

USER_AGENT = "provider-platform-webhooks/1"
MAX_ANSWER_BYTES = 64 * 1024


async def resolve_host(host: str, port: int) -> list[IPAddress]:
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise TargetRefused("unresolvable", "The target's host name does not resolve.") from exc
    seen: list[IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        address = ipaddress.ip_address(sockaddr[0].split("%", 1)[0])
        if address not in seen:
            seen.append(address)
    return seen


async def resolve(target: Target) -> list[IPAddress]:
    return [target.literal] if target.literal is not None else await resolve_host(target.host, target.port)


async def checked_target(url: str, *, allow_private: bool, require_https: bool) -> tuple[Target, IPAddress]:
    """The parsed target and the first address to connect to; TargetRefused otherwise (endpoint creation)."""
    target = parse_target(url, require_https=require_https)
    return target, check_addresses(await resolve(target), allow_private=allow_private)


def sign(secrets: list[str], webhook_id: str, timestamp: datetime, body: str) -> str:
    """webhook-signature: one v1 signature per signing secret, space-separated (Standard Webhooks)."""
    return " ".join(Webhook(secret).sign(webhook_id, timestamp, body) for secret in secrets)


class CheckedResolver(AbstractResolver):
    """aiohttp's only way to a receiver's address: resolve once, check all, connect to those."""

    def __init__(self, allow_private: bool) -> None:
        self.allow_private = allow_private

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        addresses = await resolve_host(host, port)
        check_addresses(addresses, allow_private=self.allow_private)
        return [
            ResolveResult(hostname=host, host=str(a), port=port, family=socket.AF_INET6 if a.version == 6 else socket.AF_INET,
                          proto=0, flags=socket.AI_NUMERICHOST)
            for a in addresses
        ]

    async def close(self) -> None:
        pass


class WebhookSender:
    def __init__(self, *, timeout_seconds: float, allow_private: bool, require_https: bool) -> None:
        self.timeout = timeout_seconds
        self.allow_private = allow_private
        self.require_https = require_https
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                resolver=CheckedResolver(self.allow_private), use_dns_cache=False, limit=512, limit_per_host=32,
                keepalive_timeout=30,
            )
            self._session = aiohttp.ClientSession(
                connector=connector, trust_env=False, timeout=aiohttp.ClientTimeout(total=self.timeout),
                headers={"User-Agent": USER_AGENT}, auto_decompress=False,
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def send(self, url: str, *, secrets: list[str], webhook_id: str, body: str, now: datetime) -> AttemptResult:
        started = time.perf_counter()
        try:
            target = parse_target(url, require_https=self.require_https)
            if target.literal is not None:
                check_address(target.literal, allow_private=self.allow_private)
            async with asyncio.timeout(self.timeout):
                status, retry_after = await self._post(target, secrets, webhook_id, body, now)
        except TargetRefused as exc:
            return AttemptResult(error=f"target_refused:{exc.code}", duration_ms=_ms(started))
        except aiohttp.ClientConnectorError as exc:
            refused = _refusal(exc)
            if refused is not None:
                return AttemptResult(error=f"target_refused:{refused.code}", duration_ms=_ms(started))
            code = "tls_error" if isinstance(exc, aiohttp.ClientSSLError) else "connect_error"
            return AttemptResult(error=code, duration_ms=_ms(started))
        except TimeoutError:
            return AttemptResult(error="timeout", duration_ms=_ms(started))
        except (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError, aiohttp.ClientResponseError):
            return AttemptResult(error="protocol_error", duration_ms=_ms(started))
        except (aiohttp.ClientError, OSError):
            return AttemptResult(error="network_error", duration_ms=_ms(started))
        return AttemptResult(status=status, retry_after=retry_after, duration_ms=_ms(started))

    async def _post(self, target: Target, secrets: list[str], webhook_id: str, body: str, now: datetime) -> tuple[int, float | None]:
        headers = {
            "content-type": "application/json",
            "webhook-id": webhook_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": sign(secrets, webhook_id, now, body),
        }
        async with self._client().post(target.url, data=body.encode(), headers=headers, allow_redirects=False) as response:
            await response.content.read(MAX_ANSWER_BYTES)
            return response.status, parse_retry_after(response.headers.get("retry-after"))


def _refusal(exc: BaseException) -> TargetRefused | None:
    """The TargetRefused behind an aiohttp connection error, if the resolver refused."""
    seen = 0
    current: BaseException | None = exc
    while current is not None and seen < 5:
        if isinstance(current, TargetRefused):
            return current
        current = current.__cause__ or current.__context__
        seen += 1
    return None


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
