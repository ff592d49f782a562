"""One campaign message for one person: sandboxed Jinja2 templates, a text part made from the
HTML when there is none, the headers bulk senders need, and a DKIM signature.

Templates see ``contact`` (``firstName``, ``lastName``, ``email``, ``company``, ``id`` and the
contact's custom fields by name), ``campaign`` (``id``, ``name``, ``subject``), ``sender``
(``name``, ``email``), ``unsubscribe_url`` and ``preferences_url``. A name with no value renders
empty. The HTML is autoescaped; the subject, text and preview text are not.
"""

from __future__ import annotations

import functools
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from email.charset import QP, Charset
from email.header import Header
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.policy import compat32
from email.utils import format_datetime, formataddr
from typing import Any

import dkim
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from inscriptis import get_text
from jinja2 import ChainableUndefined, Template, TemplateError, TemplateSyntaxError
from jinja2.sandbox import ImmutableSandboxedEnvironment

_html = ImmutableSandboxedEnvironment(autoescape=True, undefined=ChainableUndefined)
_text = ImmutableSandboxedEnvironment(autoescape=False, undefined=ChainableUndefined)

# Headers the DKIM signature covers (RFC 6376 §5.4.1, plus the ones receivers act on).
SIGNED = (
    b"from", b"reply-to", b"to", b"subject", b"date", b"message-id", b"mime-version",
    b"content-type", b"list-id", b"list-unsubscribe", b"list-unsubscribe-post", b"feedback-id",
)  # fmt: skip

_BODY_TAG = re.compile(r"<body\b[^>]*>", re.IGNORECASE)


class TemplateProblem(Exception):
    """A template that does not compile or render: which part, the line and the reason."""

    def __init__(self, part: str, line: int | None, reason: str) -> None:
        self.part, self.line, self.reason = part, line, reason
        where = f" at line {line}" if line else ""
        super().__init__(f"{part}{where}: {reason}")


@dataclass(frozen=True, slots=True)
class Templates:
    """A campaign's parts, compiled once per campaign and rendered once per person."""

    subject: Template
    html: Template
    text: Template | None
    preview: Template | None


def _compile(part: str, source: str, environment: ImmutableSandboxedEnvironment) -> Template:
    try:
        return environment.from_string(source)
    except TemplateSyntaxError as exc:
        raise TemplateProblem(part, exc.lineno, exc.message or "syntax error") from None


def compile_templates(subject: str, html: str, text: str | None, preview: str | None) -> Templates:
    """The compiled parts; ``TemplateProblem`` names the first that does not compile."""
    return Templates(
        _compile("subject", subject, _text),
        _compile("htmlCode", html, _html),
        _compile("plainText", text, _text) if text else None,
        _compile("previewText", preview, _text) if preview else None,
    )


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str
    html: str
    text: str


def _render(part: str, template: Template, context: Mapping[str, Any]) -> str:
    try:
        return template.render(context)
    except TemplateError as exc:
        raise TemplateProblem(part, getattr(exc, "lineno", None), str(exc)) from None
    except Exception as exc:  # a template may divide by zero or index out of range
        raise TemplateProblem(part, None, f"{type(exc).__name__}: {exc}") from None


def render(templates: Templates, context: Mapping[str, Any]) -> Rendered:
    """Every part for one person. The text part is made from the HTML when the campaign has
    none; the preview text becomes the hidden first text of the HTML."""
    subject = " ".join(_render("subject", templates.subject, context).split())
    html = _render("htmlCode", templates.html, context)
    text = _render("plainText", templates.text, context) if templates.text else get_text(html).strip()
    if templates.preview:
        preview = _render("previewText", templates.preview, context).replace("<", "&lt;")
        hidden = (
            '<div style="display:none;font-size:1px;line-height:1px;max-height:0;max-width:0;'
            f'opacity:0;overflow:hidden;mso-hide:all">{preview}</div>'
        )
        body = _BODY_TAG.search(html)
        html = html[: body.end()] + hidden + html[body.end() :] if body else hidden + html
    return Rendered(subject, html, text + "\n")


def context(
    contact: Mapping[str, Any],
    campaign: Mapping[str, Any],
    sender: Mapping[str, Any],
    unsubscribe_url: str,
) -> dict[str, Any]:
    """What a template sees; ``None`` values become empty strings."""

    def clean(values: Mapping[str, Any]) -> dict[str, Any]:
        return {key: "" if value is None else value for key, value in values.items()}

    return {
        "contact": clean(contact),
        "campaign": clean(campaign),
        "sender": clean(sender),
        "unsubscribe_url": unsubscribe_url,
        "preferences_url": unsubscribe_url,
    }


