"""Contacts in audiences: a membership's ``subscribed`` is the contact's consent to that
audience's mail. This is the Sendex view of a contact; the contact itself is team-wide
(``roster.core.contacts``), identified by its normalized email.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import cache
from typing import Any, NamedTuple

from sqlalchemy import (
    Connection,
    and_,
    bindparam,
    delete,
    exists,
    func,
    or_,
    select,
    update,
)

from roster.core import consent, counts, outbox, search
from roster.core.clock import now
from roster.core.emails import clean_email
from roster.core.errors import Invalid, NotFound
from roster.core.named import clean_texts
from roster.ids import new_id
from roster.storage.db import Record
from roster.storage.prepared import Prepared
from roster.storage.tables import (
    audiences,
    contact_events,
    contact_tags,
    contact_values,
    contacts,
    memberships,
    topic_choices,
    topics,
)
from roster.storage.upsert import insert_for

MAX_NAME = 255


class Member(NamedTuple):
    """A contact as seen through one audience (the columns of ``_MEMBERS``)."""

    id: str
    email: str
    first_name: str | None
    last_name: str | None
    created_at: datetime
    subscribed: bool
    audience_id: str
    pending: bool  # waiting for the person to confirm (double opt-in)


# The statements on the hot paths are built once, with bound parameters, and reused: on
# this machine class building a SELECT costs more than running it.
_AUDIENCE_EXISTS = Prepared(
    select(audiences.c.id).where(
        audiences.c.team_id == bindparam("team_id"), audiences.c.id == bindparam("audience_id")
    )
)
_MEMBERS = (
    select(
        contacts.c.id,
        contacts.c.email,
        contacts.c.first_name,
        contacts.c.last_name,
        contacts.c.created_at,
        memberships.c.subscribed,
        memberships.c.audience_id,
        memberships.c.pending_since.is_not(None).label("pending"),
    )
    .join_from(contacts, memberships, memberships.c.contact_id == contacts.c.id)
    .where(
        memberships.c.team_id == bindparam("team_id"), memberships.c.audience_id == bindparam("audience_id")
    )
)
_MEMBER = Prepared(
    _MEMBERS.where(contacts.c.team_id == bindparam("team_id"), contacts.c.id == bindparam("contact_id"))
)
_SUBSCRIBED = Prepared(
    select(memberships.c.subscribed, memberships.c.pending_since).where(
        memberships.c.audience_id == bindparam("audience_id"),
        memberships.c.contact_id == bindparam("contact_id"),
    )
)
_PAGE = (
    select(memberships.c.contact_id)
    .where(memberships.c.audience_id == bindparam("audience_id"))
    .order_by(memberships.c.contact_id)
    .limit(bindparam("limit"))
    .offset(bindparam("offset"))
    .subquery("page")
)
_MEMBER_PAGE = Prepared(
    _MEMBERS.join(_PAGE, _PAGE.c.contact_id == memberships.c.contact_id).order_by(memberships.c.contact_id)
)


def require_audience(conn: Connection, team_id: str, audience_id: str) -> None:
    """Raise ``NotFound`` unless the audience exists in this team."""
    if _AUDIENCE_EXISTS.first(conn, {"team_id": team_id, "audience_id": audience_id}) is None:
        raise NotFound("audience", audience_id)


# Besides its names: what a contact's search text is made again from after a change of them.
_SEARCHED = (contacts.c.email_normalized, contacts.c.company, contacts.c.search_text)


@cache
def _contact_upsert(dialect_name: str, changed: frozenset[str]) -> Prepared:
    """Insert a contact, or on its email's conflict update ``changed`` fields and ``updated_at``."""
    stmt: Any = insert_for(dialect_name, contacts)
    return Prepared(
        stmt.on_conflict_do_update(
            index_elements=[contacts.c.team_id, contacts.c.email_normalized],
            set_={field: stmt.excluded[field] for field in (*sorted(changed), "updated_at")},
        ).returning(
            contacts.c.id,
            contacts.c.unsubscribed,
            contacts.c.email,
            contacts.c.first_name,
            contacts.c.last_name,
            contacts.c.created_at,
            *_SEARCHED,
        )
    )


