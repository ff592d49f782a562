"""Who is calling: the client's address, through the proxies the operator trusts."""

from __future__ import annotations

from collections.abc import Sequence
from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network
from typing import Any

Network = IPv4Network | IPv6Network


def networks(specs: Sequence[str]) -> tuple[Network, ...]:
    """``ROSTER_TRUSTED_PROXIES``' addresses and networks; ``ValueError`` for one that is not."""
    return tuple(ip_network(spec.strip(), strict=False) for spec in specs if spec.strip())


def _trusted(address: str, trusted: Sequence[Network]) -> bool:
    try:
        parsed = ip_address(address)
    except ValueError:
        return False
    return any(parsed in network for network in trusted)


def client_address(scope: Any, trusted: Sequence[Network]) -> str:
    """The peer's address; when the peer is a trusted proxy, the last address in
    ``X-Forwarded-For`` that is not one (each proxy appends who it heard from, so the
    addresses a client sends itself come before those)."""
    client = scope.get("client")
    peer = str(client[0]) if client else "unknown"
    if not trusted or not _trusted(peer, trusted):
        return peer
    hops = [
        hop.strip()
        for name, value in scope["headers"]
        if name == b"x-forwarded-for"
        for hop in value.decode("latin-1").split(",")
    ]
    for hop in reversed(hops):
        if hop and not _trusted(hop, trusted):
            return str(hop)
    return peer