_PARTS = ("modulus", "publicExponent", "privateExponent", "prime1", "prime2", "exponent1", "exponent2")


@functools.lru_cache(maxsize=256)
def _openssl_key(n: int, e: int, d: int, p: int, q: int, dp: int, dq: int, qi: int) -> rsa.RSAPrivateKey:
    return rsa.RSAPrivateNumbers(p, q, d, dp, dq, qi, rsa.RSAPublicNumbers(e, n)).private_key()


def _openssl_rsa_sign(digest: Any, key: dict[str, int]) -> bytes:
    """dkimpy's RSA signature (RSASSA-PKCS1-v1_5 over the hashed headers), made by OpenSSL
    through cryptography: dkimpy computes it in pure Python, about 8 ms a message with a
    2048-bit key, most of what a message costs; OpenSSL takes a tenth of that. PKCS#1 v1.5
    is deterministic, so the signature is byte for byte the one dkimpy makes (tested). Roster
    signs with rsa-sha256 only."""
    assert digest.name.lower() == "sha256", "Roster signs with rsa-sha256"
    private = _openssl_key(*(key[part] for part in _PARTS), key["coefficient"])
    return private.sign(digest.digest(), padding.PKCS1v15(), Prehashed(hashes.SHA256()))


dkim.RSASSA_PKCS1_v1_5_sign = _openssl_rsa_sign


@dataclass(frozen=True, slots=True)
class Signer:
    """A domain's DKIM key."""

    domain: str
    selector: str
    private_pem: bytes

    def sign(self, message: bytes) -> bytes:
        signature: bytes = dkim.sign(
            message,
            self.selector.encode(),
            self.domain.encode(),
            self.private_pem,
            include_headers=[name for name in SIGNED if re.search(rb"(?im)^" + name + rb":", message)],
        )
        return signature + message


@dataclass(frozen=True, slots=True)
class Envelope:
    """What a transport needs: the envelope's addresses and the message as sent."""

    sender: str
    recipient: str
    message_id: str
    data: bytes


@dataclass(frozen=True, slots=True)
class Headers:
    """The per-person headers that are not the parts."""

    from_name: str
    from_email: str
    to_name: str
    to_email: str
    reply_to: str | None
    unsubscribe_url: str
    list_name: str
    list_id: str
    feedback_id: str
    recipient_tag: str


# The classic email API (email.mime, compat32): the modern one (EmailMessage) parses every
# header it is given into a structure and folds it back, four times the cost of the whole
# message here. Headers are encoded as RFC 2047 words when they are not ASCII.
_UTF8 = Charset("utf-8")
_UTF8.header_encoding = _UTF8.body_encoding = QP
_WIRE = compat32.clone(linesep="\r\n")


def _address(name: str, email: str) -> str:
    return formataddr((" ".join(name.split()), email), charset=_UTF8)


def _encoded(value: str) -> str:
    return value if value.isascii() else Header(value, _UTF8).encode()


def _part(body: str, subtype: str) -> MIMENonMultipart:
    part = MIMENonMultipart("text", subtype, charset="utf-8")
    part.set_payload(body, _UTF8)
    return part


def message(
    rendered: Rendered,
    headers: Headers,
    moment: datetime,
    *,
    signer: Signer | None = None,
    bounce_address: str | None = None,
) -> Envelope:
    """The whole message, multipart/alternative (text, then HTML), signed when ``signer``."""
    domain = headers.from_email.rpartition("@")[2]
    message_id = f"<{secrets.token_hex(12)}.{headers.recipient_tag.replace('/', '.')}@{domain}>"
    mail = MIMEMultipart("alternative")
    mail["From"] = _address(headers.from_name, headers.from_email)
    mail["To"] = _address(headers.to_name, headers.to_email)
    if headers.reply_to:
        mail["Reply-To"] = headers.reply_to
    mail["Subject"] = _encoded(rendered.subject)
    mail["Date"] = format_datetime(moment)
    mail["Message-ID"] = message_id
    mail["List-Unsubscribe"] = f"<{headers.unsubscribe_url}>"
    mail["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    mail["List-Id"] = _address(headers.list_name, headers.list_id)
    mail["Feedback-ID"] = headers.feedback_id
    mail["X-Roster-Recipient"] = headers.recipient_tag
    mail.attach(_part(rendered.text, "plain"))
    mail.attach(_part(rendered.html, "html"))
    data = mail.as_bytes(policy=_WIRE)
    if signer is not None:
        data = signer.sign(data)
    return Envelope(bounce_address or headers.from_email, headers.to_email, message_id, data)
