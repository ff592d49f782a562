"""Where Roster may send a request: the rule for every URL it calls out to on a user's word
(webhooks now; tracking redirects and SNS certificates later), so that no API caller can make
Roster reach its own network.

A URL is refused when it is not absolute http(s), has control characters anywhere (raw CR or
LF would split a request), or names port 0; its host must resolve to public addresses only:
not loopback, private, link-local (cloud metadata), shared, reserved or multicast, and not an
IPv6 form that carries such an IPv4 address (IPv4-mapped and -compatible, NAT64, 6to4,
Teredo). The operator may allow private addresses (``ROSTER_WEBHOOK_ALLOW_PRIVATE=1``). The
rule runs when a URL is saved and again before every call, on the addresses then connected to.
"""

from __future__ import annotations

import ipaddress
import unicodedata
from typing import Any
from urllib.parse import urlsplit

import dns.exception
import dns.resolver

from roster.core.errors import Invalid

MAX_URL = 2048
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052: the IPv4 address in the last 32 bits
LOCAL_NAT64 = ipaddress.IPv6Network("64:ff9b:1::/48")  # RFC 8215: for a network's own use
COMPATIBLE = ipaddress.IPv6Network("::/96")  # deprecated IPv4-compatible addresses


def clean_url(raw: Any, field: str = "url") -> str:
    """``raw`` as a URL Roster may be asked to call (its host not yet resolved)."""
    if not isinstance(raw, str) or not raw.strip():
        raise Invalid(field, "is required")
    if any(unicodedata.category(char) == "Cc" for char in raw):
        raise Invalid(field, "must not contain control characters")
    url = raw.strip()
    if len(url) > MAX_URL:
        raise Invalid(field, f"must be at most {MAX_URL} characters")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Invalid(field, "must be an absolute http or https URL")
    try:
        port = parts.port
    except ValueError as exc:
        raise Invalid(field, "has an invalid port") from exc
    if port == 0:
        raise Invalid(field, "has an invalid port")
    return url


def _embedded(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries, if it is one of the forms that do."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in NAT64 or (address in COMPATIBLE and int(address) > 1):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def is_public(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        if address in LOCAL_NAT64:
            return False
        embedded = _embedded(address)
        if embedded is not None:
            return is_public(embedded)
    return address.is_global and not address.is_multicast


def resolve(host: str, nameserver: str | None) -> list[IPAddress]:
    """The addresses ``host`` names: itself if it is one, else its A and AAAA records."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    resolver = dns.resolver.Resolver(configure=nameserver is None)
    if nameserver is not None:
        server, _, port = nameserver.partition(":")
        resolver.nameservers = [server]
        resolver.port = int(port or 53)
    found: list[IPAddress] = []
    for kind in ("A", "AAAA"):
        try:
            answer = resolver.resolve(host, kind, lifetime=5.0)
        except (dns.exception.DNSException, OSError):
            continue
        found.extend(ipaddress.ip_address(record.address) for record in answer)
    return found


def public_addresses(
    url: str, *, allow_private: bool, nameserver: str | None, field: str = "url"
) -> list[IPAddress]:
    """The addresses to call ``url`` at; ``Invalid`` if there are none or any is not public."""
    host = urlsplit(url).hostname or ""
    addresses = resolve(host, nameserver)
    if not addresses:
        raise Invalid(field, f"the host `{host}` does not resolve")
    refused = [str(address) for address in addresses if not is_public(address)]
    if refused and not allow_private:
        raise Invalid(
            field,
            f"the host `{host}` resolves to {', '.join(refused)}, which is not a public address; "
            "calls to loopback, private, link-local or reserved addresses are refused",
        )
    return addresses


def checked_url(raw: Any, *, allow_private: bool, nameserver: str | None, field: str = "url") -> str:
    """``raw`` cleaned, its host resolved and found public (DNS: call it off the event loop)."""
    url = clean_url(raw, field)
    public_addresses(url, allow_private=allow_private, nameserver=nameserver, field=field)
    return url
