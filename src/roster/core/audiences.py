"""Audiences: named groups of a team's contacts (a Sendex audience, a SendX list, a v1 audience)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, Select, delete, func, insert, select, update

from roster.core import counts
from roster.core.clock import now
from roster.core.domains import VERIFIED, find_domain
from roster.core.errors import Invalid, NotFound
from roster.core.guards import require_untargeted
from roster.core.memberships import delete_unused, require_audience
from roster.core.named import clean_name, clean_named, search_page
from roster.ids import new_id
from roster.storage.db import Record
from roster.storage.tables import audiences, campaign_targets, domains, memberships


def _audience_query(team_id: str) -> Select[Any]:
    return (
        select(audiences, domains.c.name.label("domain"), counts.members_column(), counts.pending_column())
        .select_from(audiences.outerjoin(domains, domains.c.id == audiences.c.domain_id))
        .where(audiences.c.team_id == team_id)
    )


def create_audience(
    conn: Connection, team_id: str, name: str, domain_name: str, double_opt_in: bool = False
) -> Record:
    """Create an audience on one of the team's verified domains."""
    name = clean_name(name)
    domain = find_domain(conn, team_id, domain_name)
    if domain is None:
        raise Invalid("domain", f"`{domain_name}` is not a domain of this account")
    if domain.status != VERIFIED:
        raise Invalid("domain", f"`{domain.name}` is not verified yet; verify it before creating audiences")
    audience_id = new_id("list")
    stamp = now()
    conn.execute(
        insert(audiences).values(
            id=audience_id,
            team_id=team_id,
            domain_id=domain.id,
            name=name,
            list_type=1 if double_opt_in else 0,
            created_at=stamp,
            updated_at=stamp,
        )
    )
    return get_audience(conn, team_id, audience_id)


def get_audience(conn: Connection, team_id: str, audience_id: str) -> Record:
    row = conn.execute(_audience_query(team_id).where(audiences.c.id == audience_id)).first()
    if row is None:
        raise NotFound("audience", audience_id)
    return row


def list_audiences_of_domain(conn: Connection, team_id: str, domain_name: str) -> list[Record]:
    domain = find_domain(conn, team_id, domain_name)
    if domain is None:
        raise NotFound("domain", domain_name.strip().lower())
    query = _audience_query(team_id).where(audiences.c.domain_id == domain.id).order_by(audiences.c.id)
    return list(conn.execute(query))


def delete_audience(conn: Connection, team_id: str, audience_id: str) -> None:
    """Delete the audience with its topics and memberships, and the contacts it leaves unused."""
    require_audience(conn, team_id, audience_id)
    require_untargeted(conn, campaign_targets.c.audience_id, audience_id, "audience")
    members = select(memberships.c.contact_id).where(memberships.c.audience_id == audience_id)
    delete_unused(conn, team_id, members, leaving=audience_id)
    conn.execute(delete(audiences).where(audiences.c.team_id == team_id, audiences.c.id == audience_id))


LIST_TYPES = (0, 1)  # single opt-in, double opt-in


def _clean_list(fields: Mapping[str, Any]) -> dict[str, Any]:
    cleaned = clean_named(fields)
    if "list_type" in fields:
        if fields["list_type"] not in LIST_TYPES:
            raise Invalid("type", "must be 0 (single opt-in) or 1 (double opt-in)")
        cleaned["list_type"] = fields["list_type"]
    if "public_form" in fields:
        if not isinstance(fields["public_form"], bool):
            raise Invalid("publicForm", "must be true or false")
        cleaned["public_form"] = fields["public_form"]
    if "double_opt_in" in fields:  # the Sendex and v1 extension's name for list type 1
        if not isinstance(fields["double_opt_in"], bool):
            raise Invalid("double_opt_in", "must be true or false")
        cleaned["list_type"] = int(fields["double_opt_in"])
    return cleaned


def create_list(conn: Connection, team_id: str, fields: Mapping[str, Any]) -> Record:
    """An audience that belongs to no domain (a SendX list)."""
    if "name" not in fields:
        raise Invalid("name", "is required")
    values = {"list_type": 0, **_clean_list(fields)}
    audience_id = new_id("list")
    stamp = now()
    conn.execute(
        insert(audiences).values(
            id=audience_id, team_id=team_id, created_at=stamp, updated_at=stamp, **values
        )
    )
    return get_audience(conn, team_id, audience_id)


def page_counted(conn: Connection, team_id: str, offset: int, limit: int) -> tuple[list[Record], int]:
    """One page of the team's audiences, oldest first, and how many it has."""
    total = conn.execute(select(func.count()).where(audiences.c.team_id == team_id)).scalar_one()
    return page_audiences(conn, team_id, offset, limit, None), int(total)


def page_audiences(
    conn: Connection, team_id: str, offset: int, limit: int, search: str | None
) -> list[Record]:
    """All the team's audiences, whatever their domain, oldest first."""
    return search_page(conn, _audience_query(team_id), audiences, offset, limit, search)


def update_audience(conn: Connection, team_id: str, audience_id: str, fields: Mapping[str, Any]) -> Record:
    require_audience(conn, team_id, audience_id)
    changes = _clean_list(fields)
    if changes:
        conn.execute(
            update(audiences)
            .where(audiences.c.team_id == team_id, audiences.c.id == audience_id)
            .values(**changes, updated_at=now())
        )
    return get_audience(conn, team_id, audience_id)
