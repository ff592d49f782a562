"""Composing a message: the DKIM signature OpenSSL makes is dkimpy's own, and verifies."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import dkim
import dkim.crypto

from roster.core.dkim import new_key_pair
from roster.mail import compose


def test_the_openssl_signature_is_the_one_dkimpy_makes_and_verifies() -> None:
    key = new_key_pair(datetime.now(UTC))
    private = dkim.crypto.parse_pem_private_key(key.private_pem.encode())
    digest = hashlib.sha256(b"the headers dkimpy hashed")
    assert compose._openssl_rsa_sign(digest, private) == dkim.crypto.RSASSA_PKCS1_v1_5_sign(digest, private)

    templates = compose.compile_templates("Hej {{ contact.firstName }}", "<p>Hej</p>", None, None)
    rendered = compose.render(templates, compose.context({"firstName": "Åsa"}, {}, {}, "https://x.test/u"))
    headers = compose.Headers(
        "News", "news@example.com", "Åsa", "asa@example.net", None, "https://x.test/u", "News",
        "list_1.example.com", "c:t:roster", "campaign_1/contact_1",
    )  # fmt: skip
    signer = compose.Signer("example.com", key.selector, key.private_pem.encode())
    envelope = compose.message(rendered, headers, datetime.now(UTC), signer=signer)
    record = f"v=DKIM1; k=rsa; p={key.public_base64}".encode()
    assert dkim.verify(envelope.data, dnsfunc=lambda name, timeout=5: record)
