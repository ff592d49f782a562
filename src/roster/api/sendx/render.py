"""Core rows in SendX's shapes."""

from __future__ import annotations

from datetime import UTC, datetime

from msgspec import UNSET

from roster import sealing
from roster.api.sendx import schemas
from roster.core.campaigns import Campaign, Report
from roster.core.contacts import Profile
from roster.core.inbound import Received
from roster.storage.db import Record


def time(moment: datetime) -> str:
    """ISO 8601 in UTC to the second, as SendX writes it: ``2024-01-10T14:20:00Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def list_(row: Record) -> schemas.ListOut:
    return schemas.ListOut(
        id=row.id,
        name=row.name,
        type=row.list_type,
        created=time(row.created_at),
        updated=time(row.updated_at),
        pending_count=row.pending_count,
        public_form=row.public_form,
    )


def tag(row: Record) -> schemas.TagOut:
    return schemas.TagOut(
        id=row.id, name=row.name, created=time(row.created_at), updated=time(row.updated_at)
    )


def custom_field(row: Record) -> schemas.CustomFieldOut:
    """The field's own ID reads ``custom_field_…`` here: the SDK's model requires that prefix,
    while contacts key their values by ``field_…`` as documented. Both name the same field."""
    return schemas.CustomFieldOut(
        id=f"custom_{row.id}", name=row.name, type=row.field_type, description=row.description
    )


def field_id(identifier: str) -> str:
    """The stored ID of a custom field named as ``field_…`` or ``custom_field_…``."""
    return identifier.removeprefix("custom_") if identifier.startswith("custom_field_") else identifier


def deleted(kind: str) -> schemas.Deleted:
    return schemas.Deleted(status="success", message=f"{kind} deleted")


def contact(profile: Profile) -> schemas.ContactOut:
    row = profile.contact
    return schemas.ContactOut(
        id=row.id,
        first_name=row.first_name,
        last_name=row.last_name,
        email=row.email,
        company=row.company,
        custom_fields=profile.values,
        lists=profile.lists,
        pending_lists=profile.pending,
        tags=profile.tags,
        unsubscribed=row.unsubscribed,
        bounced=row.bounced,
        spam=row.spam,
        blocked=row.blocked,
        dropped=row.dropped,
        created=time(row.created_at),
        updated=time(row.updated_at),
        track_data=row.track_data or "",
        contact_source=row.contact_source,
        page_source=row.page_source or "",
        last_tracked_ip=row.last_tracked_ip,
        ltv=row.ltv,
        ltv_sdk=row.ltv,
    )


def message(text: str) -> schemas.Message:
    return schemas.Message(status="success", message=text)


def sender(row: Record) -> schemas.SenderOut:
    return schemas.SenderOut(id=row.id, name=row.name, email=row.email, is_whitelisted=bool(row.whitelisted))


def template(row: Record) -> schemas.TemplateOut:
    return schemas.TemplateOut(
        id=row.id,
        name=row.name,
        subject=row.subject,
        html_code=row.html_content,
        text_content=row.text_content,
        preheader=row.preheader,
        tags=list(row.labels),
        type=0,
        created=time(row.created_at),
        updated=time(row.updated_at),
    )


def campaign(view: Campaign) -> schemas.CampaignOut:
    row = view.row
    return schemas.CampaignOut(
        id=row.id,
        name=row.name,
        subject=row.subject,
        preheader=row.preview_text,
        sender=row.sender_id,
        html_content=row.html_code,
        text_content=row.plain_text,
        schedule_type=row.schedule_type if row.schedule_type is not None else 0,
        schedule_condition=row.schedule_condition or "",
        time_condition=row.time_condition,
        timezone=row.timezone,
        smart_send=row.smart_send,
        send_in_contacts_timezone=row.send_in_contacts_timezone,
        preferred_time_condition=row.preferred_time_condition,
        preferred_timezone=row.preferred_timezone,
        status=row.status,
        created=time(row.created_at),
        updated=time(row.updated_at),
        reply_to=row.reply_to,
        tracking=row.tracking,
        status_reason=row.status_reason,
        sent_at=time(row.sent_at) if row.sent_at else None,
        **view.targets,
    )


def event(row: Record) -> schemas.EventOut:
    return schemas.EventOut(
        id=row.id,
        type=row.kind,
        name=row.name,
        campaign_id=row.campaign_id,
        data=row.data,
        amount=None if row.amount_cents is None else row.amount_cents / 100,
        occurred=time(row.occurred_at),
        created=time(row.created_at),
    )


def consent(row: Record) -> schemas.ConsentOut:
    return schemas.ConsentOut(
        id=row.id,
        at=time(row.at),
        change=row.change,
        list_id=row.audience_id,
        topic_id=row.topic_id,
        source=row.source,
        source_id=row.source_id,
        detail=row.detail,
    )


def suppression_entry(row: Record) -> schemas.SuppressionOut:
    return schemas.SuppressionOut(
        email=row.email,
        reason=row.reason,
        source=row.source,
        source_id=row.source_id,
        created=time(row.created_at),
    )


def inbound(received: Received) -> schemas.InboundOut:
    return schemas.InboundOut(
        id=received.id,
        state=received.state,
        kind=received.kind,
        reason=received.reason,
        campaign_id=received.campaign_id,
        contact_id=received.contact_id,
        duplicate=received.duplicate,
    )


def report(view: Report) -> schemas.ReportOut:
    figures = view.figures
    return schemas.ReportOut(
        campaign_id=view.campaign.row.id,
        status=view.campaign.row.status,
        recipient_count=figures["recipients"],
        link_stats=[schemas.LinkStat(url, count) for url, count in view.links],
        sent_contact_count=figures["sent"],
        opened_contact_count=figures["opened"],
        opened_unique_contact_count=figures["opened_unique"],
        clicked_contact_count=figures["clicked"],
        clicked_unique_contact_count=figures["clicked_unique"],
        unsubscribe_contact_count=figures["unsubscribed"],
        bounce_contact_count=figures["bounced"],
        soft_bounce_contact_count=figures["soft_bounced"],
        spam_contact_count=figures["spam"],
        failed_contact_count=figures["failed"],
        skipped_contact_count=figures["skipped"],
    )


def segment(row: Record) -> schemas.SegmentOut:
    return schemas.SegmentOut(
        id=row.id, name=row.name, rules=row.rules, created=time(row.created_at), updated=time(row.updated_at)
    )


def member(row: Record) -> schemas.MemberOut:
    return schemas.MemberOut(
        id=row.id,
        email=row.email,
        user_name=row.email,
        full_name=row.full_name,
        avatar_url=None,
        created=time(row.created_at),
        updated=time(row.updated_at),
    )


def webhook(row: Record, *, with_secret: bool = False) -> schemas.WebhookOut:
    return schemas.WebhookOut(
        id=row.id,
        url=row.url,
        enabled=row.enabled,
        contact_created=row.contact_created,
        unsubscribed=row.unsubscribed,
        bounced=row.bounced,
        marked_spam=row.marked_spam,
        dropped=row.dropped,
        opened=row.opened,
        clicked=row.clicked,
        disabled_reason=row.disabled_reason,
        created=time(row.created_at),
        updated=time(row.updated_at),
        secret=sealing.unseal(row.secret) if with_secret else UNSET,
    )
