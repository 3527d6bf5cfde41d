"""SSRF rules: which URLs and addresses may receive webhooks (pure; no resolution here)."""

import ipaddress

import pytest

from services.notifications.domain.target_policy import (
    TargetRefused, address_class, check_address, check_addresses, parse_target,
)

ip = ipaddress.ip_address


@pytest.mark.parametrize(("address", "kind"), [
    ("127.0.0.1", "loopback"), ("127.9.9.9", "loopback"), ("::1", "loopback"),
    ("10.0.0.1", "private"), ("172.16.5.4", "private"), ("192.168.1.1", "private"),
    ("169.254.169.254", "metadata"), ("fd00:ec2::254", "metadata"), ("169.254.1.1", "link_local"),
    ("fe80::1", "link_local"), ("100.64.0.1", "carrier_grade_nat"), ("100.127.255.254", "carrier_grade_nat"),
    ("fc00::1", "unique_local"), ("fd12:3456::1", "unique_local"), ("0.0.0.0", "unspecified"), ("::", "unspecified"),
    ("224.0.0.1", "multicast"), ("ff02::1", "multicast"), ("240.0.0.1", "reserved"), ("192.0.2.10", "private"),
    # the same ranges behind IPv6 wrappers
    ("::ffff:127.0.0.1", "loopback"), ("::ffff:169.254.169.254", "metadata"), ("64:ff9b::a00:1", "private"),
    ("2002:7f00:1::", "loopback"),
])  # fmt: skip
def test_non_public_addresses_are_classified(address, kind):
    assert address_class(ip(address)) == kind


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "100.128.0.1", "2606:4700::1111", "1.1.1.1"])
def test_public_addresses_pass(address):
    assert address_class(ip(address)) is None
    check_address(ip(address), allow_private=False)


def test_allowing_private_targets_never_allows_metadata():
    check_address(ip("127.0.0.1"), allow_private=True)
    check_address(ip("10.0.0.1"), allow_private=True)
    for address in ("169.254.169.254", "fd00:ec2::254", "0.0.0.0", "224.0.0.1"):
        with pytest.raises(TargetRefused):
            check_address(ip(address), allow_private=True)


def test_one_bad_address_refuses_the_name():
    with pytest.raises(TargetRefused) as refused:
        check_addresses([ip("93.184.216.34"), ip("10.1.2.3")], allow_private=False)
    assert refused.value.code == "private_address"
    assert check_addresses([ip("93.184.216.34"), ip("1.1.1.1")], allow_private=False) == ip("93.184.216.34")
    with pytest.raises(TargetRefused) as none:
        check_addresses([], allow_private=False)
    assert none.value.code == "unresolvable"


@pytest.mark.parametrize(("url", "code"), [
    ("ftp://example.com/x", "unsupported_scheme"), ("file:///etc/passwd", "unsupported_scheme"),
    ("gopher://example.com", "unsupported_scheme"), ("http://user:pw@example.com/", "credentials_in_url"),
    ("http:///nohost", "invalid_url"), ("http://exa_mple.com/", "invalid_url"), ("http://[::1/", "invalid_url"),
    ("http://example.com:99999/", "invalid_url"), ("http://example.com/#frag", "invalid_url"),
    ("http://ex\u00e4mple.com/", "invalid_url"), ("http://" + "a" * 2100 + ".com", "url_too_long"),
])  # fmt: skip
def test_malformed_or_unsupported_urls_are_refused(url, code):
    with pytest.raises(TargetRefused) as refused:
        parse_target(url, require_https=False)
    assert refused.value.code == code


def test_https_is_required_outside_local_mode():
    with pytest.raises(TargetRefused) as refused:
        parse_target("http://hooks.example.com/x", require_https=True)
    assert refused.value.code == "https_required"
    target = parse_target("https://hooks.example.com/in?x=1", require_https=True)
    assert (target.scheme, target.host, target.port, target.path_and_query, target.literal) == (
        "https", "hooks.example.com", 443, "/in?x=1", None)


def test_literals_and_ports():
    v6 = parse_target("http://[::1]:8080/h", require_https=False)
    assert (v6.host, v6.port, v6.literal) == ("::1", 8080, ip("::1"))
    v4 = parse_target("HTTP://127.0.0.1/h", require_https=False)
    assert (v4.scheme, v4.port, v4.literal) == ("http", 80, ip("127.0.0.1"))
