"""The client address: X-Forwarded-For only through trusted proxies (issue 15)."""

from __future__ import annotations

import pytest

from cleanexit.errors import ConfigurationError
from cleanexit.server.client_ip import ClientAddress, parse_networks

PROXIES = ClientAddress(parse_networks("127.0.0.1, 10.0.0.0/8, ::1"))


@pytest.mark.parametrize(
    ("peer", "header", "expected"),
    [
        ("198.51.100.7", "203.0.113.1", "198.51.100.7"),  # untrusted peer: header ignored
        ("127.0.0.1", "", "127.0.0.1"),
        ("127.0.0.1", "203.0.113.1", "203.0.113.1"),
        ("127.0.0.1", "6.6.6.6, 203.0.113.1", "203.0.113.1"),  # the client's own claim: no
        ("127.0.0.1", "203.0.113.1, 10.1.2.3", "203.0.113.1"),  # two trusted hops walked back
        ("127.0.0.1", "10.9.9.9, 10.1.2.3", "10.9.9.9"),  # all trusted: the farthest one
        ("127.0.0.1", "203.0.113.1, garbage", "127.0.0.1"),  # unreadable: stop, trust no more
        ("127.0.0.1", "2001:db8::1", "2001:db8::1"),
        ("::1", "[2001:db8::2]", "2001:db8::2"),
        ("::ffff:127.0.0.1", "203.0.113.9", "203.0.113.9"),
    ],
)
def test_resolve(peer: str, header: str, expected: str) -> None:
    assert PROXIES.resolve(peer, header) == expected


def test_nothing_trusted_by_default() -> None:
    assert ClientAddress().resolve("127.0.0.1", "203.0.113.1") == "127.0.0.1"


def test_a_bad_entry_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match=r"'proxy\.example' is not an IP"):
        parse_networks("10.0.0.0/8, proxy.example")
