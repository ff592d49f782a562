"""Campaigns: what is sent, from whom, when, and to whom (lists, tags and segments).

A campaign is ``draft`` (no schedule), ``scheduled`` (a time in the future), ``sending``
(send now, or its time came), then ``sent``. A sending campaign can be ``paused`` (by a
user, or by the worker after too many failures, saying why in ``status_reason``) and
resumed; ``scheduled``, ``sending`` and ``paused`` ones can be ``cancelled``. Its recipients
are computed by ``recipients``, the one resolver every use of them goes through; sending
them mail is ``roster.core.sending``'s.

What would fail mid-send is refused up front: a template that does not compile or render
(400, naming the part and line), a sender whose domain is not verified and a campaign sent
now that reaches nobody (409).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import (
    ColumnElement,
    Connection,
    and_,
    delete,
    exists,
    false,
    func,
    insert,
    not_,
    or_,
    select,
    update,
)

from roster.core import segments, tallies
from roster.core.clock import now
from roster.core.domains import VERIFIED
from roster.core.emails import clean_email
from roster.core.errors import Conflict, Invalid
from roster.core.guards import LIVE
from roster.core.named import MAX_NAME, clean_name, get_owned, page_owned
from roster.ids import new_id
from roster.mail.compose import TemplateProblem, compile_templates, context, render
from roster.storage.db import Record
from roster.storage.tables import (
    audiences,
    campaign_targets,
    campaigns,
    contact_tags,
    contacts,
    domains,
    memberships,
    senders,
    tags,
)
from roster.storage.tables import segments as segment_rows

DRAFT, SCHEDULED, SENDING, PAUSED = "draft", "scheduled", "sending", "paused"
SENT, CANCELLED = "sent", "cancelled"
STATUSES = (DRAFT, SCHEDULED, SENDING, PAUSED, SENT, CANCELLED)
SCHEDULE_LATER, SEND_NOW = 0, 1
MAX_HTML = 1_000_000

# Each kind of target: its column in campaign_targets, the table its IDs live in, and the
# names of the request fields that include and exclude it.
TARGETS = {
    "list": (campaign_targets.c.audience_id, audiences, "included_lists", "excluded_lists"),
    "tag": (campaign_targets.c.tag_id, tags, "included_tags", "excluded_tags"),
    "segment": (campaign_targets.c.segment_id, segment_rows, "included_segments", "excluded_segments"),
}
TARGET_FIELDS = tuple(name for _, _, *names in TARGETS.values() for name in names)
TEXTS = {
    "plain_text": MAX_HTML,
    "preview_text": MAX_NAME,
    "time_condition": 32,
    "preferred_time_condition": 64,
}


def _zone(name: Any, field: str) -> str:
    try:
        ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError):
        raise Invalid(field, f"`{name}` is not an IANA time zone (e.g. Europe/Paris)") from None
    return str(name)


def _schedule(fields: Mapping[str, Any], moment: datetime) -> dict[str, Any]:
    """The status and schedule columns for the fields sent."""
    kind = fields.get("schedule_type")
    if kind is None:
        return {"status": DRAFT, "schedule_type": None, "schedule_condition": None, "scheduled_at": None}
    if kind == SEND_NOW:
        return {
            "status": SENDING,
            "schedule_type": SEND_NOW,
            "schedule_condition": None,
            "scheduled_at": moment,
        }
    if kind != SCHEDULE_LATER:
        raise Invalid("scheduleType", "must be 0 (schedule for a date and time) or 1 (send now)")
    condition = fields.get("schedule_condition")
    if not condition:
        raise Invalid("scheduleCondition", "is required when scheduleType is 0")
    try:
        when = datetime.fromisoformat(str(condition).strip().replace(" ", "T", 1))
    except ValueError:
        raise Invalid("scheduleCondition", f"`{condition}` is not an ISO 8601 date and time") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=ZoneInfo(fields.get("timezone") or "UTC"))
    if when <= moment:
        raise Invalid("scheduleCondition", f"`{condition}` is not in the future")
    return {
        "status": SCHEDULED,
        "schedule_type": SCHEDULE_LATER,
        "schedule_condition": str(condition).strip(),
        "scheduled_at": when,
    }


def _targets(conn: Connection, team_id: str, fields: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per list, tag and segment named; ``Invalid`` names the first that is unknown."""
    rows: list[dict[str, Any]] = []
    for kind, (column, table, *names) in TARGETS.items():
        for excluded, name in enumerate(names):
            wanted = list(dict.fromkeys(fields.get(name) or []))
            if not wanted:
                continue
            found = set(
                conn.execute(
                    select(table.c.id).where(table.c.team_id == team_id, table.c.id.in_(wanted))
                ).scalars()
            )
            for target in wanted:
                if target not in found:
                    raise Invalid(_camel(name), f"{kind} `{target}` not found")
                rows.append({"excluded": bool(excluded), column.name: target})
    return rows


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _check(conn: Connection, team_id: str, fields: Mapping[str, Any]) -> dict[str, Any]:
    for required in ("name", "subject", "sender", "html_code"):
        if not fields.get(required):
            raise Invalid(_camel(required), "is required")
    values: dict[str, Any] = {
        "name": clean_name(fields["name"]),
        "subject": clean_name(fields["subject"], "subject"),
        "html_code": fields["html_code"],
    }
    if len(values["html_code"]) > MAX_HTML:
        raise Invalid("htmlCode", f"must be at most {MAX_HTML} characters")
    sender = conn.execute(
        select(senders.c.id).where(senders.c.team_id == team_id, senders.c.id == fields["sender"])
    ).first()
    if sender is None:
        raise Invalid("sender", f"sender `{fields['sender']}` not found")
    values["sender_id"] = sender.id
    for name, limit in TEXTS.items():
        text = fields.get(name) or None
        if text is not None and len(text) > limit:
            raise Invalid(_camel(name), f"must be at most {limit} characters")
        values[name] = text
    for name in ("timezone", "preferred_timezone"):
        values[name] = _zone(fields[name], _camel(name)) if fields.get(name) else None
    for name in ("send_in_contacts_timezone", "smart_send"):
        values[name] = bool(fields.get(name))
    if (values["smart_send"] or values["send_in_contacts_timezone"]) and not values["preferred_timezone"]:
        raise Invalid("preferredTimezone", "is required with smartSend or sendInContactsTimezone")
    values["reply_to"] = clean_email(fields["reply_to"], "replyTo")[0] if fields.get("reply_to") else None
    values["tracking"] = fields.get("tracking") is not False
    _check_templates(values)
    return values


