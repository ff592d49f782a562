"""The schema, as SQLAlchemy Core tables. Rows are the entities; rules live in ``roster.core``.

Every tenant table carries ``team_id``: every query filters on it, which is both the
isolation guarantee and the shard key.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    true,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(TypeDecorator[datetime]):
    """A UTC timestamp: ``timestamptz`` on PostgreSQL, ISO text on SQLite; always aware."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# Object IDs compare byte-wise, so that ordering by ID is ordering by creation time.
ObjectId = String(40).with_variant(String(40, collation="C"), "postgresql")


def _id(**kwargs: Any) -> Column[str]:
    return Column("id", ObjectId, primary_key=True, **kwargs)


def _team() -> Column[str]:
    return Column("team_id", ObjectId, ForeignKey("teams.id", ondelete="CASCADE"), nullable=False)


# The rows that belong to one contact refer to it by team and ID together: the database then
# holds each such row to its contact's team, and checks one foreign key per write where a
# team key and a contact key would be two (foreign-key checks are most of the cost of a bulk
# import on PostgreSQL).
def _contact_team() -> Column[str]:
    return Column("team_id", ObjectId, nullable=False)


def _of_contact() -> ForeignKeyConstraint:
    return ForeignKeyConstraint(
        ["team_id", "contact_id"], ["contacts.team_id", "contacts.id"], ondelete="CASCADE"
    )


def _created() -> Column[datetime]:
    return Column("created_at", UTCDateTime, nullable=False)


def _updated() -> Column[datetime]:
    return Column("updated_at", UTCDateTime, nullable=False)


