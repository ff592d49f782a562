"""A campaign's report figures, kept as counters in the transaction of each change they count.

Counting a campaign's recipients and events on every report read would cost a scan of each
(a million recipients, five million events); a counter costs a few rows. As with audience
counts (``roster.core.counts``), each campaign's counters are split over slots picked at
random on PostgreSQL, so that workers sending one campaign do not queue on one row; a read
sums the slots. Every change goes through ``add``.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import Connection, bindparam, desc, func, select

from roster.core.counts import slot
from roster.storage.prepared import Prepared
from roster.storage.tables import campaign_counts, campaign_links
from roster.storage.upsert import insert_for

NAMES = (
    "recipients", "sent", "failed", "skipped", "bounced", "soft_bounced", "opened",
    "opened_unique", "clicked", "clicked_unique", "unsubscribed", "spam",
)  # fmt: skip

_TOTALS = Prepared(
    select(*(func.coalesce(func.sum(campaign_counts.c[name]), 0).label(name) for name in NAMES)).where(
        campaign_counts.c.campaign_id == bindparam("campaign_id")
    )
)


@cache
def _add(dialect_name: str, names: tuple[str, ...]) -> Any:
    insert = insert_for(dialect_name, campaign_counts)
    return insert.on_conflict_do_update(
        index_elements=[campaign_counts.c.campaign_id, campaign_counts.c.slot],
        set_={name: campaign_counts.c[name] + insert.excluded[name] for name in names},
    )


def add(conn: Connection, team_id: str, campaign_id: str, **deltas: int) -> None:
    """Add ``deltas`` (counter name → change) to the campaign's counters."""
    deltas = {name: change for name, change in deltas.items() if change}
    if deltas:
        names = tuple(sorted(deltas))
        values = {"campaign_id": campaign_id, "slot": slot(conn), "team_id": team_id, **deltas}
        conn.execute(_add(conn.dialect.name, names).values(values))


def totals(conn: Connection, campaign_id: str) -> dict[str, int]:
    row = _TOTALS.one(conn, {"campaign_id": campaign_id})
    return {name: int(value) for name, value in zip(NAMES, row, strict=True)}


@cache
def _click(dialect_name: str) -> Any:
    insert = insert_for(dialect_name, campaign_links)
    return insert.on_conflict_do_update(
        index_elements=[campaign_links.c.campaign_id, campaign_links.c.url],
        set_={"clicks": campaign_links.c.clicks + insert.excluded.clicks},
    )


def add_clicks(conn: Connection, team_id: str, campaign_id: str, url: str, clicks: int) -> None:
    values = {"campaign_id": campaign_id, "url": url, "team_id": team_id, "clicks": clicks}
    conn.execute(_click(conn.dialect.name).values(values))


def link_clicks(conn: Connection, campaign_id: str) -> list[tuple[str, int]]:
    """``(url, clicks)`` of each link people clicked, the most clicked first."""
    rows = conn.execute(
        select(campaign_links.c.url, campaign_links.c.clicks)
        .where(campaign_links.c.campaign_id == campaign_id)
        .order_by(desc(campaign_links.c.clicks), campaign_links.c.url)
    )
    return [(row.url, row.clicks) for row in rows]
