"""Email addresses: validation and the normalized form that is a contact's identity."""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email

from roster.core.errors import Invalid

MAX_LENGTH = 254


def clean_email(raw: str, field: str = "email") -> tuple[str, str]:
    """Return ``(email, normalized)`` or raise ``Invalid``.

    ``email`` is the address as given, trimmed; ``normalized`` is its lower-cased form,
    unique within a team.
    """
    email = raw.strip()
    if not email:
        raise Invalid(field, "is required")
    if len(email) > MAX_LENGTH:
        raise Invalid(field, f"must be at most {MAX_LENGTH} characters")
    try:
        validate_email(email, check_deliverability=False, allow_smtputf8=True)
    except EmailNotValidError as exc:
        raise Invalid(field, f"`{email}` is not a valid email address: {exc}") from None
    return email, email.lower()