instance_settings = Table(
    "instance_settings",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

teams = Table(
    "teams",
    metadata,
    _id(),
    Column("name", String(255), nullable=False),
    _created(),
)

api_keys = Table(
    "api_keys",
    metadata,
    _id(),
    _team(),
    Column("name", String(255), nullable=False),
    Column("permission", String(32), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("token_hint", String(8), nullable=False),
    _created(),
    Column("revoked_at", UTCDateTime),
    Index(None, "team_id"),
)

domains = Table(
    "domains",
    metadata,
    _id(),
    _team(),
    Column("name", String(253), nullable=False),
    Column("status", String(16), nullable=False),
    Column("verification_token", String(64), nullable=False),
    _created(),
    Column("verified_at", UTCDateTime),
    # The DKIM key pair mail From this domain is signed with (PEM; the public half is published).
    Column("dkim_selector", String(63)),
    Column("dkim_private_key", Text),
    Column("dkim_public_key", Text),
    UniqueConstraint("team_id", "name"),
)

audiences = Table(
    "audiences",
    metadata,
    _id(),
    _team(),
    Column("domain_id", ObjectId, ForeignKey("domains.id", ondelete="RESTRICT")),
    Column("name", String(255), nullable=False),
    Column("description", Text),
    Column("list_type", SmallInteger, nullable=False, server_default="0"),  # 1: double opt-in
    # Double opt-in: the confirmation mail's subject, HTML and sender (defaults when unset).
    Column("confirm_subject", String(255)),
    Column("confirm_html", Text),
    Column("confirm_sender_id", ObjectId),
    Column("public_form", Boolean, nullable=False, server_default=false()),  # takes sign-ups at /subscribe
    _created(),
    _updated(),
    Index(None, "team_id", "domain_id"),
)

# Indexes that only one database has.
ONLY_ON = {"ix_contacts_walk": "sqlite", "ix_contacts_search": "postgresql"}

contacts = Table(
    "contacts",
    metadata,
    _id(),
    _team(),
    Column("email", String(254), nullable=False),
    Column("email_normalized", String(254), nullable=False),
    Column("first_name", String(255)),
    Column("last_name", String(255)),
    Column("unsubscribed", Boolean, nullable=False, default=False),
    Column("company", String(255)),
    Column("bounced", Boolean, nullable=False, server_default=false()),
    Column("spam", Boolean, nullable=False, server_default=false()),
    Column("blocked", Boolean, nullable=False, server_default=false()),
    Column("dropped", Boolean, nullable=False, server_default=false()),
    Column("track_data", Text),
    Column("contact_source", SmallInteger, nullable=False, server_default="1"),
    Column("page_source", Text),
    Column("last_tracked_ip", String(45)),
    Column("phone", String(32)),
    Column("ltv", BigInteger, nullable=False, server_default="0"),
    _created(),
    _updated(),
    # What search compares: the folded names, email and company (``roster.core.search``).
    Column("search_text", Text, nullable=False),
    UniqueConstraint("team_id", "email_normalized"),
    # A walk through a team in ID order reads the text from the index alone: PostgreSQL's
    # unique index carries it, SQLite (which has no INCLUDE) has an index of its own.
    Index(None, "team_id", "id", unique=True, postgresql_include=["search_text"]),
    Index("ix_contacts_walk", "team_id", "id", "search_text").ddl_if(dialect=ONLY_ON["ix_contacts_walk"]),
    # The trigram index on PostgreSQL; SQLite's is the FTS5 table ``contacts_search``
    # (migration 0016), which a schema of SQLAlchemy tables cannot declare.
    Index(
        "ix_contacts_search",
        "search_text",
        postgresql_using="gin",
        postgresql_ops={"search_text": "gin_trgm_ops"},
    ).ddl_if(dialect=ONLY_ON["ix_contacts_search"]),
)

memberships = Table(
    "memberships",
    metadata,
    Column("audience_id", ObjectId, ForeignKey("audiences.id", ondelete="CASCADE")),
    Column("contact_id", ObjectId),
    _contact_team(),
    Column("subscribed", Boolean, nullable=False),
    _created(),
    _updated(),
    # Double opt-in (``roster.core.confirmations``): pending since, its confirmation mail due
    # (NULL: none to send) and last sent.
    Column("pending_since", UTCDateTime),
    Column("confirm_due_at", UTCDateTime),
    Column("confirm_sent_at", UTCDateTime),
    PrimaryKeyConstraint("audience_id", "contact_id"),
    _of_contact(),
    Index(None, "contact_id"),
    Index(None, "confirm_due_at"),
    Index(None, "pending_since"),
    sqlite_with_rowid=False,
)

tags = Table(
    "tags",
    metadata,
    _id(),
    _team(),
    Column("name", String(255), nullable=False),
    Column("name_normalized", String(255), nullable=False),
    _created(),
    _updated(),
    UniqueConstraint("team_id", "name_normalized"),
)

custom_fields = Table(
    "custom_fields",
    metadata,
    _id(),
    _team(),
    Column("name", String(255), nullable=False),
    Column("name_normalized", String(255), nullable=False),
    Column("field_type", SmallInteger, nullable=False),
    Column("description", Text),
    _created(),
    _updated(),
    UniqueConstraint("team_id", "name_normalized"),
)

contact_tags = Table(
    "contact_tags",
    metadata,
    Column("tag_id", ObjectId, ForeignKey("tags.id", ondelete="CASCADE")),
    Column("contact_id", ObjectId),
    _contact_team(),
    PrimaryKeyConstraint("tag_id", "contact_id"),
    _of_contact(),
    Index(None, "contact_id"),
    sqlite_with_rowid=False,
)

# A contact's value for a custom field: its canonical text, and the same value typed in
# the column of the field's type, so that segments can compare numbers and dates.
contact_values = Table(
    "contact_values",
    metadata,
    Column("field_id", ObjectId, ForeignKey("custom_fields.id", ondelete="CASCADE")),
    Column("contact_id", ObjectId),
    _contact_team(),
    Column("text", String(255), nullable=False),
    Column("folded", Text, nullable=False),  # the text folded (roster.core.search), for segments
    Column("number", Float),
    Column("day", Date),
    Column("flag", Boolean),
    PrimaryKeyConstraint("field_id", "contact_id"),
    _of_contact(),
    Index(None, "contact_id"),
    sqlite_with_rowid=False,
)

contact_events = Table(
    "contact_events",
    metadata,
    _id(),
    _contact_team(),
    Column("contact_id", ObjectId, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("name", String(255), nullable=False),
    Column("data", JSON),
    Column("amount_cents", BigInteger),
    Column("campaign_id", ObjectId),
    Column("occurred_at", UTCDateTime, nullable=False),
    _created(),
    _of_contact(),
    Index(None, "contact_id"),
)

# Consent history (``roster.core.consent``): appended in the transaction of each change of a
# person's subscription state, never changed; it goes with the contact.
consent_events = Table(
    "consent_events",
    metadata,
    _id(),
    _contact_team(),
    Column("contact_id", ObjectId, nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("change", String(16), nullable=False),
    Column("audience_id", ObjectId),
    Column("topic_id", ObjectId),
    Column("source", String(16), nullable=False),
    Column("source_id", String(64)),
    Column("detail", String(255)),
    _of_contact(),
    Index(None, "team_id", "contact_id", "at"),
)

# The suppression list (``roster.core.suppression``): a keyed hash of each address, and the
# address itself except for people who were erased.
suppressions = Table(
    "suppressions",
    metadata,
    _team(),
    Column("digest", String(64)),
    Column("email", String(254)),
    Column("reason", String(16), nullable=False),
    Column("source", String(16), nullable=False),
    Column("source_id", String(64)),
    _created(),
    PrimaryKeyConstraint("team_id", "digest"),
)

# That a person was erased, and by whom: nothing about the person.
erasures = Table(
    "erasures",
    metadata,
    _id(),
    _team(),
    Column("at", UTCDateTime, nullable=False),
    Column("source", String(16), nullable=False),
    Column("source_id", String(64)),
    Index(None, "team_id", "at"),
)

audience_counts = Table(
    "audience_counts",
    metadata,
    Column("audience_id", ObjectId, ForeignKey("audiences.id", ondelete="CASCADE")),
    Column("slot", SmallInteger),
    _team(),
    Column("members", Integer, nullable=False),
    Column("subscribed", Integer, nullable=False),
    Column("pending", Integer, nullable=False, server_default="0"),
    PrimaryKeyConstraint("audience_id", "slot"),
    sqlite_with_rowid=False,
)

team_counts = Table(
    "team_counts",
    metadata,
    Column("team_id", ObjectId, ForeignKey("teams.id", ondelete="CASCADE")),
    Column("slot", SmallInteger),
    Column("contacts", Integer, nullable=False),
    PrimaryKeyConstraint("team_id", "slot"),
    sqlite_with_rowid=False,
)

topics = Table(
    "topics",
    metadata,
    _id(),
    _team(),
    Column("audience_id", ObjectId, ForeignKey("audiences.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(255), nullable=False),
    Column("description", Text),
    Column("default_subscribed", String(16), nullable=False),
    _created(),
    _updated(),
    Index(None, "audience_id"),
)

topic_choices = Table(
    "topic_choices",
    metadata,
    Column("topic_id", ObjectId, ForeignKey("topics.id", ondelete="CASCADE")),
    Column("contact_id", ObjectId),
    _contact_team(),
    Column("subscribed", Boolean, nullable=False),
    _updated(),
    PrimaryKeyConstraint("topic_id", "contact_id"),
    _of_contact(),
    Index(None, "contact_id"),
    sqlite_with_rowid=False,
)

senders = Table(
    "senders",
    metadata,
    _id(),
    _team(),
    Column("name", String(255), nullable=False),
    Column("email", String(254), nullable=False),
    Column("email_normalized", String(254), nullable=False),
    Column("domain", String(253), nullable=False),
    _created(),
    _updated(),
    UniqueConstraint("team_id", "email_normalized"),
)

templates = Table(
    "templates",
    metadata,
    _id(),
    _team(),
    Column("name", String(255), nullable=False),
    Column("subject", String(255), nullable=False),
    Column("html_content", Text),
    Column("text_content", Text),
    Column("preheader", String(255)),
    Column("labels", JSON, nullable=False),
    _created(),
    _updated(),
    Index(None, "team_id", "id"),
)

# A segment's rule tree is stored as the JSON the user wrote; it is compiled to SQL on
# every evaluation, so membership is never stale.
segments = Table(
    "segments",
    metadata,
    _id(),
    _team(),
    Column("name", String(255), nullable=False),
    Column("name_normalized", String(255), nullable=False),
    Column("rules", JSON, nullable=False),
    _created(),
    _updated(),
    UniqueConstraint("team_id", "name_normalized"),
)

campaigns = Table(
    "campaigns",
    metadata,
    _id(),
    _team(),
    Column("name", String(255), nullable=False),
    Column("subject", String(255), nullable=False),
    Column("sender_id", ObjectId, ForeignKey("senders.id", ondelete="RESTRICT"), nullable=False),
    Column("html_code", Text, nullable=False),
    Column("plain_text", Text),
    Column("preview_text", String(255)),
    Column("status", String(16), nullable=False),
    Column("schedule_type", SmallInteger),
    Column("schedule_condition", String(64)),
    Column("scheduled_at", UTCDateTime),
    Column("time_condition", String(32)),
    Column("timezone", String(64)),
    Column("preferred_timezone", String(64)),
    Column("preferred_time_condition", String(64)),
    Column("send_in_contacts_timezone", Boolean, nullable=False, server_default=false()),
    Column("smart_send", Boolean, nullable=False, server_default=false()),
    # Sending: why the campaign is paused (or was sent to nobody), how far its recipients are
    # resolved (the last contact ID; ``resolved_at`` once all are), deliveries failed in a row.
    Column("reply_to", String(254)),
    Column("status_reason", String(500)),
    Column("resolved_through", ObjectId),
    Column("resolved_at", UTCDateTime),
    Column("failures_in_row", Integer, nullable=False, server_default="0"),
    Column("sent_at", UTCDateTime),
    Column("tracking", Boolean, nullable=False, server_default=true()),
    _created(),
    _updated(),
    Index(None, "team_id", "status"),
    Index(None, "status", "scheduled_at"),
)

# What a campaign includes or excludes: one list, tag or segment per row.
campaign_targets = Table(
    "campaign_targets",
    metadata,
    Column("campaign_id", ObjectId, ForeignKey("campaigns.id", ondelete="CASCADE")),
    Column("position", SmallInteger),
    _team(),
    Column("excluded", Boolean, nullable=False),
    Column("audience_id", ObjectId, ForeignKey("audiences.id", ondelete="CASCADE")),
    Column("tag_id", ObjectId, ForeignKey("tags.id", ondelete="CASCADE")),
    Column("segment_id", ObjectId, ForeignKey("segments.id", ondelete="CASCADE")),
    PrimaryKeyConstraint("campaign_id", "position"),
    Index(None, "audience_id"),
    Index(None, "tag_id"),
    Index(None, "segment_id"),
)

# One row per person a campaign is sent to, resolved once when sending starts. ``state``:
# queued, sent, failed or skipped. A queued row is due at ``next_attempt_at``, which a worker
# moves ahead when it claims the row (its lease) and after a failure it retries (the backoff).
# ``audience_id`` is the included list that reached the contact: its unsubscribe link's.
campaign_recipients = Table(
    "campaign_recipients",
    metadata,
    Column("campaign_id", ObjectId, ForeignKey("campaigns.id", ondelete="CASCADE")),
    Column("contact_id", ObjectId),
    _team(),
    Column("audience_id", ObjectId),
    Column("state", String(8), nullable=False),
    Column("attempts", SmallInteger, nullable=False),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("reply", String(500)),
    Column("bounced", Boolean, nullable=False, server_default=false()),
    Column("done_at", UTCDateTime),
    # Feedback: each is set once, so that a person counts once in the report's unique figures.
    Column("opened_at", UTCDateTime),
    Column("clicked_at", UTCDateTime),
    Column("soft_bounced", Boolean, nullable=False, server_default=false()),
    Column("complained", Boolean, nullable=False, server_default=false()),
    Column("unsubscribed", Boolean, nullable=False, server_default=false()),
    PrimaryKeyConstraint("campaign_id", "contact_id"),
    Index(None, "campaign_id", "state", "next_attempt_at"),
    sqlite_with_rowid=False,
)

# A campaign's report, kept as counters in the transaction of each change (``roster.core.
# campaign_counts``), split over slots like ``audience_counts``.
campaign_counts = Table(
    "campaign_counts",
    metadata,
    Column("campaign_id", ObjectId, ForeignKey("campaigns.id", ondelete="CASCADE")),
    Column("slot", SmallInteger),
    _team(),
    *(Column(name, Integer, nullable=False, server_default="0") for name in (
        "recipients", "sent", "failed", "skipped", "bounced", "soft_bounced", "opened",
        "opened_unique", "clicked", "clicked_unique", "unsubscribed", "spam",
    )),
    PrimaryKeyConstraint("campaign_id", "slot"),
    sqlite_with_rowid=False,
)  # fmt: skip

# Clicks per link of a campaign, counted as people click (scanners aside).
campaign_links = Table(
    "campaign_links",
    metadata,
    Column("campaign_id", ObjectId, ForeignKey("campaigns.id", ondelete="CASCADE")),
    Column("url", String(2048)),
    _team(),
    Column("clicks", Integer, nullable=False),
    PrimaryKeyConstraint("campaign_id", "url"),
)

# Every bounce, delay or complaint report received, whole: applied to its recipient, or kept
# aside with the reason it could not be. ``digest`` (SHA-256 of the message, or the SNS
# message ID) makes receiving one twice a no-op.
inbound_messages = Table(
    "inbound_messages",
    metadata,
    _id(),
    Column("digest", String(64), nullable=False, unique=True),
    Column("source", String(16), nullable=False),
    Column("state", String(8), nullable=False),
    Column("kind", String(16)),
    Column("reason", String(500)),
    Column("team_id", ObjectId, ForeignKey("teams.id", ondelete="CASCADE")),
    Column("campaign_id", ObjectId),
    Column("contact_id", ObjectId),
    Column("raw", LargeBinary, nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    Index(None, "state", "received_at"),
)

members = Table(
    "members",
    metadata,
    _id(),
    _team(),
    Column("email", String(254), nullable=False),
    Column("email_normalized", String(254), nullable=False),
    Column("full_name", String(255), nullable=False),
    _created(),
    _updated(),
    UniqueConstraint("team_id", "email_normalized"),
)

webhooks = Table(
    "webhooks",
    metadata,
    _id(),
    _team(),
    Column("url", String(2048), nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("secret", Text, nullable=False),  # sealed (roster.sealing): longer than the secret
    Column("contact_created", Boolean, nullable=False),
    Column("unsubscribed", Boolean, nullable=False),
    Column("bounced", Boolean, nullable=False),
    Column("marked_spam", Boolean, nullable=False),
    Column("dropped", Boolean, nullable=False),
    Column("opened", Boolean, nullable=False),
    Column("clicked", Boolean, nullable=False),
    Column("disabled_reason", String(255)),
    _created(),
    _updated(),
    Index(None, "team_id", "enabled"),
)

# The outbox: one row per event and endpoint, written in the transaction of the change
# that caused the event. ``id`` is the event's ``webhook-id``, the same on every retry.
webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", ObjectId),
    Column("webhook_id", ObjectId, ForeignKey("webhooks.id", ondelete="CASCADE")),
    _team(),
    Column("event", String(32), nullable=False),
    Column("payload", Text, nullable=False),
    Column("state", String(16), nullable=False),
    Column("attempts", SmallInteger, nullable=False),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("last_status", SmallInteger),
    Column("last_error", String(255)),
    _created(),
    Column("delivered_at", UTCDateTime),
    PrimaryKeyConstraint("id", "webhook_id"),
    Index(None, "state", "next_attempt_at"),
    Index(None, "webhook_id"),
)

# A bulk import of contacts: its options, its state and its running counts, updated in
# the transaction of every batch it commits, so that they always match what is written.
imports = Table(
    "imports",
    metadata,
    _id(),
    _team(),
    Column("audience_id", ObjectId, ForeignKey("audiences.id", ondelete="SET NULL")),
    Column("source", String(255), nullable=False),
    Column("format", String(8), nullable=False),
    Column("options", JSON, nullable=False),
    Column("state", String(16), nullable=False),
    Column("rows_read", Integer, nullable=False),
    Column("created_count", Integer, nullable=False),
    Column("updated_count", Integer, nullable=False),
    Column("skipped_count", Integer, nullable=False),
    Column("failed_count", Integer, nullable=False),
    Column("unknown_columns", JSON, nullable=False),
    Column("error", Text),
    _created(),
    _updated(),
    Column("finished_at", UTCDateTime),
    Index(None, "team_id", "id"),
)

# Every row an import refused, with its line in the file and why.
import_errors = Table(
    "import_errors",
    metadata,
    Column("import_id", ObjectId, ForeignKey("imports.id", ondelete="CASCADE")),
    Column("line", Integer),
    _team(),
    Column("email", String(320)),
    Column("reason", String(500), nullable=False),
    PrimaryKeyConstraint("import_id", "line"),
    sqlite_with_rowid=False,
)


def declared_on(dialect_name: str) -> Callable[..., bool]:
    """Alembic's ``include_object`` on a database: the objects declared here for it (not
    those of the other database), without SQLite's FTS5 table ``contacts_search`` and its
    shadow tables, which migration 0016 makes and no SQLAlchemy table can declare."""

    def declared(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
        other = ONLY_ON.get(name or "", dialect_name) != dialect_name
        return not other and not (name or "").startswith("contacts_search")

    return declared


# The answer to a POST sent with an ``Idempotency-Key``, kept 24 hours so that a retry gets the
# same answer instead of doing the work again (core/idempotency.py). ``owner`` is the SHA-256 of
# the API key's token: keys are scoped per API key. ``state``: running, then done.
idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("owner", String(64), nullable=False),
    Column("key", String(255), nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("state", String(8), nullable=False),
    Column("status", SmallInteger),
    Column("media_type", String(100)),
    Column("body", LargeBinary),
    Column("created_at", UTCDateTime, nullable=False),
    Column("locked_until", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("owner", "key"),
    Index(None, "created_at"),
)
