"""Core rows in Sendex's shapes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from roster.api.sendex import schemas
from roster.core.clock import iso
from roster.core.domains import dns_records
from roster.core.preferences import PreferenceLinks
from roster.storage.db import Record


def audience(row: Record) -> schemas.Audience:
    return schemas.Audience(
        id=row.id,
        name=row.name,
        domain=row.domain,
        contact_count=row.contact_count,
        created_at=iso(row.created_at),
        double_opt_in=row.list_type == 1,
        pending_count=row.pending_count,
    )


def contact(row: Record, links: PreferenceLinks) -> schemas.Contact:
    return schemas.Contact(
        id=row.id,
        email=row.email,
        first_name=row.first_name,
        last_name=row.last_name,
        subscribed=row.subscribed,
        created_at=iso(row.created_at),
        unsubscribe_url=links.url(row.audience_id, row.id),
        pending=row.pending,
    )


def topic(row: Mapping[str, Any]) -> schemas.Topic:
    return schemas.Topic(
        id=row["id"],
        name=row["name"],
        description=row["description"],
        default_subscribed=row["default_subscribed"],
        subscriber_count=row["subscriber_count"],
        created_at=iso(row["created_at"]),
    )


def domain(row: Record, problem: str | None = None) -> schemas.Domain:
    """``problem``: why a verification just made did not succeed."""
    return schemas.Domain(
        id=row.id,
        name=row.name,
        status=row.status,
        created_at=iso(row.created_at),
        records=[schemas.DomainRecord(**record) for record in dns_records(row)],
        status_reason=problem if problem is not None else msgspec.UNSET,
    )


def api_key(row: Record) -> schemas.ApiKey:
    return schemas.ApiKey(
        id=row.id,
        name=row.name,
        permission=row.permission,
        token_hint=row.token_hint,
        created_at=iso(row.created_at),
        revoked=row.revoked_at is not None,
    )
