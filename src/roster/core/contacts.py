"""Team-wide contacts: identity by email, attributes and flags, lists, tags and custom values.

This is how SendX sees a contact; ``roster.core.memberships`` is the view through one
audience. ``fields`` arguments hold only what the caller sent, with these keys:
``email``, ``first_name``, ``last_name``, ``company``, ``last_tracked_ip``, ``lists``
(IDs or names of the team's lists), ``tags`` (IDs or names; missing names are created) and
``custom_fields`` (field ID → value), ``phone``. Everything is checked before anything is
written.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from sqlalchemy import Connection, bindparam, case, delete, func, literal, null, select, union_all, update

from roster.core import counts, memberships, outbox, search, tags, values
from roster.core.clock import now
from roster.core.custom_fields import FieldType
from roster.core.emails import clean_email
from roster.core.errors import Conflict, Invalid, NotFound
from roster.core.named import clean_name, clean_texts, require_free
from roster.ids import looks_like, new_id
from roster.storage.db import Record
from roster.storage.prepared import Prepared
from roster.storage.tables import (
    audiences,
    contact_tags,
    contact_values,
    contacts,
    custom_fields,
)
from roster.storage.tables import (
    memberships as membership_rows,
)
from roster.storage.upsert import id_list, in_id_list, upsert_statement

MAX_TEXT = {"first_name": 255, "last_name": 255, "company": 255, "last_tracked_ip": 45}
SOURCE_API = 1


@dataclass(frozen=True, slots=True)
class Profile:
    """A contact with what hangs off it, as the SendX dialect shows it."""

    contact: Record
    lists: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)  # lists whose confirmation it has not given yet
    tags: list[str] = field(default_factory=list)
    values: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class _Changes:
    """Checked input: nothing here is written until every part of it has been checked."""

    email: tuple[str, str] | None = None
    text: dict[str, str | None] = field(default_factory=dict)
    lists: list[str] | None = None
    tag_ids: list[str] = field(default_factory=list)
    new_tags: list[str] = field(default_factory=list)
    tags_sent: bool = False
    values: dict[str, values.Value] = field(default_factory=dict)


# ---- reading ---------------------------------------------------------------------------

_PAGE = Prepared(
    select(contacts.c.id)
    .where(contacts.c.team_id == bindparam("team_id"))
    .order_by(contacts.c.id)
    .offset(bindparam("offset"))
    .limit(bindparam("limit"))
)


_BY_ID = Prepared(
    select(contacts).where(contacts.c.team_id == bindparam("team_id"), contacts.c.id == bindparam("key"))
)
_BY_EMAIL = Prepared(
    select(contacts).where(
        contacts.c.team_id == bindparam("team_id"), contacts.c.email_normalized == bindparam("key")
    )
)


def find(conn: Connection, team_id: str, identifier: str) -> Record:
    """The team's contact named by its ID or its email; ``NotFound`` otherwise."""
    if looks_like("contact", identifier):
        row = _BY_ID.first(conn, {"team_id": team_id, "key": identifier})
    else:
        row = _BY_EMAIL.first(conn, {"team_id": team_id, "key": identifier.strip().lower()})
    if row is None:
        raise NotFound("contact", identifier)
    return row


@cache
def _by_ids(dialect_name: str) -> Prepared:
    return Prepared(select(contacts).where(in_id_list(contacts.c.id, dialect_name)).order_by(contacts.c.id))


@cache
def _relations(dialect_name: str) -> Prepared:
    """Lists, tags and custom values of the contacts whose IDs are bound as ``ids``."""
    parts = union_all(
        select(
            membership_rows.c.contact_id.label("contact_id"),
            literal("list").label("kind"),
            membership_rows.c.audience_id.label("key"),
            case((membership_rows.c.pending_since.is_not(None), literal("pending")), else_=null()).label(
                "text"
            ),
        ).where(in_id_list(membership_rows.c.contact_id, dialect_name)),
        select(contact_tags.c.contact_id, literal("tag"), contact_tags.c.tag_id, null()).where(
            in_id_list(contact_tags.c.contact_id, dialect_name)
        ),
        select(
            contact_values.c.contact_id, literal("value"), contact_values.c.field_id, contact_values.c.text
        ).where(in_id_list(contact_values.c.contact_id, dialect_name)),
    )
    return Prepared(select(parts.subquery()).order_by("key"))


def profiles(conn: Connection, ids: Sequence[str]) -> list[Profile]:
    """The contacts with these IDs, oldest first, with their lists, tags and custom values."""
    if not ids:
        return []
    params = {"ids": id_list(conn.dialect.name, ids)}
    return _related(conn, _by_ids(conn.dialect.name).all(conn, params))


