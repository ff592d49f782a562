"""Audiences v1 bodies: camelCase, ISO 8601 times, page-based lists."""

from __future__ import annotations

from msgspec import UNSET, Struct, UnsetType


class Request(Struct, forbid_unknown_fields=True, rename="camel"):
    pass


class AudienceCreate(Request):
    name: str
    description: str | UnsetType | None = UNSET
    double_opt_in: bool | UnsetType = UNSET  # extension: new members confirm by mail


class AudienceUpdate(Request):
    name: str | UnsetType = UNSET
    description: str | UnsetType | None = UNSET
    double_opt_in: bool | UnsetType = UNSET


class Audience(Struct, rename="camel"):
    id: str
    name: str
    description: str | None
    organization_id: str
    contact_count: int
    created_at: str
    updated_at: str
    double_opt_in: bool  # extension
    pending_count: int  # extension: members yet to confirm


class AudiencePage(Struct, rename="camel"):
    data: list[Audience]
    total: int
    page: int
    limit: int
    total_pages: int


class ContactIds(Request):
    contact_ids: list[str]


class Membership(Struct, rename="camel"):
    id: str
    contact_count: int


class ContactCreate(Request):
    email: str
    first_name: str | UnsetType | None = UNSET
    last_name: str | UnsetType | None = UNSET
    phone: str | UnsetType | None = UNSET


class ContactUpdate(Request):
    email: str | UnsetType = UNSET
    first_name: str | UnsetType | None = UNSET
    last_name: str | UnsetType | None = UNSET
    phone: str | UnsetType | None = UNSET


class Contact(Struct, rename="camel"):
    id: str
    email: str
    first_name: str | None
    last_name: str | None
    phone: str | None
    organization_id: str
    created_at: str
    updated_at: str


class ContactPage(Struct, rename="camel"):
    data: list[Contact]
    total: int
    page: int
    limit: int
    total_pages: int


class Success(Struct):
    success: bool = True
