"""SendX request and response bodies: camelCase, ISO 8601 times, prefixed IDs."""

from __future__ import annotations

from msgspec import UNSET, Struct, UnsetType, field


class Request(Struct, forbid_unknown_fields=True):
    pass


class ListIn(Request, rename="camel"):
    name: str | UnsetType = UNSET
    type: int | UnsetType = UNSET
    public_form: bool | UnsetType = UNSET  # extension: takes sign-ups at /subscribe/{id}


class ListOut(Struct, rename="camel"):
    id: str
    name: str
    type: int
    created: str
    updated: str
    pending_count: int  # extension: members of a double opt-in list yet to confirm
    public_form: bool  # extension


class SignupForm(Struct):
    url: str
    html: str


class ConfirmationIn(Request, rename="camel"):
    subject: str | UnsetType | None = UNSET
    html_code: str | UnsetType | None = UNSET
    sender: str | UnsetType | None = UNSET


class ConfirmationOut(Struct, rename="camel"):
    subject: str
    html_code: str
    sender: str | None
    custom: bool


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
    pending_lists: list[str] = field(default_factory=list)  # extension: lists not confirmed yet


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


class SenderIn(Request):
    name: str
    email: str


class SenderOut(Struct, rename="camel"):
    id: str
    name: str
    email: str
    is_whitelisted: bool


class TemplateIn(Request, rename="camel"):
    name: str | UnsetType = UNSET
    subject: str | UnsetType = UNSET
    html_content: str | UnsetType | None = UNSET
    text_content: str | UnsetType | None = UNSET
    preheader: str | UnsetType | None = UNSET
    tags: list[str] | UnsetType | None = UNSET


class TemplateOut(Struct, rename="camel"):
    id: str
    name: str
    subject: str
    html_code: str | None
    text_content: str | None
    preheader: str | None
    tags: list[str]
    type: int
    created: str
    updated: str


class CampaignIn(Request, rename="camel"):
    name: str
    subject: str
    sender: str
    html_code: str
    preview_text: str | None = None
    plain_text: str | None = None
    schedule_type: int | None = None
    schedule_condition: str | None = None
    time_condition: str | None = None
    timezone: str | None = None
    preferred_timezone: str | None = None
    preferred_time_condition: str | None = None
    send_in_contacts_timezone: bool | None = None
    smart_send: bool | None = None
    included_segments: list[str] | None = None
    included_lists: list[str] | None = None
    included_tags: list[str] | None = None
    excluded_segments: list[str] | None = None
    excluded_lists: list[str] | None = None
    excluded_tags: list[str] | None = None
    reply_to: str | None = None
    tracking: bool | None = None


class CampaignTestIn(Request, rename="camel"):
    emails: list[str]


class TestDelivery(Struct):
    email: str
    accepted: bool
    reply: str


class CampaignTestOut(Struct):
    status: str
    message: str
    data: list[TestDelivery]


class CampaignOut(Struct, rename="camel"):
    id: str
    name: str
    subject: str
    preheader: str | None
    sender: str
    html_content: str
    text_content: str | None
    schedule_type: int
    schedule_condition: str
    time_condition: str | None
    timezone: str | None
    smart_send: bool
    send_in_contacts_timezone: bool
    preferred_time_condition: str | None
    preferred_timezone: str | None
    status: str
    included_segments: list[str]
    included_lists: list[str]
    included_tags: list[str]
    excluded_segments: list[str]
    excluded_lists: list[str]
    excluded_tags: list[str]
    created: str
    updated: str
    reply_to: str | None
    status_reason: str | None
    sent_at: str | None
    tracking: bool


class EventOut(Struct, rename="camel"):
    id: str
    type: str
    name: str
    campaign_id: str | None
    data: dict[str, object] | None
    amount: float | None
    occurred: str
    created: str


class InboundOut(Struct, rename="camel"):
    id: str
    state: str
    kind: str | None
    reason: str | None
    campaign_id: str | None
    contact_id: str | None
    duplicate: bool


class ConsentOut(Struct, rename="camel"):
    id: str
    at: str
    change: str
    list_id: str | None
    topic_id: str | None
    source: str
    source_id: str | None
    detail: str | None


class ErasureIn(Request):
    confirm: bool | None = None


class SuppressionIn(Request):
    emails: list[str]


class SuppressionOut(Struct, rename="camel"):
    email: str | None  # None for a person who was erased: only a hash of the address is kept
    reason: str
    source: str
    source_id: str | None
    created: str


class LinkStat(Struct):
    url: str
    count: int


class ReportOut(Struct, rename="camel"):
    campaign_id: str
    status: str
    recipient_count: int
    link_stats: list[LinkStat]
    sent_contact_count: int
    opened_contact_count: int
    opened_unique_contact_count: int
    clicked_contact_count: int
    clicked_unique_contact_count: int
    unsubscribe_contact_count: int
    bounce_contact_count: int
    soft_bounce_contact_count: int
    spam_contact_count: int
    failed_contact_count: int
    skipped_contact_count: int


class SegmentIn(Request):
    name: str | UnsetType = UNSET
    rules: dict[str, object] | UnsetType = UNSET


class SegmentOut(Struct):
    id: str
    name: str
    rules: dict[str, object]
    created: str
    updated: str


class SegmentCount(Struct):
    id: str
    count: int


class MemberOut(Struct, rename="camel"):
    id: str
    email: str
    user_name: str
    full_name: str
    avatar_url: str | None
    created: str
    updated: str


class WebhookIn(Request, rename="camel"):
    url: str | UnsetType = UNSET
    enabled: bool | UnsetType = UNSET
    contact_created: bool | UnsetType = UNSET
    unsubscribed: bool | UnsetType = UNSET
    bounced: bool | UnsetType = UNSET
    marked_spam: bool | UnsetType = UNSET
    dropped: bool | UnsetType = UNSET
    opened: bool | UnsetType = UNSET
    clicked: bool | UnsetType = UNSET


class WebhookOut(Struct, rename="camel"):
    id: str
    url: str
    enabled: bool
    contact_created: bool
    unsubscribed: bool
    bounced: bool
    marked_spam: bool
    dropped: bool
    opened: bool
    clicked: bool
    disabled_reason: str | None
    created: str
    updated: str
    secret: str | UnsetType = UNSET  # shown once, in the answer to the create
