"""A contact's custom field values, checked and typed by the field's type."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from roster.core.custom_fields import FieldType
from roster.core.errors import Invalid

MAX_TEXT = 255
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_PHONE = re.compile(r"^\+?[0-9][0-9 ().\-]{5,25}$")


@dataclass(frozen=True, slots=True)
class Value:
    """The canonical text shown back, and the value typed for filtering."""

    text: str
    number: float | None = None
    day: date | None = None
    flag: bool | None = None


def parse(field_type: int, raw: Any, label: str) -> Value:
    """Check ``raw`` against the field's type; ``Invalid`` names ``label`` if it does not fit."""
    if isinstance(raw, bool):
        text = "true" if raw else "false"
    elif isinstance(raw, int | float):
        text = repr(raw) if isinstance(raw, float) else str(raw)
    elif isinstance(raw, str):
        text = raw.strip()
    else:
        raise Invalid(label, "must be a string, number or boolean")
    if field_type == FieldType.TEXT:
        if len(text) > MAX_TEXT:
            raise Invalid(label, f"must be at most {MAX_TEXT} characters")
        return Value(text)
    if field_type == FieldType.NUMBER:
        if not _NUMBER.match(text):
            raise Invalid(label, f"`{text}` is not a number")
        number = float(text)
        return Value(
            str(int(number)) if number.is_integer() and "e" not in text.lower() else text, number=number
        )
    if field_type == FieldType.DATE:
        try:
            day = date.fromisoformat(text) if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text) else None
        except ValueError:
            day = None
        if day is None:
            raise Invalid(label, f"`{text}` is not a date in the form YYYY-MM-DD")
        return Value(day.isoformat(), day=day)
    if field_type == FieldType.BOOLEAN:
        lowered = text.lower()
        if lowered not in ("true", "false"):
            raise Invalid(label, f"`{text}` is not true or false")
        return Value(lowered, flag=lowered == "true")
    if not _PHONE.match(text) or not 7 <= sum(char.isdigit() for char in text) <= 15:
        raise Invalid(label, f"`{text}` is not a phone number in international format")
    digits = "".join(char for char in text if char.isdigit())
    return Value(("+" if text.startswith("+") else "") + digits)
