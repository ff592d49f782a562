"""Bulk import of contacts: one importer behind ``roster import contacts`` and the HTTP jobs.

An import reads records (``roster.core.tabular``) in batches. Each batch is one
transaction: its rows are checked exactly as the API checks them (the same email, text,
phone and custom field rules), staged, merged into the contacts by a few set-based
statements (``roster.storage.bulk``), and the job's counts and refused rows are written
with it. A killed import therefore leaves whole batches and counts that match them; running
it again updates what the first run wrote and completes the rest, without duplicates.

Decisions the issue left open (docs/decisions.md): an empty cell leaves a value as it is;
an import can mark a contact unsubscribed, bounced, spam, blocked or dropped but never
clears those flags, and never re-subscribes an existing membership; lists and tags named
but missing are made; duplicates of one email collapse to the last row.
"""

from __future__ import annotations

import gc
import ipaddress
import queue
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any

from sqlalchemy import (
    Connection,
    and_,
    case,
    false,
    func,
    insert,
    literal,
    not_,
    null,
    or_,
    select,
    true,
    update,
)

from roster.core import audiences as audience_rules
from roster.core import consent, counts, custom_fields, outbox, search, suppression, tabular, tags, values
from roster.core.clock import iso, now
from roster.core.custom_fields import FieldType
from roster.core.emails import clean_email
from roster.core.errors import Invalid, NotFound, RosterError
from roster.core.named import CONTROL, CONTROL_MESSAGE, MAX_NAME, clean_name, get_owned
from roster.ids import looks_like, new_id
from roster.storage import bulk
from roster.storage.bulk import stage_contacts, stage_memberships, stage_tags, stage_values
from roster.storage.db import Database, Record
from roster.storage.tables import audiences, contact_tags, contact_values, contacts, import_errors, imports
from roster.storage.tables import custom_fields as field_rows
from roster.storage.tables import memberships as membership_rows
from roster.storage.upsert import insert_for

BATCH_ROWS = 5_000
SOURCE_IMPORT = 2
ON_CONFLICT = ("update", "skip")
SEPARATOR = ";"  # between the names in a CSV cell of tags or lists
MAX_SOURCE = 2048
MAX_ERRORS_SHOWN = 100
STALE_AFTER = timedelta(minutes=5)  # without progress, a queued or running job is lost
BEAT = timedelta(minutes=1)  # how often an arriving upload says its job is alive
STOPPED = "the import stopped unexpectedly; run it again to finish it"
LOST = (
    f"the import made no progress for {STALE_AFTER.seconds // 60} minutes: the process running it "
    "stopped; run it again to finish it"
)

# Which contact field a column feeds, by its name with case, spaces and punctuation removed.
IGNORED = "ignored"
FLAGS = ("unsubscribed", "bounced", "spam", "blocked", "dropped")
SUPPRESSED = "skipped: the address is on the suppression list"
_ALIASES = {
    **dict.fromkeys(("email", "emailaddress", "mail"), "email"),
    **dict.fromkeys(("firstname", "first", "givenname", "forename", "fname"), "first_name"),
    **dict.fromkeys(("lastname", "last", "surname", "familyname", "lname"), "last_name"),
    **dict.fromkeys(("company", "companyname", "organization", "organisation"), "company"),
    **dict.fromkeys(("phone", "phonenumber", "mobile", "telephone"), "phone"),
    **{name: name for name in FLAGS},
    "tags": "tags",
    "lists": "lists",
    "unsubscribedlists": "unsubscribed_lists",
    "ltv": "ltv",
    "created": "created",
    "createdat": "created",
    "pagesource": "page_source",
    "lasttrackedip": "last_tracked_ip",
    **dict.fromkeys(("id", "updated", "updatedat", "contactsource"), IGNORED),
}
TARGETS = frozenset(_ALIASES.values())


def column_key(name: str) -> str:
    return re.sub(r"[^0-9a-z]", "", name.lower())


def field_column(name: str) -> str:
    """The column that holds the custom field ``name`` in an export: its name, or
    ``field:<name>`` when the name alone would be read as a contact field (``Mobile``,
    ``Created``) or as another ``field:`` column."""
    return tabular.FIELD + name if column_key(name) in _ALIASES or name.startswith(tabular.FIELD) else name


# ---- options and jobs --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Options:
    on_conflict: str = "update"
    audience_id: str | None = None
    tags: tuple[str, ...] = ()
    create_fields: bool = False
    columns: Mapping[str, str] = field(default_factory=dict)  # a column's name → what it feeds
    # Into a double opt-in list: ``send`` (each new member pending, mailed a confirmation)
    # or ``confirmed`` (subscribed, the consent history saying ``confirmed_reason``).
    double_opt_in: str | None = None
    confirmed_reason: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "on_conflict": self.on_conflict,
            "tags": list(self.tags),
            "create_fields": self.create_fields,
            "columns": dict(self.columns),
            "double_opt_in": self.double_opt_in,
            "confirmed_reason": self.confirmed_reason,
        }


DOUBLE_OPT_IN = ("send", "confirmed")


