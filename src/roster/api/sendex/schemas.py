"""Sendex request and response bodies: snake_case, ISO 8601 times."""

from __future__ import annotations

from typing import Literal

from msgspec import UNSET, Struct, UnsetType


class Request(Struct, forbid_unknown_fields=True):
    pass


class AudienceCreate(Request):
    name: str
    domain: str
    double_opt_in: bool = False  # extension: new members confirm by mail (docs/consent.md)


class Audience(Struct):
    id: str
    name: str
    domain: str | None  # None for a list made through another dialect
    contact_count: int
    created_at: str
    double_opt_in: bool  # extension
    pending_count: int  # extension: members yet to confirm


class AudienceList(Struct):
    data: list[Audience]
    total: int


class Deleted(Struct):
    id: str


class ContactCreate(Request):
    email: str
    first_name: str | UnsetType | None = UNSET
    last_name: str | UnsetType | None = UNSET
    subscribed: bool | UnsetType = UNSET


class ContactUpdate(Request):
    first_name: str | UnsetType | None = UNSET
    last_name: str | UnsetType | None = UNSET
    subscribed: bool | UnsetType = UNSET


class Contact(Struct):
    id: str
    email: str
    first_name: str | None
    last_name: str | None
    subscribed: bool
    created_at: str
    unsubscribe_url: str
    pending: bool  # extension: in a double opt-in audience, waiting for the person to confirm


class ContactList(Struct):
    data: list[Contact]
    total: int
    limit: int
    offset: int


DefaultSubscribed = Literal["auto", "opt-in"]


class TopicCreate(Request):
    name: str
    description: str | UnsetType | None = UNSET
    default_subscribed: DefaultSubscribed | UnsetType = UNSET


class TopicUpdate(Request):
    name: str | UnsetType = UNSET
    description: str | UnsetType | None = UNSET
    default_subscribed: DefaultSubscribed | UnsetType = UNSET


class Topic(Struct):
    id: str
    name: str
    description: str | None
    default_subscribed: str
    subscriber_count: int
    created_at: str


class TopicList(Struct):
    data: list[Topic]
    total: int


class ContactTopic(Struct):
    topic_id: str
    name: str
    subscribed: bool


class ContactTopicList(Struct):
    data: list[ContactTopic]


class ConsentChange(Struct):
    id: str
    at: str
    change: str
    audience_id: str | None
    topic_id: str | None
    source: str
    source_id: str | None
    detail: str | None


class ConsentList(Struct):
    data: list[ConsentChange]


class TopicChoice(Request):
    topic_id: str
    subscribed: bool


class DomainCreate(Request):
    name: str


class DomainRecord(Struct):
    type: str
    name: str
    value: str


class Domain(Struct):
    id: str
    name: str
    status: str
    created_at: str
    records: list[DomainRecord]
    # After a verification that failed: why (no such name, no TXT record, a wrong value,
    # DNS not answering). An extension.
    status_reason: str | UnsetType = UNSET


class DomainList(Struct):
    data: list[Domain]


class ApiKeyCreate(Request):
    name: str | UnsetType = UNSET
    permission: Literal["full_access", "sending_access"] = "full_access"


class ApiKey(Struct):
    id: str
    name: str
    permission: str
    token_hint: str
    created_at: str
    revoked: bool


class ApiKeyCreated(Struct):
    id: str
    name: str
    permission: str
    token: str
    created_at: str


class ApiKeyList(Struct):
    data: list[ApiKey]
