"""The public preference page: unsubscribe links and the changes a contact makes there.

A link's token names one membership (audience and contact) and carries an HMAC-SHA256 of
both under the instance's secret key, cut to 128 bits: unguessable, never expiring, with no
email inside, and checked before the database is touched. It stops working when the
membership's contact is deleted (its ID is never reused) or the secret key is changed.

A campaign also reaches people through tags and segments, outside any list: their link
names the team instead of an audience (the MAC tells which), and leaving there is
unsubscribing from everything the team sends.
"""

from __future__ import annotations

import hmac
import re
from base64 import urlsafe_b64encode
from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import Connection, select

from roster.core import feedback, topics
from roster.core import memberships as memberships_core
from roster.core.clock import now
from roster.core.errors import NotFound
from roster.core.memberships import set_subscribed
from roster.storage.db import Record
from roster.storage.tables import audiences, memberships, teams
from roster.storage.tables import contacts as contacts_table

_PART = 22  # characters of an ID body (base62), and of a 128-bit MAC (unpadded base64url)
_TOKEN = re.compile(r"[0-9A-Za-z]{44}[0-9A-Za-z_-]{22}")


class PreferenceLinks:
    """Mints and checks the tokens of unsubscribe links under one secret."""

    __slots__ = ("_key", "base_url")

    def __init__(self, base_url: str, secret: str) -> None:
        self.base_url = base_url
        self._key = secret.encode()

    def _mac(self, *parts: str) -> str:
        digest = hmac.digest(self._key, ":".join(parts).encode(), "sha256")
        return urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()

    def token(self, scope_id: str, contact_id: str) -> str:
        """The token of a contact's link in an audience (``list_…``) or its team (``team_…``)."""
        return (
            scope_id.partition("_")[2] + contact_id.removeprefix("contact_") + self._mac(scope_id, contact_id)
        )

    def url(self, scope_id: str, contact_id: str, campaign_id: str | None = None) -> str:
        """The link; with ``campaign_id``, one whose unsubscribe counts for that campaign."""
        url = f"{self.base_url}/unsubscribe/{self.token(scope_id, contact_id)}"
        if campaign_id is None:
            return url
        mark = campaign_id.removeprefix("campaign_") + self._mac(scope_id, contact_id, campaign_id)
        return f"{url}?c={mark}"

    def campaign(self, scope_id: str, contact_id: str, mark: str | None) -> str | None:
        """The campaign a link's ``c`` names, if its MAC is genuine."""
        if not mark or len(mark) != 2 * _PART:
            return None
        campaign_id = "campaign_" + mark[:_PART]
        genuine = hmac.compare_digest(mark[_PART:], self._mac(scope_id, contact_id, campaign_id))
        return campaign_id if genuine else None

    def parse(self, token: str) -> tuple[str, str]:
        """``(scope_id, contact_id)`` named by a genuine token, the scope an audience
        (``list_…``) or a team (``team_…``); ``NotFound`` otherwise."""
        if len(token) != 3 * _PART or not _TOKEN.fullmatch(token):
            raise NotFound("page")
        contact_id = "contact_" + token[_PART : 2 * _PART]
        for prefix in ("list_", "team_"):
            scope_id = prefix + token[:_PART]
            if hmac.compare_digest(token[2 * _PART :], self._mac(scope_id, contact_id)):
                return scope_id, contact_id
        raise NotFound("page")


@dataclass(frozen=True, slots=True)
class Preferences:
    audience_name: str
    email: str
    subscribed: bool
    topics: list[Record]


def _team_wide(conn: Connection, team_id: str, contact_id: str) -> Record:
    row = conn.execute(
        select(
            teams.c.id.label("team_id"),
            teams.c.name,
            contacts_table.c.email,
            (~contacts_table.c.unsubscribed).label("subscribed"),
        )
        .join(contacts_table, contacts_table.c.team_id == teams.c.id)
        .where(teams.c.id == team_id, contacts_table.c.id == contact_id)
    ).first()
    if row is None:
        raise NotFound("page")
    return row


def _membership(conn: Connection, audience_id: str, contact_id: str) -> Record:
    if audience_id.startswith("team_"):
        return _team_wide(conn, audience_id, contact_id)
    row = conn.execute(
        select(audiences.c.team_id, audiences.c.name, contacts_table.c.email, memberships.c.subscribed)
        .join_from(memberships, audiences, audiences.c.id == memberships.c.audience_id)
        .join(contacts_table, contacts_table.c.id == memberships.c.contact_id)
        .where(
            memberships.c.audience_id == audience_id,
            memberships.c.contact_id == contact_id,
            contacts_table.c.team_id == audiences.c.team_id,
        )
    ).first()
    if row is None:
        raise NotFound("page")
    return row


def load(conn: Connection, audience_id: str, contact_id: str) -> Preferences:
    member = _membership(conn, audience_id, contact_id)
    if audience_id.startswith("team_"):
        return Preferences(member.name, member.email, member.subscribed, [])
    choices = topics.contact_topics(conn, member.team_id, audience_id, contact_id)
    return Preferences(member.name, member.email, member.subscribed, choices)


def save_topics(conn: Connection, audience_id: str, contact_id: str, chosen: Collection[str]) -> None:
    """Apply the page's form: every topic of the audience is ticked or not."""
    member = _membership(conn, audience_id, contact_id)
    if audience_id.startswith("team_"):
        return
    for topic in topics.contact_topics(conn, member.team_id, audience_id, contact_id):
        wanted = topic.topic_id in chosen
        if wanted != topic.subscribed:
            topics.choose(conn, member.team_id, audience_id, contact_id, topic.topic_id, wanted)


def leave(conn: Connection, audience_id: str, contact_id: str, campaign_id: str | None = None) -> None:
    """Leave the link's audience (everything, for a team-wide link); with the campaign whose
    message carried the link, it counts in that campaign's report."""
    member = _membership(conn, audience_id, contact_id)
    if audience_id.startswith("team_"):
        memberships_core.unsubscribe_everywhere(conn, member.team_id, contact_id)
    else:
        set_subscribed(conn, member.team_id, audience_id, contact_id, False)
    if campaign_id is not None:
        feedback.unsubscribed(conn, campaign_id, contact_id, now(), audience_id)


def rejoin(conn: Connection, audience_id: str, contact_id: str) -> None:
    member = _membership(conn, audience_id, contact_id)
    if audience_id.startswith("team_"):
        memberships_core.resubscribe(conn, member.team_id, contact_id)
    else:
        set_subscribed(conn, member.team_id, audience_id, contact_id, True)


def unsubscribe_everywhere(
    conn: Connection, audience_id: str, contact_id: str, campaign_id: str | None = None
) -> None:
    """The contact leaves every audience of the team and is flagged unsubscribed team-wide."""
    member = _membership(conn, audience_id, contact_id)
    memberships_core.unsubscribe_everywhere(conn, member.team_id, contact_id)
    if campaign_id is not None:
        feedback.unsubscribed(conn, campaign_id, contact_id, now(), member.team_id)
