"""What may not be deleted while a campaign depends on it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from roster.core.errors import Conflict
from roster.storage.tables import campaign_targets, campaigns

LIVE = ("scheduled", "sending", "paused")


def require_untargeted(conn: Connection, column: Any, object_id: str, kind: str) -> None:
    """``Conflict`` if a scheduled, sending or paused campaign includes or excludes the object."""
    live = (
        select(campaigns.c.id)
        .join(campaign_targets, campaign_targets.c.campaign_id == campaigns.c.id)
        .where(column == object_id, campaigns.c.status.in_(LIVE))
        .limit(1)
    )
    campaign = conn.execute(live).first()
    if campaign is not None:
        raise Conflict(
            f"the {kind} `{object_id}` is used by the campaign `{campaign.id}`, which is scheduled, "
            "sending or paused; cancel or delete that campaign first"
        )