def _related(conn: Connection, rows: Sequence[Record]) -> list[Profile]:
    """Profiles of these contact rows, with their lists, tags and custom values."""
    if not rows:
        return []
    found = {row.id: Profile(row) for row in rows}
    params = {"ids": id_list(conn.dialect.name, list(found))}
    for relation in _relations(conn.dialect.name).all(conn, params):
        profile = found[relation.contact_id]
        if relation.kind == "list":
            profile.lists.append(relation.key)
            if relation.text == "pending":
                profile.pending.append(relation.key)
        elif relation.kind == "tag":
            profile.tags.append(relation.key)
        else:
            profile.values[relation.key] = relation.text
    return list(found.values())


def get_profile(conn: Connection, team_id: str, identifier: str) -> Profile:
    return _related(conn, [find(conn, team_id, identifier)])[0]


def page_counted(
    conn: Connection, team_id: str, offset: int, limit: int, text: str | None
) -> tuple[list[Record], int]:
    """One page of the team's contacts (rows), oldest first, and how many match in all."""
    if text:
        ids, total = search.counted(conn, team_id, text, offset, limit)
        return [profile.contact for profile in profiles(conn, ids)], total
    page = page_profiles(conn, team_id, offset, limit, None)
    return [profile.contact for profile in page], counts.team_contacts(conn, team_id)


def page_profiles(conn: Connection, team_id: str, offset: int, limit: int, text: str | None) -> list[Profile]:
    """The team's contacts, oldest first; with ``text``, those it matches (``roster.core.search``)."""
    if text:
        return profiles(conn, search.contact_ids(conn, team_id, text, offset, limit))
    page = _PAGE.all(conn, {"team_id": team_id, "offset": offset, "limit": limit})
    return profiles(conn, [row.id for row in page])


# ---- checking input --------------------------------------------------------------------


def _check(conn: Connection, team_id: str, fields: Mapping[str, Any], *, keep: str | None) -> _Changes:
    changes = _Changes()
    if "email" in fields:
        changes.email = clean_email(fields["email"])
        _require_free_email(conn, team_id, changes.email[1], keep)
    changes.text.update(clean_texts(fields, MAX_TEXT))
    if changes.text.get("last_tracked_ip"):
        try:
            changes.text["last_tracked_ip"] = str(ipaddress.ip_address(changes.text["last_tracked_ip"] or ""))
        except ValueError:
            raise Invalid("last_tracked_ip", "must be an IPv4 or IPv6 address") from None
    if fields.get("phone"):
        changes.text["phone"] = values.parse(FieldType.PHONE, fields["phone"], "phone").text
    elif "phone" in fields:
        changes.text["phone"] = None
    if fields.get("lists") is not None:
        changes.lists = _resolve_lists(conn, team_id, fields["lists"])
    if fields.get("tags") is not None:
        changes.tags_sent = True
        changes.tag_ids, changes.new_tags = _resolve_tags(conn, team_id, fields["tags"])
    if fields.get("custom_fields") is not None:
        changes.values = _check_values(conn, team_id, fields["custom_fields"])
    return changes


def _require_free_email(conn: Connection, team_id: str, normalized: str, keep: str | None) -> None:
    taken = f"a contact with the email `{normalized}` already exists"
    require_free(conn, contacts, "email_normalized", team_id, normalized, taken, keep)


def _resolve_lists(conn: Connection, team_id: str, names: Iterable[str]) -> list[str]:
    resolved: list[str] = []
    for item in dict.fromkeys(names):
        query = select(audiences.c.id).where(audiences.c.team_id == team_id)
        if looks_like("list", item):
            query = query.where(audiences.c.id == item)
        else:
            query = query.where(func.lower(audiences.c.name) == item.strip().lower())
        found = conn.execute(query.limit(2)).scalars().all()
        if len(found) != 1:
            problem = "does not exist" if not found else "names more than one list; use its ID"
            raise Invalid("lists", f"list `{item}` {problem}")
        resolved.append(found[0])
    return list(dict.fromkeys(resolved))


def _resolve_tags(conn: Connection, team_id: str, names: Iterable[str]) -> tuple[list[str], list[str]]:
    """``(IDs of existing tags, names of tags to create)``; an unknown tag ID is refused."""
    ids: list[str] = []
    missing: list[str] = []
    for item in dict.fromkeys(names):
        if looks_like("tag", item):
            try:
                ids.append(tags.get_tag(conn, team_id, item).id)
            except NotFound:
                raise Invalid("tags", f"tag `{item}` does not exist") from None
            continue
        name = clean_name(item, "tags")
        existing = tags.find_tag(conn, team_id, name)
        if existing is None:
            if name.lower() not in {pending.lower() for pending in missing}:
                missing.append(name)
        else:
            ids.append(existing.id)
    return list(dict.fromkeys(ids)), missing