SAMPLE_CONTACT = {"id": "contact_sample", "email": "sample@example.com", "firstName": "Sample"}


def _check_templates(values: Mapping[str, Any]) -> None:
    """``Invalid`` naming the part and line of a template that does not compile, or fails
    when rendered for a sample contact, so that no error is left to be found mid-send."""
    try:
        templates = compile_templates(
            values["subject"], values["html_code"], values["plain_text"], values["preview_text"]
        )
        render(templates, context(SAMPLE_CONTACT, {"name": values["name"]}, {}, "https://example.com/u"))
    except TemplateProblem as exc:
        where = f"line {exc.line}: " if exc.line else ""
        raise Invalid(exc.part, f"is not a valid template ({where}{exc.reason})") from None


def require_verified_sender(conn: Connection, campaign: Campaign) -> None:
    """``Conflict`` unless the campaign's sender's domain is one of the team's verified ones."""
    row = campaign.row
    sender = conn.execute(
        select(senders.c.email, senders.c.domain).where(senders.c.id == row.sender_id)
    ).one()
    verified = select(domains.c.id).where(
        domains.c.team_id == row.team_id, domains.c.name == sender.domain, domains.c.status == VERIFIED
    )
    if conn.execute(verified).first() is None:
        raise Conflict(
            f"the sender {sender.email} is on the domain {sender.domain}, which is not verified: add it "
            "(POST /api/v1/domains or `roster domain add`), publish its TXT records, then verify it"
        )


