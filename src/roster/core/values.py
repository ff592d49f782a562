"""A contact's custom field values, checked and typed by the field's type."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from typing import Any, NamedTuple

from roster.core.custom_fields import FieldType
from roster.core.errors import Invalid

MAX_TEXT = 255
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_PHONE = re.compile(r"^\+?[0-9][0-9 ().\-]{5,25}$")


class Value(NamedTuple):
    """The canonical text shown back, and the value typed for filtering. (A tuple: an
    import makes millions of them.)"""

    text: str
    number: float | None = None
    day: date | None = None
    flag: bool | None = None


def _as_text(raw: Any, label: str) -> str:
    if isinstance(raw, str):
        return raw.strip()
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, int | float):
        return repr(raw) if isinstance(raw, float) else str(raw)
    raise Invalid(label, "must be a string, number or boolean")


def _text(text: str, label: str) -> Value:
    if len(text) > MAX_TEXT:
        raise Invalid(label, f"must be at most {MAX_TEXT} characters")
    return Value(text)


def _number(text: str, label: str) -> Value:
    if not _NUMBER.match(text):
        raise Invalid(label, f"`{text}` is not a number")
    number = float(text)
    return Value(str(int(number)) if number.is_integer() and "e" not in text.lower() else text, number)


def _date(text: str, label: str) -> Value:
    try:
        day = date.fromisoformat(text) if _DAY.fullmatch(text) else None
    except ValueError:
        day = None
    if day is None:
        raise Invalid(label, f"`{text}` is not a date in the form YYYY-MM-DD")
    return Value(day.isoformat(), day=day)


def _boolean(text: str, label: str) -> Value:
    lowered = text.lower()
    if lowered not in ("true", "false"):
        raise Invalid(label, f"`{text}` is not true or false")
    return Value(lowered, flag=lowered == "true")


def _phone(text: str, label: str) -> Value:
    if not _PHONE.match(text) or not 7 <= sum(char.isdigit() for char in text) <= 15:
        raise Invalid(label, f"`{text}` is not a phone number in international format")
    digits = "".join(char for char in text if char.isdigit())
    return Value(("+" if text.startswith("+") else "") + digits)


_BY_TYPE: dict[int, Callable[[str, str], Value]] = {
    FieldType.TEXT: _text,
    FieldType.NUMBER: _number,
    FieldType.DATE: _date,
    FieldType.BOOLEAN: _boolean,
    FieldType.PHONE: _phone,
}


def parse(field_type: int, raw: Any, label: str) -> Value:
    """Check ``raw`` against the field's type; ``Invalid`` names ``label`` if it does not fit."""
    return _BY_TYPE[field_type](_as_text(raw, label), label)