def _check_values(conn: Connection, team_id: str, raw: Mapping[str, Any]) -> dict[str, values.Value]:
    checked: dict[str, values.Value] = {}
    for field_id, value in raw.items():
        row = conn.execute(
            select(custom_fields.c.id, custom_fields.c.field_type).where(
                custom_fields.c.team_id == team_id, custom_fields.c.id == field_id
            )
        ).first()
        if row is None:
            raise Invalid("custom_fields", f"custom field `{field_id}` does not exist")
        checked[row.id] = values.parse(row.field_type, value, f"custom_fields.{field_id}")
    return checked


# ---- writing ---------------------------------------------------------------------------


def _apply(conn: Connection, team_id: str, contact: Record, changes: _Changes, *, additive: bool) -> None:
    """Write checked changes. ``additive`` (identify) never takes anything away."""
    stamp = now()
    row: dict[str, Any] = {}
    if changes.email is not None:
        row["email"], row["email_normalized"] = changes.email
    for name, text in changes.text.items():
        if text is not None or not additive:
            row[name] = text
    if row.keys() & set(search.COLUMNS):
        row["search_text"] = search.text_of(
            {name: row.get(name, getattr(contact, name)) for name in search.COLUMNS}
        )
    if row or changes.lists is not None or changes.tags_sent or changes.values:
        conn.execute(update(contacts).where(contacts.c.id == contact.id).values(**row, updated_at=stamp))
    if changes.lists is not None:
        current = set(
            conn.execute(
                select(membership_rows.c.audience_id).where(membership_rows.c.contact_id == contact.id)
            ).scalars()
        )
        for audience_id in changes.lists:
            if audience_id not in current:
                memberships.join_audience(conn, team_id, audience_id, contact, None)
        if not additive:
            for audience_id in current - set(changes.lists):
                memberships.leave_audience(conn, team_id, audience_id, contact.id)
    if changes.tags_sent:
        tag_ids = changes.tag_ids + [tags.create_tag(conn, team_id, name).id for name in changes.new_tags]
        if not additive:
            conn.execute(delete(contact_tags).where(contact_tags.c.contact_id == contact.id))
        add_tags(conn, team_id, contact.id, tag_ids)
    for field_id, value in changes.values.items():
        _set_value(conn, team_id, contact.id, field_id, value)


def add_tags(conn: Connection, team_id: str, contact_id: str, tag_ids: Iterable[str]) -> None:
    for tag_id in tag_ids:
        stmt = upsert_statement(conn, contact_tags).values(
            tag_id=tag_id, contact_id=contact_id, team_id=team_id
        )
        conn.execute(
            stmt.on_conflict_do_nothing(index_elements=[contact_tags.c.tag_id, contact_tags.c.contact_id])
        )


def _set_value(conn: Connection, team_id: str, contact_id: str, field_id: str, value: values.Value) -> None:
    typed = {
        "text": value.text,
        "folded": search.fold(value.text),
        "number": value.number,
        "day": value.day,
        "flag": value.flag,
    }
    stmt = upsert_statement(conn, contact_values).values(
        field_id=field_id, contact_id=contact_id, team_id=team_id, **typed
    )
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=[contact_values.c.field_id, contact_values.c.contact_id], set_=typed
        )
    )


def _insert(conn: Connection, team_id: str, email: tuple[str, str], source: int) -> Record:
    """A new contact row for ``email``; ``Conflict`` if a concurrent call made it first."""
    stamp = now()
    contact_id = new_id("contact")
    stmt = upsert_statement(conn, contacts).values(
        id=contact_id,
        team_id=team_id,
        email=email[0],
        email_normalized=email[1],
        search_text=search.text_of({"email_normalized": email[1]}),
        unsubscribed=False,
        contact_source=source,
        created_at=stamp,
        updated_at=stamp,
    )
    inserted = conn.execute(
        stmt.on_conflict_do_nothing(
            index_elements=[contacts.c.team_id, contacts.c.email_normalized]
        ).returning(contacts.c.id)
    ).first()
    if inserted is None:
        raise Conflict(f"a contact with the email `{email[1]}` already exists")
    counts.adjust_team(conn, team_id, 1)
    return find(conn, team_id, contact_id)


def create_contact(
    conn: Connection, team_id: str, fields: Mapping[str, Any], source: int = SOURCE_API
) -> Profile:
    if "email" not in fields:
        raise Invalid("email", "is required")
    changes = _check(conn, team_id, fields, keep=None)
    assert changes.email is not None
    contact = _insert(conn, team_id, changes.email, source)
    changes.email = None
    _apply(conn, team_id, contact, changes, additive=False)
    profile = get_profile(conn, team_id, contact.id)
    outbox.emit(conn, team_id, outbox.CONTACT_CREATED, [outbox.contact_data(profile.contact)])
    return profile