def check_options(conn: Connection, team_id: str, options: Options) -> None:
    if options.on_conflict not in ON_CONFLICT:
        raise Invalid("on_conflict", "must be `update` or `skip`")
    if options.double_opt_in not in (None, *DOUBLE_OPT_IN):
        raise Invalid("double_opt_in", "must be `send` or `confirmed`")
    if options.double_opt_in == "confirmed" and not (options.confirmed_reason or "").strip():
        raise Invalid(
            "confirmed_reason", "is required with double_opt_in=confirmed: how these people confirmed"
        )
    if options.audience_id is not None:
        audience = get_owned(conn, audiences, "audience", team_id, options.audience_id)
        if audience.list_type == 1 and options.double_opt_in is None:
            raise Invalid(
                "double_opt_in",
                "the list is double opt-in: choose `send` (each person is mailed a confirmation) or "
                "`confirmed` with a `confirmed_reason`",
            )
    for name in options.tags:
        clean_name(name, "tags")
    for column, target in options.columns.items():
        if target not in TARGETS and not target.startswith(tabular.FIELD):
            raise Invalid("columns", f"column `{column}` cannot feed `{target}`")


def create_job(conn: Connection, team_id: str, source: str, fmt: str, options: Options, state: str) -> Record:
    """A new import job; the options are checked first."""
    if fmt not in tabular.FORMATS:
        raise Invalid("format", "must be `csv` or `ndjson`")
    check_options(conn, team_id, options)
    stamp = now()
    job_id = new_id("import")
    conn.execute(
        insert(imports).values(
            id=job_id,
            team_id=team_id,
            audience_id=options.audience_id,
            source=source[:255],
            format=fmt,
            options=options.as_json(),
            state=state,
            rows_read=0,
            created_count=0,
            updated_count=0,
            skipped_count=0,
            failed_count=0,
            unknown_columns=[],
            created_at=stamp,
            updated_at=stamp,
        )
    )
    return get_job(conn, team_id, job_id)


def get_job(conn: Connection, team_id: str, job_id: str) -> Record:
    return get_owned(conn, imports, "import", team_id, job_id)


def job_options(job: Record) -> Options:
    saved = job.options
    return Options(
        on_conflict=saved["on_conflict"],
        audience_id=job.audience_id,
        tags=tuple(saved["tags"]),
        create_fields=saved["create_fields"],
        columns=saved["columns"],
        double_opt_in=saved.get("double_opt_in"),
        confirmed_reason=saved.get("confirmed_reason"),
    )


def job_errors(conn: Connection, team_id: str, job_id: str, limit: int | None = None) -> list[Record]:
    """The rows the import refused, in file order."""
    query = (
        select(import_errors.c.line, import_errors.c.email, import_errors.c.reason)
        .where(import_errors.c.team_id == team_id, import_errors.c.import_id == job_id)
        .order_by(import_errors.c.line)
    )
    return list(conn.execute(query.limit(limit) if limit is not None else query))


def lost(job: Record) -> bool:
    """Whether a job that says it is queued or running has made no progress for
    ``STALE_AFTER``: the process that ran it stopped (a batch, or a minute of an upload,
    refreshes ``updated_at`` well within that)."""
    return job.state in ("queued", "running") and now() - job.updated_at > STALE_AFTER


def describe(job: Record, errors: Sequence[Record] = ()) -> dict[str, Any]:
    """A job as the CLI and the HTTP API show it; a lost job shows as failed."""
    state, error = ("failed", LOST) if lost(job) else (job.state, job.error)
    return {
        "object": "import",
        "id": job.id,
        "status": state,
        "source": job.source,
        "format": job.format,
        "audience_id": job.audience_id,
        "options": job.options,
        "rows": job.rows_read,
        "created": job.created_count,
        "updated": job.updated_count,
        "skipped": job.skipped_count,
        "failed": job.failed_count,
        "unknown_columns": job.unknown_columns,
        "error": error,
        "errors": [{"line": row.line, "email": row.email, "reason": row.reason} for row in errors],
        "created_at": iso(job.created_at),
        "finished_at": iso(job.finished_at) if job.finished_at else None,
    }


def touch(conn: Connection, job_id: str) -> None:
    """The job is alive (its upload is still arriving)."""
    conn.execute(update(imports).where(imports.c.id == job_id).values(updated_at=now()))


def set_state(conn: Connection, job_id: str, state: str, error: str | None = None) -> None:
    stamp = now()
    finished = stamp if state in ("done", "failed") else None
    conn.execute(
        update(imports)
        .where(imports.c.id == job_id)
        .values(state=state, error=error, updated_at=stamp, finished_at=finished)
    )


# ---- reading columns ---------------------------------------------------------------------


@dataclass(slots=True)
class _Plan:
    """What each cell of a record feeds: a contact field, a custom field, or nothing."""

    targets: list[tuple[int, str, Any]]  # (cell index, target, (field ID, type, column) or None)
    unknown: list[str]


