"""Amazon SNS HTTP(S) messages, as SES's bounce and complaint notifications arrive: the
signature checked before anything else is read (signature versions 1 and 2), the signing
certificate fetched only from SNS's own hosts (and kept), and subscriptions confirmed.

A signature proves that SNS sent the message, not that it came from your topic: only the
topics named in ``ROSTER_SNS_TOPICS`` are accepted.
"""

from __future__ import annotations

import re
from base64 import b64decode
from binascii import Error as Base64Error
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import httpx
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

_SNS_HOST = re.compile(r"sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?")
_SUBSCRIPTION = ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")
_SIGNED = {  # the fields each type's signature covers, in order
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": _SUBSCRIPTION,
    "UnsubscribeConfirmation": _SUBSCRIPTION,
}
_HASHES = {"1": hashes.SHA1, "2": hashes.SHA256}


class Refused(Exception):
    """A message that is not a genuine SNS message of an accepted topic; the reason."""


def from_sns(url: str) -> str:
    """``url`` if it is an https URL on an SNS host; ``Refused`` otherwise."""
    parts = urlsplit(url)
    if (
        parts.scheme != "https"
        or not _SNS_HOST.fullmatch(parts.hostname or "")
        or parts.port not in (None, 443)
    ):
        raise Refused(f"{url[:200]!r} is not an https URL of Amazon SNS")
    return url


def download(url: str) -> bytes:
    response = httpx.get(url, timeout=10, follow_redirects=False)
    response.raise_for_status()
    return response.content


class Sns:
    """Checks SNS messages for the accepted ``topics``; ``fetch`` gets a URL's body (tests
    give their own, with their own signing certificate)."""

    def __init__(self, topics: tuple[str, ...], fetch: Callable[[str], bytes] = download) -> None:
        self.topics = topics
        self.fetch = fetch
        self._keys: dict[str, rsa.RSAPublicKey] = {}

    def _key(self, url: str) -> rsa.RSAPublicKey:
        if url not in self._keys:
            certificate = x509.load_pem_x509_certificate(self.fetch(from_sns(url)))
            key = certificate.public_key()
            if not isinstance(key, rsa.RSAPublicKey):
                raise Refused("the signing certificate's key is not RSA")
            self._keys[url] = key
        return self._keys[url]

    def verify(self, message: dict[str, Any]) -> None:
        """``Refused`` unless ``message`` is signed by SNS and comes from an accepted topic."""
        kind = message.get("Type")
        if kind not in _SIGNED:
            raise Refused(f"not an SNS message (Type {str(kind)[:40]!r})")
        if message.get("TopicArn") not in self.topics:
            raise Refused(f"topic {str(message.get('TopicArn'))[:200]!r} is not in ROSTER_SNS_TOPICS")
        algorithm = _HASHES.get(str(message.get("SignatureVersion")))
        if algorithm is None:
            raise Refused("unknown SignatureVersion")
        text = "".join(
            f"{name}\n{message[name]}\n" for name in _SIGNED[kind] if isinstance(message.get(name), str)
        )
        try:
            signature = b64decode(str(message.get("Signature", "")), validate=True)
            key = self._key(str(message.get("SigningCertURL", "")))
            key.verify(signature, text.encode(), padding.PKCS1v15(), algorithm())
        except (InvalidSignature, Base64Error, ValueError):
            raise Refused("the signature does not verify") from None
        except httpx.HTTPError as exc:
            raise Refused(f"the signing certificate could not be fetched: {exc}") from None

    def confirm(self, message: dict[str, Any]) -> None:
        """Confirm a verified subscription by visiting its SubscribeURL (on SNS only)."""
        try:
            self.fetch(from_sns(str(message.get("SubscribeURL", ""))))
        except httpx.HTTPError as exc:
            raise Refused(f"the subscription could not be confirmed: {exc}") from None