@cache
def _membership_insert(dialect_name: str) -> Prepared:
    stmt: Any = insert_for(dialect_name, memberships)
    return Prepared(
        stmt.on_conflict_do_nothing(
            index_elements=[memberships.c.audience_id, memberships.c.contact_id]
        ).returning(memberships.c.contact_id)
    )


def clean_names(fields: Mapping[str, Any]) -> dict[str, str | None]:
    return clean_texts(fields, {"first_name": MAX_NAME, "last_name": MAX_NAME})


def upsert_contact(
    conn: Connection, team_id: str, email: str, names: Mapping[str, str | None]
) -> tuple[Record, bool]:
    """Create the team's contact for ``email`` or update the names given; ``(row, created)``.

    One statement, so concurrent calls for one email meet at the unique index and make one contact.
    """
    email, normalized = clean_email(email)
    stamp = now()
    contact_id = new_id("contact")
    values = {
        "id": contact_id,
        "team_id": team_id,
        "email": email,
        "email_normalized": normalized,
        "first_name": names.get("first_name"),
        "last_name": names.get("last_name"),
        "unsubscribed": False,
        "created_at": stamp,
        "updated_at": stamp,
    }
    values["search_text"] = search.text_of(values)
    row = _contact_upsert(conn.dialect.name, frozenset(names)).one(conn, values)
    created = row.id == contact_id
    if not created:
        search.refold(conn, [row])  # the names it had and was sent, together
    if created:
        counts.adjust_team(conn, team_id, 1)
        outbox.emit(conn, team_id, outbox.CONTACT_CREATED, [outbox.contact_data(row)])
    return row, created


def resubscribe(conn: Connection, team_id: str, contact_id: str) -> None:
    """An explicit opt-in lifts the team-wide unsubscribe flag."""
    lifted = conn.execute(
        update(contacts)
        .where(contacts.c.team_id == team_id, contacts.c.id == contact_id, contacts.c.unsubscribed)
        .values(unsubscribed=False, updated_at=now())
    ).rowcount
    if lifted:
        consent.record(conn, team_id, contact_id, consent.SUBSCRIBED)


class Joined(NamedTuple):
    created: bool  # joined now
    subscribed: bool
    pending: bool


def join_audience(
    conn: Connection,
    team_id: str,
    audience_id: str,
    contact: Record,
    subscribed: bool | None,
    *,
    double: bool = False,
) -> Joined:
    """Make the contact a member of the audience.

    A new membership is subscribed unless the contact unsubscribed from everything; an
    existing one keeps its consent unless ``subscribed`` is given. In a double opt-in
    audience a new membership that would be subscribed is pending instead, until the person
    confirms (``roster.core.confirmations``); joining again while pending asks for another
    confirmation mail, which the worker sends at most once per interval. ``double``: the
    person asked to join (a sign-up form), and confirms whatever the audience.
    """
    stamp = now()
    initial = True if double else subscribed if subscribed is not None else not contact.unsubscribed
    values = {
        "audience_id": audience_id,
        "contact_id": contact.id,
        "team_id": team_id,
        "subscribed": initial,
        "created_at": stamp,
        "updated_at": stamp,
    }
    created = _membership_insert(conn.dialect.name).first(conn, values) is not None
    if created:
        pending = stamp if initial and (double or _double_opt_in(conn, audience_id)) else None
        if pending is not None:
            conn.execute(
                update(memberships)
                .where(memberships.c.audience_id == audience_id, memberships.c.contact_id == contact.id)
                .values(subscribed=False, pending_since=stamp, confirm_due_at=stamp)
            )
        joined = initial and pending is None
        counts.adjust(
            conn, team_id, audience_id, members=1, subscribed=int(joined), pending=int(pending is not None)
        )
        change = consent.PENDING if pending else consent.SUBSCRIBED if initial else consent.UNSUBSCRIBED
        consent.record(conn, team_id, contact.id, change, audience_id=audience_id)
        if subscribed and pending is None:
            resubscribe(conn, team_id, contact.id)
        return Joined(True, joined, pending is not None)
    if subscribed is not None:
        waiting = set_subscribed(conn, team_id, audience_id, contact.id, subscribed)
        return Joined(False, subscribed and not waiting, waiting)
    current = _SUBSCRIBED.one(conn, {"audience_id": audience_id, "contact_id": contact.id})
    if current.pending_since is not None:
        _ask_again(conn, audience_id, contact.id)
    return Joined(False, bool(current.subscribed), current.pending_since is not None)