class _Names:
    """The team's custom fields, lists and tags by name, looked up once per import; lists
    and tags named but missing are made in the batch that names them."""

    def __init__(self, team_id: str, options: Options) -> None:
        self.team_id = team_id
        self.options = options
        self.plans: dict[tuple[str, ...], _Plan] = {}
        self.unknown: list[str] = []  # columns of any plan that feed nothing
        self.fields: dict[str, tuple[str, int]] | None = None
        self.lists: dict[str, str] = {}
        self.tags: dict[str, str] = {}

    def _load_fields(self, conn: Connection) -> dict[str, tuple[str, int]]:
        if self.fields is None:
            rows = conn.execute(
                select(field_rows.c.id, field_rows.c.name, field_rows.c.field_type)
                .where(field_rows.c.team_id == self.team_id)
                .order_by(field_rows.c.id)
            )
            self.fields = {}
            for row in rows:
                self.fields.setdefault(row.name.strip().lower(), (row.id, row.field_type))
                self.fields.setdefault(row.id, (row.id, row.field_type))
        return self.fields

    def plan(self, conn: Connection, keys: tuple[str, ...]) -> _Plan:
        plan = self.plans.get(keys)
        if plan is None:
            plan = self._plan(conn, keys)
            self.unknown.extend(name for name in plan.unknown if name not in self.unknown)
            self.plans[keys] = plan
        return plan

    def _plan(self, conn: Connection, keys: tuple[str, ...]) -> _Plan:
        fields = self._load_fields(conn)
        targets: list[tuple[int, str, Any]] = []
        unknown: list[str] = []
        for index, name in enumerate(keys):
            mapped = self.options.columns.get(name)
            source = mapped or name
            if source.startswith(tabular.FIELD):
                name, target = source.removeprefix(tabular.FIELD), None
            else:
                target = mapped or _ALIASES.get(column_key(name))
            if target == IGNORED:
                continue
            if target is not None:
                targets.append((index, target, None))
                continue
            found: tuple[str, int] | None = fields.get(name.strip().lower())
            if found is None and self.options.create_fields and name.strip():
                made = custom_fields.create_field(
                    conn, self.team_id, {"name": name.strip()[:MAX_NAME], "field_type": FieldType.TEXT}
                )
                found = fields[made.name.lower()] = (made.id, FieldType.TEXT)
            if found is None:
                unknown.append(name)
            else:
                targets.append((index, "field", (*found, name)))
        if not any(target == "email" for _, target, _ in targets) and keys:
            raise Invalid("columns", f"no column holds the email (columns: {', '.join(keys)})")
        return _Plan(targets, unknown)

    def list_id(self, conn: Connection, name: str) -> str:
        """The list of that ID or name; a missing name is made, a missing ID refused."""
        key = name.lower()
        found = self.lists.get(key)
        if found is None:
            query = select(audiences.c.id).where(audiences.c.team_id == self.team_id)
            if looks_like("list", name):
                query = query.where(audiences.c.id == name)
            else:
                query = query.where(func.lower(audiences.c.name) == key)
            rows = conn.execute(query.limit(2)).scalars().all()
            if len(rows) > 1:
                raise Invalid("lists", f"`{name}` names more than one list; use its ID")
            if not rows and looks_like("list", name):
                raise Invalid("lists", f"list `{name}` does not exist")
            found = rows[0] if rows else audience_rules.create_list(conn, self.team_id, {"name": name}).id
            self.lists[key] = found
        return found

    def tag_id(self, conn: Connection, name: str) -> str:
        """The tag of that ID or name; a missing name is made, a missing ID refused."""
        key = name.lower()
        found = self.tags.get(key)
        if found is None:
            if looks_like("tag", name):
                try:
                    found = tags.get_tag(conn, self.team_id, name).id
                except NotFound:
                    raise Invalid("tags", f"tag `{name}` does not exist") from None
            else:
                row = tags.find_tag(conn, self.team_id, name)
                found = row.id if row is not None else tags.create_tag(conn, self.team_id, name).id
            self.tags[key] = found
        return found

    def resolve(self, conn: Connection, row: _Row) -> None:
        """Turn the row's list and tag names into IDs; ``Invalid`` if one cannot be."""
        row.lists = [self.list_id(conn, name) for name in row.lists]
        row.unsubscribed_lists = [self.list_id(conn, name) for name in row.unsubscribed_lists]
        row.tags = [self.tag_id(conn, name) for name in row.tags]


# ---- checking rows -----------------------------------------------------------------------

_TRUE = frozenset({"true", "1", "yes", "y"})
_FALSE = frozenset({"false", "0", "no", "n", ""})


@dataclass(slots=True)
class _Row:
    line: int
    contact: list[Any]  # stage_contacts' columns from email_normalized to created_at, without id
    values: dict[str, values.Value] = field(default_factory=dict)  # by field ID: two columns may name one
    lists: list[str] = field(default_factory=list)  # names when checked, IDs once resolved
    unsubscribed_lists: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)

    def over(self, earlier: _Row) -> _Row:
        """This row laid over an earlier row of the same email, as a later batch would lay
        it over the contact: its values win, its empty cells keep the earlier ones."""
        self.contact = [
            mine if mine is not None else theirs
            for mine, theirs in zip(self.contact, earlier.contact, strict=True)
        ]
        self.values = {**earlier.values, **self.values}
        self.lists = list(dict.fromkeys(earlier.lists + self.lists))
        self.unsubscribed_lists = list(dict.fromkeys(earlier.unsubscribed_lists + self.unsubscribed_lists))
        self.tags = list(dict.fromkeys(earlier.tags + self.tags))
        return self


# Positions in _Row.contact (stage_contacts' columns after ``id``).
_POSITIONS = {
    name: index
    for index, name in enumerate(
        (
            "email",
            "first_name",
            "last_name",
            "company",
            "phone",
            "page_source",
            "last_tracked_ip",
            "ltv",
            *FLAGS,
        )
    )
}
_CREATED = len(_POSITIONS)


def _text(raw: Any, label: str, limit: int) -> str | None:
    if not isinstance(raw, str):
        if raw is None:
            return None
        raise Invalid(label, "must be text")
    text = raw.strip()
    if len(text) > limit:
        raise Invalid(label, f"must be at most {limit} characters")
    return text or None


def _flag(raw: Any, label: str) -> bool | None:
    """``True`` or nothing: an import records a flag, it never clears one."""
    if isinstance(raw, bool):
        return raw or None
    text = str(raw if raw is not None else "").strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return None
    raise Invalid(label, f"`{raw}` is not true or false")


def _names(raw: Any, label: str) -> list[str]:
    if raw is None:
        return []
    items = raw if isinstance(raw, list) else str(raw).split(SEPARATOR)
    return list(dict.fromkeys(clean_name(str(item), label) for item in items if str(item).strip()))


def _created(raw: Any) -> datetime | None:
    text = str(raw or "").strip()
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise Invalid("created", f"`{text}` is not an ISO 8601 date and time") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _check(line: int, plan: _Plan, cells: Sequence[Any]) -> _Row:
    """One record, checked as the API checks a contact; ``Invalid`` names what is wrong."""
    contact: list[Any] = [None] * (_CREATED + 2)
    row = _Row(line, contact)
    width = len(cells)
    for index, target, spec in plan.targets:
        raw = cells[index] if index < width else None
        if isinstance(raw, str) and CONTROL.search(raw):  # one such cell refuses its row alone
            raise Invalid(spec[2] if target == "field" else target, CONTROL_MESSAGE)
        if target == "email":
            email, contact[0] = clean_email(raw if isinstance(raw, str) else "")
            contact[_POSITIONS["email"] + 1] = email
        elif target == "field":
            if raw is None or raw == "":
                continue
            row.values[spec[0]] = values.parse(spec[1], raw, spec[2])
        elif target in ("first_name", "last_name", "company"):
            contact[_POSITIONS[target] + 1] = _text(raw, target, MAX_NAME)
        elif target == "phone":
            if raw not in (None, ""):
                contact[_POSITIONS["phone"] + 1] = values.parse(FieldType.PHONE, raw, "phone").text
        elif target in FLAGS:
            contact[_POSITIONS[target] + 1] = _flag(raw, target)
        elif target == "tags":
            row.tags = _names(raw, "tags")
        elif target == "lists":
            row.lists = _names(raw, "lists")
        elif target == "unsubscribed_lists":
            row.unsubscribed_lists = _names(raw, "unsubscribed_lists")
        elif target == "ltv":
            text = str(raw if raw is not None else "").strip()
            if text:
                if not text.isdigit():
                    raise Invalid("ltv", f"`{text}` is not a whole number of cents")
                contact[_POSITIONS["ltv"] + 1] = int(text)
        elif target == "created":
            contact[_CREATED + 1] = _created(raw)
        elif target == "page_source":
            contact[_POSITIONS["page_source"] + 1] = _text(raw, target, MAX_SOURCE)
        elif target == "last_tracked_ip":
            address = _text(raw, target, 45)
            if address is not None:
                try:
                    contact[_POSITIONS["last_tracked_ip"] + 1] = str(ipaddress.ip_address(address))
                except ValueError:
                    raise Invalid(target, f"`{address}` is not an IPv4 or IPv6 address") from None
    return row


@dataclass(slots=True)
class _Checked:
    """A record after checking: its row, or why it is refused; neither when its columns
    had no plan yet."""

    record: tabular.Record
    row: _Row | None = None
    problem: str | None = None
    email: str | None = None


def _precheck(plans: Mapping[tuple[str, ...], _Plan], record: tabular.Record) -> _Checked:
    if record.problem is not None:
        return _Checked(record, problem=f"line {record.problem}")
    plan = plans.get(record.keys)
    if plan is None:
        return _Checked(record)
    try:
        return _Checked(record, row=_check(record.line, plan, record.cells))
    except Invalid as exc:
        return _Checked(record, problem=exc.message, email=_email_of(plan, record.cells))


# ---- merging a batch ---------------------------------------------------------------------

CREATED, UPDATED, SKIPPED = 1, 2, 3


@dataclass(slots=True)
class Tally:
    rows_read: int = 0
    created: int = 0
    updated: int = 0
    skipped: int = 0
    failed: int = 0

    def add(self, other: Tally) -> None:
        self.rows_read += other.rows_read
        self.created += other.created
        self.updated += other.updated
        self.skipped += other.skipped
        self.failed += other.failed


_RENAMING = ("first_name", "last_name", "company")  # what an import changes of a search text


def _search_text(row: _Row) -> str:
    """The search text of the contact ``row`` makes, if it is new."""
    fields = {name: row.contact[_POSITIONS[name] + 1] for name in _RENAMING}
    return search.text_of({**fields, "email_normalized": row.contact[0]})


def _merge_contacts(
    conn: Connection, team_id: str, stamp: datetime, options: Options, watermark: str
) -> None:
    """Insert the new emails, mark each staged row's outcome, update the others if asked."""
    s = stage_contacts
    at = literal(stamp, contacts.c.created_at.type)
    insert_new = (
        insert_for(conn.dialect.name, contacts)
        .from_select(
            [
                "id",
                "team_id",
                "email",
                "email_normalized",
                "first_name",
                "last_name",
                "company",
                "phone",
                "page_source",
                "last_tracked_ip",
                "ltv",
                *FLAGS,
                "contact_source",
                "created_at",
                "updated_at",
                "search_text",
            ],
            select(
                s.c.id,
                literal(team_id),
                s.c.email,
                s.c.email_normalized,
                s.c.first_name,
                s.c.last_name,
                s.c.company,
                s.c.phone,
                s.c.page_source,
                s.c.last_tracked_ip,
                func.coalesce(s.c.ltv, 0),
                *(func.coalesce(s.c[flag], False) for flag in FLAGS),
                literal(SOURCE_IMPORT),
                func.coalesce(s.c.created_at, at),
                at,
                s.c.search_text,
            )
            .where(true())  # SQLite needs a WHERE to read ON CONFLICT as the upsert clause
            .order_by(s.c.email_normalized),  # in the unique index's order: fewer pages touched
        )
        .on_conflict_do_nothing(index_elements=[contacts.c.team_id, contacts.c.email_normalized])
    )
    conn.execute(insert_new)
    # A row whose new ID was taken made its contact: found by ID, which for new IDs is the
    # right-hand edge of the key, where an email is anywhere in its index. Asked row by row,
    # as a subquery: as a join PostgreSQL may hash the whole table for every batch.
    made = select(contacts.c.id).where(contacts.c.id == s.c.id).scalar_subquery()
    conn.execute(update(s).where(made.is_not(None)).values(contact_id=s.c.id, outcome=CREATED))
    # The others met a contact that exists, looked up by email for each staged row (as a
    # join, SQLite would read all the team's contacts for every batch). One made earlier by
    # this same import (its ID is newer than the import) is a duplicate within the file: the
    # later row wins, whatever ``on_conflict`` says.
    existing = (
        select(contacts.c.id)
        .where(contacts.c.team_id == team_id, contacts.c.email_normalized == s.c.email_normalized)
        .scalar_subquery()
    )
    conn.execute(update(s).where(s.c.outcome.is_(None)).values(contact_id=existing))
    applies = true() if options.on_conflict == "update" else s.c.contact_id >= watermark
    conn.execute(
        update(s).where(s.c.outcome.is_(None)).values(outcome=case((applies, UPDATED), else_=SKIPPED))
    )
    changes: dict[str, Any] = {
        name: func.coalesce(s.c[name], contacts.c[name])
        for name in ("first_name", "last_name", "company", "phone", "page_source", "last_tracked_ip", "ltv")
    }
    changes.update({flag: or_(contacts.c[flag], func.coalesce(s.c[flag], False)) for flag in FLAGS})
    _record_flags(conn, team_id)
    # A row that gives every field of the search text but the email (the same) has it staged.
    every = and_(*(s.c[name].is_not(None) for name in _RENAMING))
    changes["search_text"] = case((every, s.c.search_text), else_=contacts.c.search_text)
    conn.execute(
        update(contacts)
        .where(contacts.c.id == s.c.contact_id, s.c.outcome == UPDATED)
        .values(**changes, updated_at=at)
    )
    # Some of those fields laid over the others a contact had: its search text made from both.
    some = or_(*(s.c[name].is_not(None) for name in _RENAMING))
    renamed = (
        select(*(contacts.c[name] for name in ("id", *search.COLUMNS, "search_text")))
        .join_from(s, contacts, contacts.c.id == s.c.contact_id)
        .where(s.c.outcome == UPDATED, some, ~every)
    )
    search.refold(conn, conn.execute(renamed).all())


def _record_flags(conn: Connection, team_id: str) -> None:
    """The flags this batch sets, in the consent history: all those of the contacts it made,
    and those the contacts it updates did not have yet (read before the update)."""
    s = stage_contacts
    rows = conn.execute(
        select(
            s.c.contact_id, s.c.outcome, *(s.c[flag] for flag in FLAGS), *(contacts.c[flag] for flag in FLAGS)
        )
        .join_from(s, contacts, contacts.c.id == s.c.contact_id)
        .where(s.c.outcome.in_((CREATED, UPDATED)), or_(*(s.c[flag] for flag in FLAGS)))
    ).all()
    width = len(FLAGS)
    consent.record_many(
        conn,
        team_id,
        (
            (row[0], flag, None)
            for row in rows
            for index, flag in enumerate(FLAGS)
            if row[2 + index] and (row[1] == CREATED or not row[2 + width + index])
        ),
    )


def _unsubscribe_existing(conn: Connection, team_id: str, stamp: datetime) -> None:
    """Contacts this batch marks unsubscribed leave every audience's mail, as the API's
    unsubscribe does; their memberships' counts and events follow."""
    s = stage_contacts
    leaving = select(s.c.contact_id).where(s.c.outcome == UPDATED, s.c.unsubscribed)
    changed = conn.execute(
        update(membership_rows)
        .where(membership_rows.c.contact_id.in_(leaving), membership_rows.c.subscribed)
        .values(subscribed=False, updated_at=stamp)
        .returning(membership_rows.c.audience_id, membership_rows.c.contact_id)
    ).all()
    for audience_id, dropped in Counter(row.audience_id for row in changed).items():
        counts.adjust(conn, team_id, audience_id, subscribed=-dropped)
    for audience_id in {row.audience_id for row in changed}:
        contact_ids = [row.contact_id for row in changed if row.audience_id == audience_id]
        outbox.emit_contacts(conn, team_id, outbox.UNSUBSCRIBED, contact_ids, listId=audience_id)
    consent.record_many(
        conn, team_id, ((row.contact_id, consent.UNSUBSCRIBED, row.audience_id) for row in changed)
    )


_VALUE_COLUMNS = ("text", "number", "day", "flag", "folded")


def _merge_relations(
    conn: Connection, team_id: str, stamp: datetime, outcomes: Counter[int], options: Options
) -> None:
    """Values, tags and memberships of the batch's created and updated contacts. A contact
    this batch made has no values or tags yet: its rows go in by plain inserts, which skip
    the conflict check an upsert makes per row."""
    s = stage_contacts
    for outcome in (CREATED, UPDATED):
        if not outcomes[outcome]:
            continue
        new = outcome == CREATED
        values_insert = insert_for(conn.dialect.name, contact_values)
        values_from = values_insert.from_select(
            ["field_id", "contact_id", "team_id", *_VALUE_COLUMNS],
            select(
                stage_values.c.field_id,
                s.c.contact_id,
                literal(team_id),
                *(stage_values.c[name] for name in _VALUE_COLUMNS),
            )
            .join_from(stage_values, s, s.c.email_normalized == stage_values.c.email_normalized)
            .where(s.c.outcome == outcome),
        )
        conn.execute(
            values_from
            if new
            else values_from.on_conflict_do_update(
                index_elements=[contact_values.c.field_id, contact_values.c.contact_id],
                set_={name: values_insert.excluded[name] for name in _VALUE_COLUMNS},
            )
        )
        tags_from = insert_for(conn.dialect.name, contact_tags).from_select(
            ["tag_id", "contact_id", "team_id"],
            select(stage_tags.c.tag_id, s.c.contact_id, literal(team_id))
            .join_from(stage_tags, s, s.c.email_normalized == stage_tags.c.email_normalized)
            .where(s.c.outcome == outcome),
        )
        conn.execute(
            tags_from
            if new
            else tags_from.on_conflict_do_nothing(
                index_elements=[contact_tags.c.tag_id, contact_tags.c.contact_id]
            )
        )
    applied = s.c.outcome != SKIPPED
    m = stage_memberships
    # New members of double opt-in lists: pending (and mailed a confirmation) unless the
    # import says they confirmed already.
    doubles = select(audiences.c.id).where(
        audiences.c.team_id == team_id,
        audiences.c.list_type == 1,
        audiences.c.id.in_(select(m.c.audience_id)),
    )
    double_lists = set(conn.execute(doubles).scalars())
    wanted = and_(m.c.subscribed, not_(contacts.c.unsubscribed))
    waits = (
        and_(wanted, m.c.audience_id.in_(sorted(double_lists)))
        if options.double_opt_in != "confirmed"
        else false()
    )
    at = literal(stamp, membership_rows.c.created_at.type)
    joined = conn.execute(
        insert_for(conn.dialect.name, membership_rows)
        .from_select(
            [
                "audience_id",
                "contact_id",
                "team_id",
                "subscribed",
                "created_at",
                "updated_at",
                "pending_since",
                "confirm_due_at",
            ],
            select(
                m.c.audience_id,
                s.c.contact_id,
                literal(team_id),
                and_(wanted, not_(waits)),
                at,
                at,
                case((waits, at), else_=null()),
                case((waits, at), else_=null()),
            )
            .join_from(m, s, s.c.email_normalized == m.c.email_normalized)
            .join(contacts, contacts.c.id == s.c.contact_id)
            .where(applied),
        )
        .on_conflict_do_nothing(index_elements=[membership_rows.c.audience_id, membership_rows.c.contact_id])
        .returning(
            membership_rows.c.audience_id,
            membership_rows.c.contact_id,
            membership_rows.c.subscribed,
            membership_rows.c.pending_since,
        )
    ).all()
    members = Counter(row.audience_id for row in joined)
    subscribed = Counter(row.audience_id for row in joined if row.subscribed)
    pending = Counter(row.audience_id for row in joined if row.pending_since is not None)
    for audience_id, count in members.items():
        counts.adjust(
            conn,
            team_id,
            audience_id,
            members=count,
            subscribed=subscribed[audience_id],
            pending=pending[audience_id],
        )

    def change(row: Any) -> str:
        if row.pending_since is not None:
            return consent.PENDING
        if row.subscribed and row.audience_id in double_lists:
            return consent.CONFIRMED
        return consent.SUBSCRIBED if row.subscribed else consent.UNSUBSCRIBED

    confirmed = [row for row in joined if change(row) == consent.CONFIRMED]
    others = [row for row in joined if change(row) != consent.CONFIRMED]
    consent.record_many(conn, team_id, ((row.contact_id, change(row), row.audience_id) for row in others))
    consent.record_many(
        conn,
        team_id,
        ((row.contact_id, consent.CONFIRMED, row.audience_id) for row in confirmed),
        detail=options.confirmed_reason,
    )


def _outcomes(conn: Connection) -> Counter[int]:
    s = stage_contacts
    return Counter(dict(conn.execute(select(s.c.outcome, func.count()).group_by(s.c.outcome)).all()))


_collector = threading.Lock()
_importing = 0
_threshold = gc.get_threshold()


@contextmanager
def _fewer_collections() -> Iterator[None]:
    """A batch makes about 10⁵ small containers that all live until it commits; at the default
    threshold the cyclic collector would scan them hundreds of times per batch (17 % of an
    import's time, measured). Raised while any import runs, then restored."""
    global _importing, _threshold
    with _collector:
        if _importing == 0:
            _threshold = gc.get_threshold()
            gc.set_threshold(50_000, *_threshold[1:])
        _importing += 1
    try:
        yield
    finally:
        with _collector:
            _importing -= 1
            if _importing == 0:
                gc.set_threshold(*_threshold)


class Importer:
    """Runs one import job over records, batch by batch, each batch in its own transaction."""

    def __init__(self, db: Database, job: Record, *, progress: Callable[[Tally], None] | None = None) -> None:
        self.db = db
        self.job = job
        self.team_id: str = job.team_id
        self.options = job_options(job)
        self.names = _Names(self.team_id, self.options)
        self.tally = Tally(
            job.rows_read, job.created_count, job.updated_count, job.skipped_count, job.failed_count
        )
        self.names.unknown.extend(job.unknown_columns)
        self.progress = progress
        # Contacts with IDs at or after this one were made by this run of the import.
        self.watermark = new_id("contact")

    def run(self, records: Iterable[tabular.Record]) -> Tally:
        """Import every record after those the job has already committed (a resumed job
        starts where its last whole batch ended)."""
        self.db.run_write(set_state, self.job.id, "running")
        with _fewer_collections():
            for batch in self._checked_batches(records):
                done = self.db.run_write(self._batch, batch)
                self.tally.add(done)
                if self.progress is not None:
                    self.progress(self.tally)
        self.db.run_write(set_state, self.job.id, "done")
        return self.tally

    def _checked_batches(self, records: Iterable[tabular.Record]) -> Iterator[list[_Checked]]:
        """Batches of records, read and checked by a second thread while this one writes
        the batch before (the database works with the GIL released: on PostgreSQL in
        another process). A record whose columns have no plan yet is checked by the writer
        instead, since planning may write (``--create-fields``)."""
        batches: queue.Queue[list[_Checked] | BaseException | None] = queue.Queue(maxsize=1)
        stop = threading.Event()
        plans = self.names.plans
        already = self.job.rows_read

        def read() -> None:
            source = iter(records)
            try:
                batch: list[_Checked] = []
                for record in islice(source, already, None):
                    if stop.is_set():
                        return
                    batch.append(_precheck(plans, record))
                    if len(batch) >= BATCH_ROWS:
                        batches.put(batch)
                        batch = []
                if batch:
                    batches.put(batch)
                batches.put(None)
            except BaseException as exc:  # handed to the writer, which raises it
                batches.put(exc)
            finally:
                close = getattr(source, "close", None)
                if close is not None:
                    close()  # in the thread that iterated it

        reader = threading.Thread(target=read, name="roster-import-reader", daemon=True)
        reader.start()
        try:
            while (item := batches.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()
            while reader.is_alive():  # a reader blocked on the full queue must see ``stop``
                with suppress(queue.Empty):
                    batches.get_nowait()
                reader.join(0.01)

    def _batch(self, conn: Connection, batch: list[_Checked]) -> Tally:
        tally = Tally(rows_read=len(batch))
        refused: list[dict[str, Any]] = []
        rows: dict[str, _Row] = {}
        for item in batch:
            if item.problem is None and item.row is None:
                self.names.plan(conn, item.record.keys)
                item = _precheck(self.names.plans, item.record)
            row = item.row
            if row is not None:
                try:
                    self.names.resolve(conn, row)
                except Invalid as exc:
                    item = _Checked(item.record, problem=exc.message, email=row.contact[1])
            if item.problem is not None or row is None:
                refused.append(self._refusal(item.record.line, item.email, item.problem or ""))
                continue
            earlier = rows.pop(row.contact[0], None)
            if earlier is not None:
                tally.skipped += 1  # an earlier row of this email, merged into this one
                row = row.over(earlier)
            rows[row.contact[0]] = row
        tally.failed = len(refused)
        for email in suppression.suppressed(conn, self.team_id, rows):
            skipped = rows.pop(email)
            tally.skipped += 1
            refused.append(self._refusal(skipped.line, skipped.contact[1], SUPPRESSED))
        if rows:
            self._write(conn, list(rows.values()), tally)
        if refused:
            conn.execute(insert(import_errors), refused)
        conn.execute(
            update(imports)
            .where(imports.c.id == self.job.id)
            .values(
                rows_read=imports.c.rows_read + tally.rows_read,
                created_count=imports.c.created_count + tally.created,
                updated_count=imports.c.updated_count + tally.updated,
                skipped_count=imports.c.skipped_count + tally.skipped,
                failed_count=imports.c.failed_count + tally.failed,
                unknown_columns=self.names.unknown,
                updated_at=now(),
            )
        )
        return tally

    def _refusal(self, line: int, email: str | None, reason: str) -> dict[str, Any]:
        return {
            "import_id": self.job.id,
            "line": line,
            "team_id": self.team_id,
            "email": email[:320] if email else None,
            "reason": reason[:500],
        }

    def _write(self, conn: Connection, rows: list[_Row], tally: Tally) -> None:
        stamp = now()
        bulk.create_stages(conn)
        staged_values: list[tuple[Any, ...]] = []
        staged_members: list[tuple[str, str, bool]] = []
        staged_tags: list[tuple[str, str]] = []
        base_lists = [self.options.audience_id] if self.options.audience_id else []
        base_tags = [self.names.tag_id(conn, name) for name in self.options.tags]
        contacts_rows = []
        for row in rows:
            email = row.contact[0]
            contacts_rows.append((email, new_id("contact"), *row.contact[1:], _search_text(row)))
            for field_id, value in row.values.items():
                folded = search.fold(value.text)
                staged_values.append(
                    (email, field_id, value.text, value.number, value.day, value.flag, folded)
                )
            for audience_id in base_lists:
                staged_members.append((email, audience_id, True))
            for audience_id in row.lists:
                staged_members.append((email, audience_id, True))
            for audience_id in row.unsubscribed_lists:
                staged_members.append((email, audience_id, False))
            for tag_id in base_tags + row.tags:
                staged_tags.append((email, tag_id))
        bulk.load(conn, stage_contacts, contacts_rows)
        bulk.load(conn, stage_values, staged_values)
        bulk.load(conn, stage_memberships, list(dict.fromkeys(staged_members)))
        bulk.load(conn, stage_tags, list(dict.fromkeys(staged_tags)))
        bulk.analyze_stages(conn)
        _merge_contacts(conn, self.team_id, stamp, self.options, self.watermark)
        outcomes = _outcomes(conn)
        _unsubscribe_existing(conn, self.team_id, stamp)
        _merge_relations(conn, self.team_id, stamp, outcomes, self.options)
        tally.created += outcomes[CREATED]
        tally.updated += outcomes[UPDATED]
        tally.skipped += outcomes[SKIPPED]
        counts.adjust_team(conn, self.team_id, outcomes[CREATED])
        if outcomes[CREATED] and outbox.listening(conn, self.team_id, outbox.CONTACT_CREATED):
            made = select(stage_contacts.c.id).where(stage_contacts.c.outcome == CREATED)
            outbox.emit_contacts(
                conn, self.team_id, outbox.CONTACT_CREATED, conn.execute(made).scalars().all()
            )
        bulk.clear_stages(conn)


def _email_of(plan: _Plan, cells: Sequence[Any]) -> str | None:
    for index, target, _ in plan.targets:
        if target == "email" and index < len(cells) and isinstance(cells[index], str):
            return cells[index].strip() or None
    return None


def records(fmt: str, stream: Any) -> Iterator[tabular.Record]:
    return tabular.read_csv(stream) if fmt == "csv" else tabular.read_ndjson(stream)


def run_job(
    db: Database, team_id: str, job_id: str, stream: Any, *, progress: Callable[[Tally], None] | None = None
) -> Record:
    """Run (or resume) the job over ``stream``; a file that cannot be imported at all fails
    the job with the reason. Returns the job as it ends."""
    job = db.run_read(get_job, team_id, job_id)
    try:
        with consent.acting(consent.Source(consent.IMPORT, job_id)):
            Importer(db, job, progress=progress).run(records(job.format, stream))
    except (tabular.Unreadable, RosterError) as exc:
        message = exc.message if isinstance(exc, RosterError) else str(exc)
        db.run_write(set_state, job_id, "failed", message)
    except BaseException:
        db.run_write(set_state, job_id, "failed", STOPPED)
        raise
    return db.run_read(get_job, team_id, job_id)
