"""SendX request and response bodies: camelCase, ISO 8601 times, prefixed IDs."""

from __future__ import annotations

from msgspec import UNSET, Struct, UnsetType, field


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


FieldValue = str | int | float | bool


class ContactIn(Request, rename="camel"):
    email: str | UnsetType = UNSET
    first_name: str | UnsetType | None = UNSET
    last_name: str | UnsetType | None = UNSET
    company: str | UnsetType | None = UNSET
    custom_fields: dict[str, FieldValue] | UnsetType | None = UNSET
    lists: list[str] | UnsetType | None = UNSET
    tags: list[str] | UnsetType | None = UNSET
    last_tracked_ip: str | UnsetType | None = UNSET


class ContactOut(Struct, rename="camel"):
    id: str
    first_name: str | None
    last_name: str | None
    email: str
    company: str | None
    custom_fields: dict[str, str]
    lists: list[str]
    tags: list[str]
    unsubscribed: bool
    bounced: bool
    spam: bool
    blocked: bool
    dropped: bool
    created: str
    updated: str
    track_data: str
    contact_source: int
    page_source: str
    last_tracked_ip: str | None
    ltv: int
    ltv_sdk: int = field(name="LTV")  # the documented example writes `ltv`, the SDK reads `LTV`


class IdentifyIn(Request, rename="camel"):
    email: str
    first_name: str | UnsetType | None = UNSET
    last_name: str | UnsetType | None = UNSET
    company: str | UnsetType | None = UNSET
    custom_fields: dict[str, FieldValue] | UnsetType | None = UNSET
    tags: list[str] | UnsetType | None = UNSET
    lists: list[str] | UnsetType | None = UNSET
    new_email: str | UnsetType | None = UNSET


class Identified(Struct, rename="camel"):
    status: str
    message: str
    contact_id: str
    created: bool


class TrackIn(Request, rename="camel"):
    email: str
    add_tags: list[str] = []
    remove_tags: list[str] = []


class CustomEventIn(Request):
    identifier: str
    name: str
    data: dict[str, object] | None = None
    time: int | None = None


class RevenueEventIn(Request):
    identifier: str
    amount: float
    source: str | None = None
    time: int | None = None


class Message(Struct):
    status: str
    message: str