def _double_opt_in(conn: Connection, audience_id: str) -> bool:
    return bool(
        conn.execute(select(audiences.c.list_type).where(audiences.c.id == audience_id)).scalar() == 1
    )


def _ask_again(conn: Connection, audience_id: str, contact_id: str) -> bool:
    """A pending member added or subscribed again is due another confirmation mail (sent at
    most once an interval: the worker's rule); whether the membership is pending."""
    return bool(
        conn.execute(
            update(memberships)
            .where(
                memberships.c.audience_id == audience_id,
                memberships.c.contact_id == contact_id,
                memberships.c.pending_since.is_not(None),
            )
            .values(confirm_due_at=func.coalesce(memberships.c.confirm_due_at, now()))
        ).rowcount
    )


def clear_pending(conn: Connection, team_id: str, contact_id: str, audience_id: str | None = None) -> None:
    """The contact's pending memberships (in ``audience_id``, or all) are pending no more:
    subscribed or unsubscribed by other means, or about to go."""
    where = [memberships.c.team_id == team_id, memberships.c.contact_id == contact_id]
    if audience_id is not None:
        where.append(memberships.c.audience_id == audience_id)
    cleared = conn.execute(
        update(memberships)
        .where(*where, memberships.c.pending_since.is_not(None))
        .values(pending_since=None, confirm_due_at=None)
        .returning(memberships.c.audience_id)
    ).scalars()
    for audience in cleared.all():
        counts.adjust(conn, team_id, audience, pending=-1)


def set_subscribed(
    conn: Connection, team_id: str, audience_id: str, contact_id: str, subscribed: bool
) -> bool:
    """Subscribe or unsubscribe the member; whether it is pending. Subscribing a pending
    member only asks again for its confirmation: only the person can confirm. Unsubscribing
    one ends its wait."""
    if subscribed and _ask_again(conn, audience_id, contact_id):
        return True
    clear_pending(conn, team_id, contact_id, audience_id)
    changed = conn.execute(
        update(memberships)
        .where(
            memberships.c.team_id == team_id,
            memberships.c.audience_id == audience_id,
            memberships.c.contact_id == contact_id,
            memberships.c.subscribed != subscribed,
        )
        .values(subscribed=subscribed, updated_at=now())
    ).rowcount
    if changed:
        counts.adjust(conn, team_id, audience_id, subscribed=1 if subscribed else -1)
        change = consent.SUBSCRIBED if subscribed else consent.UNSUBSCRIBED
        consent.record(conn, team_id, contact_id, change, audience_id=audience_id)
        if not subscribed:
            outbox.emit_contacts(conn, team_id, outbox.UNSUBSCRIBED, [contact_id], listId=audience_id)
    if subscribed:
        resubscribe(conn, team_id, contact_id)
    return False


def get_member(conn: Connection, team_id: str, audience_id: str, contact_id: str) -> Record:
    """A contact as seen through one audience: the contact plus its membership's consent."""
    params = {"team_id": team_id, "audience_id": audience_id, "contact_id": contact_id}
    row = _MEMBER.first(conn, params)
    if row is None:
        require_audience(conn, team_id, audience_id)
        raise NotFound("contact", contact_id)
    return row


def upsert_member(
    conn: Connection, team_id: str, audience_id: str, email: str, fields: Mapping[str, Any]
) -> tuple[Record, bool]:
    """Add or update a contact in an audience by email; ``(member, created)``.

    ``fields`` holds only what the caller sent: ``first_name``, ``last_name``, ``subscribed``.
    ``created`` says whether the contact joined the audience with this call.
    """
    require_audience(conn, team_id, audience_id)
    names = clean_names(fields)
    contact, _ = upsert_contact(conn, team_id, email, names)
    joined = join_audience(conn, team_id, audience_id, contact, fields.get("subscribed"))
    member = Member(
        contact.id,
        contact.email,
        contact.first_name,
        contact.last_name,
        contact.created_at,
        joined.subscribed,
        audience_id,
        joined.pending,
    )
    return member, joined.created