def _require_sendable(conn: Connection, campaign: Campaign) -> None:
    """``Conflict`` unless the campaign's sender's domain is verified and, when it is sent
    now, it reaches somebody."""
    require_verified_sender(conn, campaign)
    row = campaign.row
    if row.status == SENDING and row.resolved_at is None:
        anyone = select(contacts.c.id).where(recipients(conn, campaign)).limit(1)
        if conn.execute(anyone).first() is None:
            raise Conflict(
                "the campaign has no recipients: its lists, tags and segments reach nobody who may be mailed"
            )


@dataclass(frozen=True, slots=True)
class Campaign:
    """A campaign's row and its targets' IDs by request field name (``included_lists``…)."""

    row: Record
    targets: dict[str, list[str]]


def _with_targets(conn: Connection, rows: Sequence[Record]) -> list[Campaign]:
    found: dict[str, dict[str, list[str]]] = {row.id: {name: [] for name in TARGET_FIELDS} for row in rows}
    query = (
        select(campaign_targets)
        .where(campaign_targets.c.campaign_id.in_(list(found)))
        .order_by(campaign_targets.c.campaign_id, campaign_targets.c.position)
    )
    for target in conn.execute(query):
        for column, _table, included, excluded in TARGETS.values():
            target_id = getattr(target, column.name)
            if target_id is not None:
                found[target.campaign_id][excluded if target.excluded else included].append(target_id)
    return [Campaign(row, found[row.id]) for row in rows]


def create_campaign(conn: Connection, team_id: str, fields: Mapping[str, Any]) -> Campaign:
    """Validate everything, then write the campaign and its targets."""
    values = _check(conn, team_id, fields)
    stamp = now()
    values.update(_schedule(fields, stamp))
    targets = _targets(conn, team_id, fields)
    if values["status"] != DRAFT and not any(not target["excluded"] for target in targets):
        raise Invalid(
            "includedLists", "a scheduled or sending campaign needs at least one list, tag or segment"
        )
    campaign_id = new_id("campaign")
    conn.execute(
        insert(campaigns).values(
            id=campaign_id, team_id=team_id, created_at=stamp, updated_at=stamp, **values
        )
    )
    if targets:
        conn.execute(
            insert(campaign_targets),
            [
                {"audience_id": None, "tag_id": None, "segment_id": None, **target}
                | {"campaign_id": campaign_id, "team_id": team_id, "position": position}
                for position, target in enumerate(targets)
            ],
        )
    campaign = get_campaign(conn, team_id, campaign_id)
    if campaign.row.status != DRAFT:
        _require_sendable(conn, campaign)
    return campaign


def _row(conn: Connection, team_id: str, campaign_id: str) -> Record:
    return get_owned(conn, campaigns, "campaign", team_id, campaign_id)


def get_campaign(conn: Connection, team_id: str, campaign_id: str) -> Campaign:
    return _with_targets(conn, [_row(conn, team_id, campaign_id)])[0]


def page_campaigns(
    conn: Connection, team_id: str, offset: int, limit: int, status: str | None = None
) -> list[Campaign]:
    query = select(campaigns)
    if status is not None:
        if status not in STATUSES:
            raise Invalid("campaignType", f"must be one of {', '.join(STATUSES)}")
        query = query.where(campaigns.c.status == status)
    return _with_targets(conn, list(conn.execute(page_owned(query, campaigns, team_id, offset, limit))))


def cancel_campaign(conn: Connection, team_id: str, campaign_id: str) -> Campaign:
    status = _row(conn, team_id, campaign_id).status
    if status not in LIVE:
        raise Conflict(
            f"the campaign is {status}; only a scheduled, sending or paused campaign can be cancelled"
        )
    conn.execute(
        update(campaigns).where(campaigns.c.id == campaign_id).values(status=CANCELLED, updated_at=now())
    )
    return get_campaign(conn, team_id, campaign_id)


def pause_campaign(conn: Connection, team_id: str, campaign_id: str) -> Campaign:
    """Stop sending (workers see it before their next message) until resumed."""
    status = _row(conn, team_id, campaign_id).status
    if status not in (SCHEDULED, SENDING):
        raise Conflict(f"the campaign is {status}; only a scheduled or sending campaign can be paused")
    conn.execute(
        update(campaigns)
        .where(campaigns.c.id == campaign_id)
        .values(status=PAUSED, status_reason="paused by a user", updated_at=now())
    )
    return get_campaign(conn, team_id, campaign_id)


