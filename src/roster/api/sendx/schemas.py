"""SendX request and response bodies: camelCase, ISO 8601 times, prefixed IDs."""

from __future__ import annotations

from msgspec import UNSET, Struct, UnsetType


class Request(Struct, forbid_unknown_fields=True):
    pass


class ListIn(Request):
    name: str | UnsetType = UNSET
    type: int | UnsetType = UNSET


class ListOut(Struct):
    id: str
    name: str
    type: int
    created: str
    updated: str


class TagIn(Request):
    name: str


class TagOut(Struct):
    id: str
    name: str
    created: str
    updated: str


class CustomFieldIn(Request):
    name: str | UnsetType = UNSET
    type: int | UnsetType = UNSET
    description: str | UnsetType | None = UNSET


class CustomFieldOut(Struct):
    id: str
    name: str
    type: int
    description: str | None


class Deleted(Struct):
    status: str
    message: str