def update_member(
    conn: Connection, team_id: str, audience_id: str, contact_id: str, fields: Mapping[str, Any]
) -> Record:
    get_member(conn, team_id, audience_id, contact_id)
    names = clean_names(fields)
    if names:
        changed = conn.execute(
            update(contacts)
            .where(contacts.c.team_id == team_id, contacts.c.id == contact_id)
            .values(**names, updated_at=now())
            .returning(contacts.c.id, contacts.c.first_name, contacts.c.last_name, *_SEARCHED)
        ).all()
        search.refold(conn, changed)
    if "subscribed" in fields:
        set_subscribed(conn, team_id, audience_id, contact_id, fields["subscribed"])
    return get_member(conn, team_id, audience_id, contact_id)


def page_members(
    conn: Connection, team_id: str, audience_id: str, limit: int, offset: int
) -> tuple[list[Record], int]:
    """One page of an audience's contacts, oldest first, and how many it has in all.

    The offset is walked on the membership primary key alone (an index-only scan); only
    the page's rows are then joined to their contacts.
    """
    require_audience(conn, team_id, audience_id)
    total, _ = counts.totals(conn, audience_id)
    params = {"team_id": team_id, "audience_id": audience_id, "limit": limit, "offset": offset}
    return _MEMBER_PAGE.all(conn, params), total


def remove_member(conn: Connection, team_id: str, audience_id: str, contact_id: str) -> None:
    """Take the contact out of the audience, and delete it if nothing else uses it."""
    member = get_member(conn, team_id, audience_id, contact_id)
    clear_pending(conn, team_id, contact_id, audience_id)
    counts.adjust(conn, team_id, audience_id, members=-1, subscribed=-int(member.subscribed))
    if delete_unused(conn, team_id, [contact_id], leaving=audience_id):
        return
    _forget(conn, audience_id, contact_id)
    consent.record(conn, team_id, contact_id, consent.LEFT, audience_id=audience_id)


def leave_audience(conn: Connection, team_id: str, audience_id: str, contact_id: str) -> None:
    """Take the contact out of the audience, keeping the contact."""
    current = _SUBSCRIBED.first(conn, {"audience_id": audience_id, "contact_id": contact_id})
    if current is None:
        return
    clear_pending(conn, team_id, contact_id, audience_id)
    counts.adjust(conn, team_id, audience_id, members=-1, subscribed=-int(current.subscribed))
    _forget(conn, audience_id, contact_id)
    consent.record(conn, team_id, contact_id, consent.LEFT, audience_id=audience_id)


def _forget(conn: Connection, audience_id: str, contact_id: str) -> None:
    """Delete the membership and the topic choices made under it."""
    audience_topics = select(topics.c.id).where(topics.c.audience_id == audience_id)
    conn.execute(
        delete(topic_choices).where(
            topic_choices.c.contact_id == contact_id, topic_choices.c.topic_id.in_(audience_topics)
        )
    )
    conn.execute(
        delete(memberships).where(
            memberships.c.audience_id == audience_id, memberships.c.contact_id == contact_id
        )
    )


def unsubscribe_everywhere(conn: Connection, team_id: str, contact_id: str) -> None:
    """The contact leaves every audience of the team and is flagged unsubscribed team-wide."""
    clear_pending(conn, team_id, contact_id)
    stamp = now()
    left = conn.execute(
        update(memberships)
        .where(
            memberships.c.team_id == team_id, memberships.c.contact_id == contact_id, memberships.c.subscribed
        )
        .values(subscribed=False, updated_at=stamp)
        .returning(memberships.c.audience_id)
    ).scalars()
    for audience in left.all():
        counts.adjust(conn, team_id, audience, subscribed=-1)
        consent.record(conn, team_id, contact_id, consent.UNSUBSCRIBED, audience_id=audience)
    flagged = conn.execute(
        update(contacts)
        .where(contacts.c.team_id == team_id, contacts.c.id == contact_id, ~contacts.c.unsubscribed)
        .values(unsubscribed=True, updated_at=stamp)
    ).rowcount
    if flagged:
        consent.record(conn, team_id, contact_id, consent.UNSUBSCRIBED)
        outbox.emit_contacts(conn, team_id, outbox.UNSUBSCRIBED, [contact_id], listId=None)


def in_use(leaving: str) -> Any:
    """True for a contact that something other than the audience it is ``leaving`` still uses:
    another audience, a tag, a custom field value or a recorded event."""
    return or_(
        exists().where(and_(memberships.c.contact_id == contacts.c.id, memberships.c.audience_id != leaving)),
        exists().where(contact_tags.c.contact_id == contacts.c.id),
        exists().where(contact_values.c.contact_id == contacts.c.id),
        exists().where(contact_events.c.contact_id == contacts.c.id),
    )


