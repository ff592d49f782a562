"""Reading what comes back by mail: bounces (RFC 3464 delivery status notifications and the
common non-standard formats, through flufl.bounce, Mailman's detectors), complaints (RFC
5965 abuse reports, ARF) and Amazon SES's bounce and complaint notifications.

Each becomes a ``Feedback``: hard bounce, soft bounce (a delay or a temporary failure) or
complaint, and the recipient it is about, found through what every campaign message carries
and reports quote back: the ``X-Roster-Recipient`` header (``campaign_…/contact_…``), or
the ``Message-ID``, which holds the same two IDs. What cannot be read raises ``Unreadable``
with the reason.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from email import message_from_bytes
from email.message import Message
from email.policy import compat32
from typing import Any

from flufl.bounce import all_failures

HARD, SOFT, COMPLAINT = "hard", "soft", "complaint"
_ID = rb"[0-9A-Za-z]{22}"
_TAG = re.compile(
    rb"(?im)^X-Roster-Recipient:\s*(campaign_" + _ID + rb")/(contact_" + _ID + rb")"
)  # maybe folded
_MESSAGE_ID = re.compile(rb"<[0-9a-f]+\.(campaign_" + _ID + rb")\.(contact_" + _ID + rb")@")
_FIELD = re.compile(r"(?im)^([A-Za-z-]+):[ \t]*(.*)$")


class Unreadable(Exception):
    """Not a bounce or complaint that can be read; the reason."""


@dataclass(frozen=True, slots=True)
class Feedback:
    kind: str  # HARD, SOFT or COMPLAINT
    campaign_id: str | None  # None when nothing in the report names a recipient
    contact_id: str | None
    addresses: tuple[str, ...]  # the failed or complaining addresses the report gives
    detail: str


def _recipient(texts: list[bytes]) -> tuple[str | None, str | None]:
    for pattern in (_TAG, _MESSAGE_ID):
        for text in texts:
            found = pattern.search(text)
            if found:
                return found.group(1).decode(), found.group(2).decode()
    return None, None


def _texts(raw: bytes, message: Message) -> list[bytes]:
    """The message as received and each decoded part: a quoted original may be encoded."""
    texts = [raw]
    for part in message.walk():
        if not part.is_multipart():
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes) and payload:
                texts.append(payload)
    return texts


def _fields(part: Message) -> dict[str, str]:
    """The ``Name: value`` fields of a report part (a feedback report, a delivery status),
    however the parser held it: as text, or as a list of header blocks."""
    payload = part.get_payload()
    if isinstance(payload, list):
        text = "\n".join(str(block) for block in payload)
    else:
        decoded = part.get_payload(decode=True)
        text = decoded.decode("utf-8", "replace") if isinstance(decoded, bytes) else str(payload)
    fields: dict[str, str] = {}
    for name, value in _FIELD.findall(text):
        fields.setdefault(name.lower(), value.strip())
    return fields


def _part(message: Message, content_type: str) -> Message | None:
    return next((part for part in message.walk() if part.get_content_type() == content_type), None)


def read(raw: bytes) -> Feedback:
    """The bounce or complaint ``raw`` reports; ``Unreadable`` if it is neither."""
    if not raw.strip():
        raise Unreadable("the message is empty")
    message = message_from_bytes(raw, policy=compat32)
    if not message.keys():
        raise Unreadable("it is not a mail message (no headers)")
    campaign_id, contact_id = _recipient(_texts(raw, message))
    report = _part(message, "message/feedback-report")
    if report is not None:
        fields = _fields(report)
        address = fields.get("original-rcpt-to", "")
        detail = f"complaint: {fields.get('feedback-type', 'abuse')}"
        return Feedback(COMPLAINT, campaign_id, contact_id, (address,) if address else (), detail)
    try:
        temporary, permanent = all_failures(message)
    except Exception as exc:  # a detector that trips on a malformed message
        raise Unreadable(f"the bounce detectors failed on it: {type(exc).__name__}: {exc}") from None
    if not temporary and not permanent:
        raise Unreadable("no bounce or complaint found in it")
    status = _part(message, "message/delivery-status")
    fields = _fields(status) if status is not None else {}
    detail = " ".join(filter(None, (fields.get("status"), fields.get("diagnostic-code")))) or (
        "permanent failure" if permanent else "temporary failure"
    )
    addresses = tuple(sorted(address.decode("utf-8", "replace") for address in permanent or temporary))
    return Feedback(HARD if permanent else SOFT, campaign_id, contact_id, addresses, detail[:500])


def read_ses(notification: dict[str, Any]) -> Feedback:
    """An Amazon SES bounce or complaint notification (the ``Message`` of an SNS one)."""
    kind = notification.get("notificationType") or notification.get("eventType")
    mail = notification.get("mail")
    if not isinstance(mail, dict):
        raise Unreadable("the SES notification has no mail object")
    headers = [
        f"{h.get('name')}: {h.get('value')}".encode()
        for h in mail.get("headers") or []
        if isinstance(h, dict)
    ]
    common = mail.get("commonHeaders")
    message_id = common.get("messageId", "") if isinstance(common, dict) else ""
    texts = [*headers, str(message_id).encode()]
    campaign_id, contact_id = _recipient(texts)
    if kind == "Bounce":
        bounce = notification.get("bounce") or {}
        people = bounce.get("bouncedRecipients") or []
        hard = bounce.get("bounceType") == "Permanent"
        first = people[0] if people and isinstance(people[0], dict) else {}
        detail = " ".join(
            str(part)
            for part in (bounce.get("bounceType"), bounce.get("bounceSubType"), first.get("diagnosticCode"))
            if part
        )
        addresses = tuple(str(p.get("emailAddress")) for p in people if isinstance(p, dict))
        return Feedback(HARD if hard else SOFT, campaign_id, contact_id, addresses, detail[:500])
    if kind == "Complaint":
        complaint = notification.get("complaint") or {}
        people = complaint.get("complainedRecipients") or []
        addresses = tuple(str(p.get("emailAddress")) for p in people if isinstance(p, dict))
        detail = f"complaint: {complaint.get('complaintFeedbackType') or 'abuse'}"
        return Feedback(COMPLAINT, campaign_id, contact_id, addresses, detail)
    raise Unreadable(f"an SES notification of type {kind!r}, not a bounce or complaint")


def parse_json(text: str | bytes) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        raise Unreadable("it is not JSON") from None
    if not isinstance(value, dict):
        raise Unreadable("it is not a JSON object")
    return value