def resume_campaign(conn: Connection, team_id: str, campaign_id: str) -> Campaign:
    """Go on from where it stopped: sending, or scheduled if its time has not come yet."""
    row = _row(conn, team_id, campaign_id)
    if row.status != PAUSED:
        raise Conflict(f"the campaign is {row.status}; only a paused campaign can be resumed")
    stamp = now()
    waiting = row.resolved_at is None and row.resolved_through is None and row.scheduled_at > stamp
    conn.execute(
        update(campaigns)
        .where(campaigns.c.id == campaign_id)
        .values(
            status=SCHEDULED if waiting else SENDING, status_reason=None, failures_in_row=0, updated_at=stamp
        )
    )
    campaign = get_campaign(conn, team_id, campaign_id)
    _require_sendable(conn, campaign)
    return campaign


def delete_campaign(conn: Connection, team_id: str, campaign_id: str) -> None:
    if _row(conn, team_id, campaign_id).status == SENDING:
        raise Conflict("the campaign is sending; cancel it before deleting it")
    conn.execute(delete(campaigns).where(campaigns.c.team_id == team_id, campaigns.c.id == campaign_id))


# The team-wide flags that keep a contact from every campaign.
FLAGS = ("unsubscribed", "bounced", "spam", "blocked", "dropped")
REACHABLE = and_(*(~contacts.c[flag] for flag in FLAGS))


def _reach(
    conn: Connection, team_id: str, targets: Mapping[str, list[str]], excluded: bool
) -> ColumnElement[bool]:
    """Contacts in any of the included (or excluded) lists, tags and segments.

    An included list counts only its subscribed members; an excluded one all its members."""
    lists, tag_ids, segment_ids = (
        targets[f"{'excluded' if excluded else 'included'}_{kind}"] for kind in ("lists", "tags", "segments")
    )
    conditions: list[ColumnElement[bool]] = []
    if lists:
        in_list = and_(memberships.c.contact_id == contacts.c.id, memberships.c.audience_id.in_(lists))
        conditions.append(exists().where(in_list if excluded else and_(in_list, memberships.c.subscribed)))
    if tag_ids:
        conditions.append(
            exists().where(contact_tags.c.contact_id == contacts.c.id, contact_tags.c.tag_id.in_(tag_ids))
        )
    conditions.extend(segments.segment_condition(conn, team_id, segment_id) for segment_id in segment_ids)
    return or_(*conditions) if conditions else false()


def recipients(conn: Connection, campaign: Campaign) -> ColumnElement[bool]:
    """The campaign's recipients, as a condition on ``contacts``: its included lists ∪ tags ∪
    segments, minus its excluded ones, minus contacts that are unsubscribed, bounced, marked
    spam, blocked or dropped."""
    team_id = campaign.row.team_id
    return and_(
        contacts.c.team_id == team_id,
        REACHABLE,
        _reach(conn, team_id, campaign.targets, excluded=False),
        not_(_reach(conn, team_id, campaign.targets, excluded=True)),
    )


@dataclass(frozen=True, slots=True)
class Report:
    campaign: Campaign
    figures: dict[str, int]  # tallies.NAMES; ``recipients`` is who it reaches now until sending starts
    links: list[tuple[str, int]]  # (url, clicks), the most clicked first


def campaign_report(conn: Connection, team_id: str, campaign_id: str) -> Report:
    """The campaign and what became of its deliveries, from its counters."""
    campaign = get_campaign(conn, team_id, campaign_id)
    figures = tallies.totals(conn, campaign_id)
    if campaign.row.resolved_at is None and campaign.row.resolved_through is None:
        query = select(func.count()).select_from(contacts).where(recipients(conn, campaign))
        figures["recipients"] = int(conn.execute(query).scalar_one())
    return Report(campaign, figures, tallies.link_clicks(conn, campaign_id))
