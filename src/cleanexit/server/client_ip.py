"""Who is calling: the client address, taken from ``X-Forwarded-For`` only through trusted
proxies (issue 15).

A header is whatever the sender wrote. ``X-Forwarded-For: 203.0.113.7`` from a client that
connects directly would let it pick the address its sessions, audit lines and login throttle
are recorded under, so the header is read only when the peer is a configured proxy
(``CLEANEXIT_TRUSTED_PROXIES``: addresses or networks). Then it is walked from the right —
each trusted proxy appends the address it received the request from — past every trusted hop,
and the first address that is not a trusted proxy is the client. Anything unreadable on the
way ends the walk at the last hop we could trust.

The same address goes to the session list, the audit log and the throttle: one rule.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from ..errors import ConfigurationError

__all__ = ["ClientAddress", "parse_networks"]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(spec: str | Iterable[str]) -> tuple[Network, ...]:
    """``"127.0.0.1, 10.0.0.0/8, ::1"`` -> networks; a bad entry is a ``ConfigurationError``."""
    parts = spec.split(",") if isinstance(spec, str) else list(spec)
    networks = []
    for part in (p.strip() for p in parts):
        if not part:
            continue
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ConfigurationError(
                f"CLEANEXIT_TRUSTED_PROXIES: {part!r} is not an IP address or network "
                "(e.g. 127.0.0.1, 10.0.0.0/8, ::1)"
            ) from None
    return tuple(networks)


class ClientAddress:
    """``resolve(peer, x_forwarded_for)`` -> the client's address."""

    def __init__(self, trusted: Iterable[Network] = ()) -> None:
        self.trusted = tuple(trusted)

    def __repr__(self) -> str:
        return f"ClientAddress(trusted={[str(n) for n in self.trusted]!r})"

    def is_trusted(self, address: str) -> bool:
        ip = _ip(address)
        return ip is not None and any(ip in network for network in self.trusted)

    def resolve(self, peer: str, forwarded_for: str = "") -> str:
        if not self.trusted or not forwarded_for or not self.is_trusted(peer):
            return peer
        client = peer
        for hop in reversed(forwarded_for.split(",")):
            ip = _ip(hop.strip())
            if ip is None:
                break  # garbage: stop at the last hop a trusted proxy vouched for
            client = str(ip)
            if not any(ip in network for network in self.trusted):
                break
        return client


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        ip = ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip
