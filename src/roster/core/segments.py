"""Segments: saved rule trees over a team's contacts, evaluated live as one SQL query.

A rule is one JSON object (the grammar, with examples, is in docs/segments.md)::

    {"all": [rule, …]}   {"any": [rule, …]}   {"not": rule}
    {"field": "email" | "firstName" | "lastName" | "company", "op": TEXT_OP, "value": "…"}
    {"field": "created" | "updated", "op": COMPARE_OP, "value": "2025-01-31" or an ISO time}
    {"field": "ltv", "op": COMPARE_OP, "value": 1250}
    {"field": "unsubscribed" | "bounced" | "spam" | "blocked" | "dropped", "op": "is", "value": true}
    {"customField": "field_…", "op": …, "value": …}   the ops of the field's type
    {"tag": "tag_…"}   {"list": "list_…"} (optionally "subscribed": bool)   {"topic": "topic_…"}
    (a tag or list may be named by its name when the rule is saved; it is kept by ID)

``compile_rule`` checks a tree against the team's tags, lists, topics and fields and
turns it into a SQLAlchemy expression over ``contacts``. User values only ever become
bound parameters, never SQL text.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import (
    Boolean,
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
    true,
    update,
)

from roster.core import search
from roster.core.clock import now
from roster.core.custom_fields import FieldType
from roster.core.errors import Invalid
from roster.core.guards import require_untargeted
from roster.core.named import clean_name, get_owned, require_unique_name, search_page
from roster.core.topics import AUTO
from roster.ids import new_id
from roster.storage.db import Record
from roster.storage.tables import (
    audiences,
    campaign_targets,
    contact_tags,
    contact_values,
    contacts,
    custom_fields,
    memberships,
    segments,
    tags,
    topic_choices,
    topics,
)

MAX_DEPTH = 8
MAX_CONDITIONS = 100
MAX_TEXT = 255

TEXT_OPS = ("equals", "contains", "startsWith", "endsWith")
COMPARE_OPS = ("eq", "neq", "gt", "gte", "lt", "lte")
TEXT_FIELDS = {  # each one's column, which its place in search_text is named by
    "email": "email_normalized",
    "firstName": "first_name",
    "lastName": "last_name",
    "company": "company",
}
TIME_FIELDS = {"created": contacts.c.created_at, "updated": contacts.c.updated_at}
FLAG_FIELDS = {
    "unsubscribed": contacts.c.unsubscribed,
    "bounced": contacts.c.bounced,
    "spam": contacts.c.spam,
    "blocked": contacts.c.blocked,
    "dropped": contacts.c.dropped,
}
FIELDS = (*TEXT_FIELDS, *TIME_FIELDS, "ltv", *FLAG_FIELDS)


class _Compiler:
    """``strict``: a tag, list, topic or field the rule names must exist (when a rule is
    saved). Otherwise (when a saved rule is evaluated) one deleted since matches no one."""

    def __init__(self, conn: Connection, team_id: str, *, strict: bool) -> None:
        self.conn = conn
        self.team_id = team_id
        self.strict = strict
        self.conditions = 0

    def rule(self, rule: Any, path: str, depth: int) -> ColumnElement[bool]:
        if depth > MAX_DEPTH:
            raise Invalid(path, f"rules nest at most {MAX_DEPTH} deep")
        if not isinstance(rule, dict) or not rule:
            raise Invalid(path, "each rule must be a JSON object")
        for group, combine in (("all", and_), ("any", or_)):
            if group in rule:
                self._only(rule, {group}, path)
                items = rule[group]
                if not isinstance(items, list) or not items:
                    raise Invalid(f"{path}.{group}", "must be a non-empty array of rules")
                return combine(
                    *(self.rule(item, f"{path}.{group}[{i}]", depth + 1) for i, item in enumerate(items))
                )
        if "not" in rule:
            self._only(rule, {"not"}, path)
            return not_(self.rule(rule["not"], f"{path}.not", depth + 1))
        self.conditions += 1
        if self.conditions > MAX_CONDITIONS:
            raise Invalid("rules", f"at most {MAX_CONDITIONS} conditions")
        for key, build in self._leaves().items():
            if key in rule:
                return build(rule, path)
        raise Invalid(path, "a rule needs one of all, any, not, field, customField, tag, list or topic")

    def _leaves(self) -> dict[str, Callable[[dict[str, Any], str], ColumnElement[bool]]]:
        return {
            "field": self.field,
            "customField": self.custom_field,
            "tag": self.tag,
            "list": self.list_,
            "topic": self.topic,
        }

    @staticmethod
    def _only(rule: Mapping[str, Any], allowed: set[str], path: str) -> None:
        extra = sorted(set(rule) - allowed)
        if extra:
            raise Invalid(path, f"unexpected key `{extra[0]}`")

    @staticmethod
    def _op(rule: Mapping[str, Any], ops: tuple[str, ...], path: str) -> str:
        op = rule.get("op")
        if op not in ops:
            raise Invalid(f"{path}.op", f"must be one of {', '.join(ops)}")
        return str(op)

    def field(self, rule: dict[str, Any], path: str) -> ColumnElement[bool]:
        self._only(rule, {"field", "op", "value"}, path)
        name = rule["field"]
        value = rule.get("value")
        if name in TEXT_FIELDS:
            op = self._op(rule, TEXT_OPS, path)
            return search.holds(_checked_text(value, path), TEXT_FIELDS[name], op)
        if name in TIME_FIELDS:
            return _moment(TIME_FIELDS[name], self._op(rule, COMPARE_OPS, path), value, path)
        if name == "ltv":
            return _compare(contacts.c.ltv, self._op(rule, COMPARE_OPS, path), _number(value, path))
        if name in FLAG_FIELDS:
            self._op(rule, ("is",), path)
            return FLAG_FIELDS[name] == _flag(value, f"{path}.value")
        raise Invalid(f"{path}.field", f"must be one of {', '.join(FIELDS)}")

    def custom_field(self, rule: dict[str, Any], path: str) -> ColumnElement[bool]:
        self._only(rule, {"customField", "op", "value"}, path)
        named = rule["customField"]
        field_id = named.removeprefix("custom_") if isinstance(named, str) else named
        found = self._find(custom_fields, "custom field", field_id, f"{path}.customField")
        if found is None:
            return false()
        kind = FieldType(found.field_type)
        value = rule.get("value")
        if self._op(rule, (*TEXT_OPS, *COMPARE_OPS, "is", "exists"), path) == "exists":
            condition: ColumnElement[bool] = true()
        elif kind in (FieldType.TEXT, FieldType.PHONE):
            op = self._op(rule, TEXT_OPS, path)
            condition = search.folded_like(contact_values.c.folded, _checked_text(value, path), op)
        elif kind is FieldType.NUMBER:
            condition = _compare(
                contact_values.c.number, self._op(rule, COMPARE_OPS, path), _number(value, path)
            )
        elif kind is FieldType.DATE:
            condition = _compare(contact_values.c.day, self._op(rule, COMPARE_OPS, path), _day(value, path))
        else:
            self._op(rule, ("is",), path)
            condition = contact_values.c.flag == _flag(value, f"{path}.value")
        return exists().where(
            contact_values.c.contact_id == contacts.c.id, contact_values.c.field_id == field_id, condition
        )

    def _find(self, table: Any, kind: str, object_id: Any, path: str) -> Record | None:
        """The team's row that a rule names; ``None`` for one deleted since (when not strict)."""
        if not isinstance(object_id, str):
            raise Invalid(path, f"must be a {kind} ID")
        row = self.conn.execute(
            select(table).where(table.c.team_id == self.team_id, table.c.id == object_id)
        ).first()
        if row is None and self.strict:
            raise Invalid(path, f"{kind} `{object_id}` not found")
        return row

    def _find_named(self, table: Any, kind: str, rule: dict[str, Any], path: str) -> Record | None:
        """As ``_find``, but a rule being saved may name the tag or list by its name: the name
        is replaced by the ID in the rule, so that the saved rule survives a rename."""
        named = rule[kind]
        if self.strict and isinstance(named, str) and not named.startswith(f"{kind}_"):
            # Tag names are unique in a team (case aside); list names need not be.
            by_name = (
                table.c.name_normalized == named.lower()
                if "name_normalized" in table.c
                else table.c.name == named
            )
            rows = self.conn.execute(
                select(table).where(table.c.team_id == self.team_id, by_name).limit(2)
            ).all()
            if len(rows) > 1:
                raise Invalid(path, f"more than one {kind} is named `{named}`: use its ID")
            if rows:
                rule[kind] = rows[0].id
                return rows[0]
        return self._find(table, kind, named, path)

    def tag(self, rule: dict[str, Any], path: str) -> ColumnElement[bool]:
        self._only(rule, {"tag"}, path)
        tag = self._find_named(tags, "tag", rule, f"{path}.tag")
        if tag is None:
            return false()
        return exists().where(contact_tags.c.contact_id == contacts.c.id, contact_tags.c.tag_id == tag.id)

    def list_(self, rule: dict[str, Any], path: str) -> ColumnElement[bool]:
        self._only(rule, {"list", "subscribed"}, path)
        audience = self._find_named(audiences, "list", rule, f"{path}.list")
        if audience is None:
            return false()
        condition = and_(memberships.c.contact_id == contacts.c.id, memberships.c.audience_id == audience.id)
        if "subscribed" in rule:
            condition = and_(
                condition, memberships.c.subscribed == _flag(rule["subscribed"], f"{path}.subscribed")
            )
        return exists().where(condition)

    def topic(self, rule: dict[str, Any], path: str) -> ColumnElement[bool]:
        """Subscribed to the topic: a member of its audience who chose it, or who made no
        choice when the topic's default is to include members."""
        self._only(rule, {"topic"}, path)
        topic = self._find(topics, "topic", rule["topic"], f"{path}.topic")
        if topic is None:
            return false()
        choice = (
            select(topic_choices.c.subscribed)
            .where(topic_choices.c.topic_id == topic.id, topic_choices.c.contact_id == contacts.c.id)
            .scalar_subquery()
        )
        member = exists().where(
            memberships.c.contact_id == contacts.c.id, memberships.c.audience_id == topic.audience_id
        )
        default = true() if topic.default_subscribed == AUTO else false()
        return and_(member, func.coalesce(choice, default, type_=Boolean).is_(True))


def _checked_text(value: Any, path: str) -> str:
    """A text rule's value: compared by the rule of ``roster.core.search``."""
    if not isinstance(value, str) or not value or len(value) > MAX_TEXT:
        raise Invalid(f"{path}.value", f"must be text of 1 to {MAX_TEXT} characters")
    return value


_OPERATORS = {
    "eq": operator.eq,
    "neq": operator.ne,
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
}


def _compare(column: Any, op: str, value: Any) -> ColumnElement[bool]:
    condition: ColumnElement[bool] = _OPERATORS[op](column, value)
    return condition


def _number(value: Any, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise Invalid(f"{path}.value", "must be a number")
    return value


def _flag(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise Invalid(path, "must be true or false")
    return value


def _day(value: Any, path: str) -> date:
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise Invalid(f"{path}.value", "must be a date, YYYY-MM-DD") from None


def _moment(column: Any, op: str, value: Any, path: str) -> ColumnElement[bool]:
    """A time field against a day (the whole day, in UTC) or an exact ISO 8601 time."""
    if isinstance(value, str) and len(value) == 10:
        start = datetime.combine(_day(value, path), time(), UTC)
        end = start + timedelta(days=1)
        whole_day: dict[str, ColumnElement[bool]] = {
            "eq": and_(column >= start, column < end),
            "neq": or_(column < start, column >= end),
            "gt": column >= end,
            "gte": column >= start,
            "lt": column < start,
            "lte": column < end,
        }
        return whole_day[op]
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise Invalid(f"{path}.value", "must be a date (YYYY-MM-DD) or an ISO 8601 time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return _compare(column, op, moment)


def compile_rule(conn: Connection, team_id: str, rule: Any, *, strict: bool = True) -> ColumnElement[bool]:
    """The rule tree as a condition on ``contacts`` (``Invalid`` names the bad part)."""
    return _Compiler(conn, team_id, strict=strict).rule(rule, "rules", 0)


def create_segment(conn: Connection, team_id: str, fields: Mapping[str, Any]) -> Record:
    for required in ("name", "rules"):
        if required not in fields:
            raise Invalid(required, "is required")
    name = clean_name(fields["name"])
    compile_rule(conn, team_id, fields["rules"])
    normalized = require_unique_name(conn, segments, "segment", team_id, name)
    segment_id = new_id("segment")
    stamp = now()
    conn.execute(
        insert(segments).values(
            id=segment_id,
            team_id=team_id,
            name=name,
            name_normalized=normalized,
            rules=fields["rules"],
            created_at=stamp,
            updated_at=stamp,
        )
    )
    return get_segment(conn, team_id, segment_id)


def get_segment(conn: Connection, team_id: str, segment_id: str) -> Record:
    return get_owned(conn, segments, "segment", team_id, segment_id)


def page_segments(conn: Connection, team_id: str, offset: int, limit: int, text: str | None) -> list[Record]:
    query = select(segments).where(segments.c.team_id == team_id)
    return search_page(conn, query, segments, offset, limit, text)


def update_segment(conn: Connection, team_id: str, segment_id: str, fields: Mapping[str, Any]) -> Record:
    get_segment(conn, team_id, segment_id)
    values: dict[str, Any] = {}
    if "name" in fields:
        values["name"] = clean_name(fields["name"])
        values["name_normalized"] = require_unique_name(
            conn, segments, "segment", team_id, values["name"], keep=segment_id
        )
    if "rules" in fields:
        compile_rule(conn, team_id, fields["rules"])
        values["rules"] = fields["rules"]
    conn.execute(update(segments).where(segments.c.id == segment_id).values(updated_at=now(), **values))
    return get_segment(conn, team_id, segment_id)


def delete_segment(conn: Connection, team_id: str, segment_id: str) -> None:
    get_segment(conn, team_id, segment_id)
    require_untargeted(conn, campaign_targets.c.segment_id, segment_id, "segment")
    conn.execute(delete(segments).where(segments.c.team_id == team_id, segments.c.id == segment_id))


def segment_condition(conn: Connection, team_id: str, segment_id: str) -> ColumnElement[bool]:
    """The segment's contacts as a condition on ``contacts``; ``NotFound`` for another team's."""
    segment = get_segment(conn, team_id, segment_id)
    return and_(contacts.c.team_id == team_id, compile_rule(conn, team_id, segment.rules, strict=False))


def page_contacts(conn: Connection, team_id: str, segment_id: str, offset: int, limit: int) -> list[str]:
    """One page of the IDs of the segment's contacts, oldest first."""
    query = (
        select(contacts.c.id)
        .where(segment_condition(conn, team_id, segment_id))
        .order_by(contacts.c.id)
        .offset(offset)
        .limit(limit)
    )
    return list(conn.execute(query).scalars())


def count_contacts(conn: Connection, team_id: str, segment_id: str) -> int:
    query = select(func.count()).select_from(contacts).where(segment_condition(conn, team_id, segment_id))
    return int(conn.execute(query).scalar_one())
