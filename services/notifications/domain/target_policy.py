"""Which webhook targets may be called: the SSRF rules, as pure functions.

A target is refused when its URL is not http(s) (https only outside local mode),
carries credentials, or when any address its host resolves to is one a receiver on
the internet cannot have: loopback, private (RFC 1918), link-local (and with it the
cloud metadata address 169.254.169.254), carrier-grade NAT (100.64.0.0/10),
unique-local (fc00::/7, with AWS's metadata address fd00:ec2::254), multicast,
reserved, unspecified, and the same ranges reached through IPv4-mapped or NAT64
IPv6 addresses. Checking every address, not the first, matters: the connection is
pinned to one checked address (adapters), and a name that resolves to a public and
a private address is refused rather than trusted half.

`allow_private` (NOTIFICATIONS_ALLOW_PRIVATE_TARGETS, local runs and tests only)
lets loopback and private receivers through; metadata addresses stay refused.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

METADATA_ADDRESSES = frozenset({ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")})
CGNAT = ipaddress.ip_network("100.64.0.0/10")
UNIQUE_LOCAL = ipaddress.ip_network("fc00::/7")
NAT64 = ipaddress.ip_network("64:ff9b::/96")
MAX_URL_LENGTH = 2048


class TargetRefused(ValueError):
    """The target may not be called; `code` says why (for problem+json and the delivery log)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Target:
    url: str
    scheme: str
    host: str
    """The host name, or the address literal without brackets."""
    port: int
    path_and_query: str
    literal: IPAddress | None
    """Set when the URL names an address instead of a name."""


def parse_target(url: str, *, require_https: bool) -> Target:
    if len(url) > MAX_URL_LENGTH:
        raise TargetRefused("url_too_long", f"The URL is longer than {MAX_URL_LENGTH} characters.")
    try:
        parts: SplitResult = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise TargetRefused("invalid_url", "The URL cannot be parsed.") from exc
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise TargetRefused("unsupported_scheme", "Only http and https URLs can receive webhooks.")
    if require_https and scheme != "https":
        raise TargetRefused("https_required", "Webhook URLs must use https.")
    if parts.username is not None or parts.password is not None:
        raise TargetRefused("credentials_in_url", "The URL may not carry a user name or password.")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise TargetRefused("invalid_url", "The URL has no host.")
    if parts.fragment:
        raise TargetRefused("invalid_url", "The URL may not have a fragment.")
    try:
        literal: IPAddress | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
        if not _valid_hostname(host):
            raise TargetRefused("invalid_url", "The URL's host is not a valid name.")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(url=url.strip(), scheme=scheme, host=host, port=port or (443 if scheme == "https" else 80),
                  path_and_query=path, literal=literal)


def _valid_hostname(host: str) -> bool:
    if len(host) > 253:
        return False
    for label in host.split("."):
        if not label or len(label) > 63 or label.startswith("-") or label.endswith("-"):
            return False
        if not all(c.isalnum() or c == "-" for c in label) or not label.isascii():
            return False
    return True


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address in NAT64:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if address.sixtofour is not None:
            return address.sixtofour
    return None


def address_class(address: IPAddress) -> str | None:
    """Why an address is not a public one (a short code), or None when it is public."""
    inner = _embedded_ipv4(address)
    if inner is not None:
        return address_class(inner)
    if address in METADATA_ADDRESSES:
        return "metadata"
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link_local"
    if address.is_unspecified:
        return "unspecified"
    if address.is_multicast:
        return "multicast"
    if isinstance(address, ipaddress.IPv4Address) and address in CGNAT:
        return "carrier_grade_nat"
    if isinstance(address, ipaddress.IPv6Address) and address in UNIQUE_LOCAL:
        return "unique_local"
    if address.is_reserved:
        return "reserved"
    if address.is_private:
        return "private"
    if not address.is_global:
        return "reserved"
    return None


ALWAYS_REFUSED = frozenset({"metadata", "unspecified", "multicast"})
"""Refused even when private targets are allowed."""


def check_address(address: IPAddress, *, allow_private: bool) -> None:
    """Raises TargetRefused unless the address may be called."""
    kind = address_class(address)
    if kind is None:
        return
    if allow_private and kind not in ALWAYS_REFUSED:
        return
    raise TargetRefused(f"{kind}_address", f"The target resolves to a {kind.replace('_', '-')} address, "
                        "which cannot receive webhooks.")


def check_addresses(addresses: list[IPAddress], *, allow_private: bool) -> IPAddress:
    """The address to connect to (the first), once every resolved address passed."""
    if not addresses:
        raise TargetRefused("unresolvable", "The target's host name does not resolve.")
    for address in addresses:
        check_address(address, allow_private=allow_private)
    return addresses[0]
