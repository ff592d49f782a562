"""Sending domains. An audience belongs to a verified domain; verification is a DNS TXT record."""

from __future__ import annotations

import re
from dataclasses import dataclass

import dns.exception
import dns.resolver
from sqlalchemy import Connection, delete, exists, insert, select, update

from roster import sealing
from roster.core.clock import now
from roster.core.dkim import new_key_pair
from roster.core.errors import Conflict, Invalid, NotFound
from roster.ids import new_id, random_token
from roster.storage.db import Record
from roster.storage.tables import audiences, domains

PENDING = "pending"
VERIFIED = "verified"
RECORD_PREFIX = "_roster"
RECORD_VALUE_PREFIX = "roster-verification="
_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
_DOMAIN_RE = re.compile(rf"^(?:{_LABEL}\.)+{_LABEL}$")


def clean_domain_name(raw: str, field: str = "name") -> str:
    name = raw.strip().rstrip(".").lower()
    if not name:
        raise Invalid(field, "is required")
    try:
        ascii_name = name.encode("idna").decode("ascii")
    except UnicodeError:
        raise Invalid(field, f"`{raw}` is not a valid domain name") from None
    if len(ascii_name) > 253 or not _DOMAIN_RE.match(ascii_name) or ascii_name[-1].isdigit():
        raise Invalid(field, f"`{raw}` is not a valid domain name")
    return ascii_name


def verification_record(domain: Record) -> dict[str, str]:
    """The TXT record a team publishes to prove it controls the domain."""
    return {
        "type": "TXT",
        "name": f"{RECORD_PREFIX}.{domain.name}",
        "value": RECORD_VALUE_PREFIX + domain.verification_token,
    }


def dkim_record(domain: Record) -> dict[str, str]:
    """The TXT record that publishes the public half of the domain's DKIM key."""
    return {
        "type": "TXT",
        "name": f"{domain.dkim_selector}._domainkey.{domain.name}",
        "value": f"v=DKIM1; k=rsa; p={domain.dkim_public_key}",
    }


def dns_records(domain: Record) -> list[dict[str, str]]:
    """Every record the team publishes for the domain: verification, then DKIM."""
    return [verification_record(domain), dkim_record(domain)]


def add_domain(conn: Connection, team_id: str, name: str, *, verified: bool = False) -> Record:
    name = clean_domain_name(name)
    taken = select(domains.c.id).where(domains.c.team_id == team_id, domains.c.name == name)
    if conn.execute(taken).first() is not None:
        raise Conflict(f"domain `{name}` already exists")
    domain_id = new_id("domain")
    stamp = now()
    key = new_key_pair(stamp)
    conn.execute(
        insert(domains).values(
            id=domain_id,
            team_id=team_id,
            name=name,
            status=VERIFIED if verified else PENDING,
            verification_token=random_token(32),
            created_at=stamp,
            verified_at=stamp if verified else None,
            dkim_selector=key.selector,
            dkim_private_key=sealing.seal(key.private_pem),
            dkim_public_key=key.public_base64,
        )
    )
    return get_domain(conn, team_id, domain_id)


def get_domain(conn: Connection, team_id: str | None, domain_id: str) -> Record:
    query = select(domains).where(domains.c.id == domain_id)
    if team_id is not None:
        query = query.where(domains.c.team_id == team_id)
    row = conn.execute(query).first()
    if row is None:
        raise NotFound("domain", domain_id)
    return row


def find_domain(conn: Connection, team_id: str, name: str, field: str = "domain") -> Record | None:
    name = clean_domain_name(name, field)
    query = select(domains).where(domains.c.team_id == team_id, domains.c.name == name)
    return conn.execute(query).first()


def list_domains(conn: Connection, team_id: str) -> list[Record]:
    query = select(domains).where(domains.c.team_id == team_id).order_by(domains.c.id)
    return list(conn.execute(query))


def delete_domain(conn: Connection, team_id: str, domain_id: str) -> None:
    get_domain(conn, team_id, domain_id)
    in_use = exists().where(audiences.c.team_id == team_id, audiences.c.domain_id == domain_id)
    if conn.execute(select(in_use)).scalar():
        raise Conflict("the domain still has audiences; delete them first")
    conn.execute(delete(domains).where(domains.c.team_id == team_id, domains.c.id == domain_id))


@dataclass(frozen=True, slots=True)
class Lookup:
    """The TXT strings published at a name, or why DNS gave none, in words."""

    values: list[str]
    problem: str | None = None


def lookup_txt(name: str, nameserver: str | None = None) -> Lookup:
    """What DNS says is published at ``name``. ``nameserver`` is ``host`` or ``host:port``
    (``ROSTER_DNS_NAMESERVER``); default: the system's."""
    resolver = dns.resolver.Resolver(configure=nameserver is None)
    if nameserver is not None:
        host, _, port = nameserver.partition(":")
        resolver.nameservers = [host]
        resolver.port = int(port or 53)
    try:
        answer = resolver.resolve(name, "TXT", lifetime=5.0)
    except dns.resolver.NXDOMAIN:
        return Lookup([], f"{name} does not exist in DNS (NXDOMAIN): publish the TXT record")
    except dns.resolver.NoAnswer:
        return Lookup([], f"{name} exists but has no TXT record")
    except dns.resolver.LifetimeTimeout:
        return Lookup([], "the DNS resolver did not answer within 5 s; try again")
    except dns.resolver.NoNameservers:
        return Lookup([], f"no DNS server could answer for {name} (SERVFAIL or refused); try again")
    except (dns.exception.DNSException, OSError) as exc:
        return Lookup([], f"the DNS lookup of {name} failed: {exc}")
    return Lookup([b"".join(record.strings).decode(errors="replace") for record in answer])


def verification_problem(domain: Record, lookup: Lookup) -> str | None:
    """Why ``lookup`` does not verify the domain; ``None`` when it does (or already did)."""
    if domain.status == VERIFIED:
        return None
    if lookup.problem is not None:
        return lookup.problem
    record = verification_record(domain)
    if record["value"] not in lookup.values:
        return f"the TXT records at {record['name']} do not include {record['value']}"
    return None


def record_verification(conn: Connection, team_id: str | None, domain_id: str, lookup: Lookup) -> Record:
    """Mark the domain verified if ``lookup`` (made by the caller) found its record."""
    domain = get_domain(conn, team_id, domain_id)
    if domain.status != VERIFIED and verification_record(domain)["value"] in lookup.values:
        conn.execute(
            update(domains).where(domains.c.id == domain_id).values(status=VERIFIED, verified_at=now())
        )
        domain = get_domain(conn, team_id, domain_id)
    return domain


def signing_domain(conn: Connection, team_id: str, name: str) -> Record | None:
    """The team's verified domain ``name``, whose DKIM key signs its mail."""
    return conn.execute(
        select(domains).where(
            domains.c.team_id == team_id,
            domains.c.name == name,
            domains.c.status == VERIFIED,
            domains.c.dkim_private_key.is_not(None),
        )
    ).first()