def delete_unused(conn: Connection, team_id: str, candidates: Any, *, leaving: str) -> int:
    """Delete those of ``candidates`` (IDs or a subquery of IDs) that are left unused."""
    result = conn.execute(
        delete(contacts).where(
            contacts.c.team_id == team_id,
            contacts.c.id.in_(candidates),
            ~in_use(leaving),
        )
    )
    counts.adjust_team(conn, team_id, -result.rowcount)
    return result.rowcount


MAX_IDS = 1000


def _team_contacts(conn: Connection, team_id: str, contact_ids: Sequence[str]) -> list[Record]:
    """The team's contacts with these IDs; ``Invalid`` naming any that are not the team's."""
    wanted = list(dict.fromkeys(contact_ids))
    if not wanted:
        raise Invalid("contact_ids", "at least one contact ID is required")
    if len(wanted) > MAX_IDS:
        raise Invalid("contact_ids", f"at most {MAX_IDS} contact IDs per call, not {len(wanted)}")
    rows = conn.execute(
        select(contacts.c.id, contacts.c.unsubscribed).where(
            contacts.c.team_id == team_id, contacts.c.id.in_(wanted)
        )
    ).all()
    known = {row.id for row in rows}
    unknown = [contact_id for contact_id in wanted if contact_id not in known]
    if unknown:
        raise Invalid(
            "contact_ids",
            "no such contacts: " + ", ".join(unknown[:20]) + (" …" if len(unknown) > 20 else ""),
        )
    return list(rows)


def add_members(conn: Connection, team_id: str, audience_id: str, contact_ids: Sequence[str]) -> int:
    """Put the contacts in the audience (those already in it stay as they are); its new size."""
    require_audience(conn, team_id, audience_id)
    for contact in _team_contacts(conn, team_id, contact_ids):
        join_audience(conn, team_id, audience_id, contact, None)
    return counts.totals(conn, audience_id)[0]


def remove_members(conn: Connection, team_id: str, audience_id: str, contact_ids: Sequence[str]) -> int:
    """Take the contacts out of the audience, keeping the contacts; its new size."""
    require_audience(conn, team_id, audience_id)
    for contact in _team_contacts(conn, team_id, contact_ids):
        leave_audience(conn, team_id, audience_id, contact.id)
    return counts.totals(conn, audience_id)[0]


def _in_audience(audience_id: str) -> Any:
    return exists().where(memberships.c.audience_id == audience_id, memberships.c.contact_id == contacts.c.id)


def page_inside(
    conn: Connection, team_id: str, audience_id: str, offset: int, limit: int, text: str | None
) -> tuple[list[Record], int]:
    """The audience's contacts (whole rows), oldest first, and how many there are."""
    return _page_by_membership(conn, team_id, audience_id, offset, limit, text, inside=True)


def page_outside(
    conn: Connection, team_id: str, audience_id: str, offset: int, limit: int, text: str | None
) -> tuple[list[Record], int]:
    """The team's contacts that are not in the audience, oldest first, and how many there are."""
    return _page_by_membership(conn, team_id, audience_id, offset, limit, text, inside=False)


def _page_by_membership(
    conn: Connection,
    team_id: str,
    audience_id: str,
    offset: int,
    limit: int,
    text: str | None,
    *,
    inside: bool,
) -> tuple[list[Record], int]:
    """Each candidate is checked with one probe of the membership key. Without ``text`` the
    total comes from the kept counts (members; or the team's contacts less the members), so
    nothing is counted row by row."""
    require_audience(conn, team_id, audience_id)
    member = _in_audience(audience_id)
    query = select(contacts).where(contacts.c.team_id == team_id, member if inside else ~member)
    if text:
        query = query.where(search.holds(text))
        total = int(conn.execute(select(func.count()).select_from(query.subquery())).scalar_one())
    else:
        members = counts.totals(conn, audience_id)[0]
        total = members if inside else counts.team_contacts(conn, team_id) - members
    rows = conn.execute(query.order_by(contacts.c.id).offset(offset).limit(limit)).all()
    return list(rows), total
