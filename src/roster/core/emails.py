"""Email addresses: validation and the normalized form that is a contact's identity."""

from __future__ import annotations

import re

from email_validator import EmailNotValidError, validate_email

from roster.core.errors import Invalid

MAX_LENGTH = 254

# The everyday shape of an address, a strict subset of what email-validator accepts: an
# ASCII dot-atom local part of the usual characters, ASCII labels without a double hyphen
# (no Punycode), and an alphabetic top-level domain that is not special-use. It is checked
# in about a microsecond; any other address goes through email-validator (about 30 µs),
# so the answer is always email-validator's (tests/core/test_emails.py holds the two to it).
_PLAIN = re.compile(
    r"[A-Za-z0-9_+\-]{1,64}(?:\.[A-Za-z0-9_+\-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.)+([A-Za-z]{2,63})"
)
_SPECIAL_USE = frozenset({"arpa", "invalid", "local", "localhost", "onion", "test"})


def _plain(email: str) -> bool:
    match = _PLAIN.fullmatch(email)
    return (
        match is not None
        and len(email.partition("@")[0]) <= 64
        and "--" not in email.partition("@")[2]
        and match.group(1).lower() not in _SPECIAL_USE
    )


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
    if not _plain(email):
        try:
            validate_email(email, check_deliverability=False, allow_smtputf8=True)
        except EmailNotValidError as exc:
            raise Invalid(field, f"`{email}` is not a valid email address: {exc}") from None
    return email, email.lower()