def update_contact(conn: Connection, team_id: str, identifier: str, fields: Mapping[str, Any]) -> Profile:
    """Change only the fields sent; ``lists`` and ``tags`` sent replace the contact's."""
    contact = find(conn, team_id, identifier)
    changes = _check(conn, team_id, fields, keep=contact.id)
    _apply(conn, team_id, contact, changes, additive=False)
    return get_profile(conn, team_id, contact.id)


def identify(conn: Connection, team_id: str, fields: Mapping[str, Any]) -> tuple[Profile, bool]:
    """Create or update by email, adding to what is there and never clearing it.

    ``new_email`` moves the contact to another address. ``(profile, created)``.
    """
    if "email" not in fields:
        raise Invalid("email", "is required")
    email = clean_email(fields["email"])
    existing = conn.execute(
        select(contacts).where(contacts.c.team_id == team_id, contacts.c.email_normalized == email[1])
    ).first()
    request = {key: value for key, value in fields.items() if key not in ("email", "new_email")}
    if fields.get("new_email"):
        request["email"] = fields["new_email"]
    changes = _check(conn, team_id, request, keep=existing.id if existing is not None else None)
    created = existing is None
    contact = existing if existing is not None else _insert(conn, team_id, changes.email or email, SOURCE_API)
    if created:
        changes.email = None
    _apply(conn, team_id, contact, changes, additive=True)
    profile = get_profile(conn, team_id, contact.id)
    if created:
        outbox.emit(conn, team_id, outbox.CONTACT_CREATED, [outbox.contact_data(profile.contact)])
    return profile, created


def delete_contact(conn: Connection, team_id: str, identifier: str) -> None:
    contact = find(conn, team_id, identifier)
    held = conn.execute(
        select(
            membership_rows.c.audience_id, membership_rows.c.subscribed, membership_rows.c.pending_since
        ).where(membership_rows.c.contact_id == contact.id)
    ).all()
    for audience_id, subscribed, pending_since in held:
        pending = int(pending_since is not None)
        counts.adjust(conn, team_id, audience_id, members=-1, subscribed=-int(subscribed), pending=-pending)
    conn.execute(delete(contacts).where(contacts.c.team_id == team_id, contacts.c.id == contact.id))
    counts.adjust_team(conn, team_id, -1)


def unsubscribe(conn: Connection, team_id: str, identifier: str) -> None:
    contact = find(conn, team_id, identifier)
    memberships.unsubscribe_everywhere(conn, team_id, contact.id)


def track(conn: Connection, team_id: str, identifier: str, add: Sequence[str], remove: Sequence[str]) -> None:
    """Add tags by name (creating missing ones) and remove tags by name or ID."""
    contact = find(conn, team_id, identifier)
    tag_ids, missing = _resolve_tags(conn, team_id, add)
    removing = []
    for item in dict.fromkeys(remove):
        found = (
            tags.get_tag(conn, team_id, item)
            if looks_like("tag", item)
            else tags.find_tag(conn, team_id, item)
        )
        if found is not None:
            removing.append(found.id)
    created = [tags.create_tag(conn, team_id, name).id for name in missing]
    add_tags(conn, team_id, contact.id, tag_ids + created)
    if removing:
        conn.execute(
            delete(contact_tags).where(
                contact_tags.c.contact_id == contact.id, contact_tags.c.tag_id.in_(removing)
            )
        )
    conn.execute(update(contacts).where(contacts.c.id == contact.id).values(updated_at=now()))


MAX_BULK = 25


def identify_bulk(
    conn: Connection, team_id: str, items: Sequence[Mapping[str, Any]]
) -> list[tuple[Profile, bool]]:
    """Identify up to 25 contacts at once: all of them, or (on any bad item) none of them.

    Every item is tried in the caller's transaction; if one is refused, the error names each
    bad item by its index and the transaction is rolled back, so nothing is written.
    """
    if not items:
        raise Invalid("items", "at least one item is required")
    if len(items) > MAX_BULK:
        raise Invalid("items", f"at most {MAX_BULK} items per call, not {len(items)}")
    results: list[tuple[Profile, bool]] = []
    problems: list[str] = []
    for index, item in enumerate(items):
        try:
            results.append(identify(conn, team_id, item))
        except (Invalid, Conflict) as exc:
            problems.append(f"item {index}: {exc.message}")
    if problems:
        raise Invalid("items", "; ".join(problems) + "; nothing was written")
    return results
