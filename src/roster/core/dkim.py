"""DKIM keys: one RSA key pair per sending domain, made when the domain is added.

The private key (PEM) stays in the database and is never shown; the public key is published
as ``<selector>._domainkey.<domain>`` TXT. Selectors carry the month the key was made
(``roster202612``), so that a later key can be published beside the old one.
"""

from __future__ import annotations

from base64 import b64encode
from dataclasses import dataclass
from datetime import datetime

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

KEY_BITS = 2048


@dataclass(frozen=True, slots=True)
class KeyPair:
    selector: str
    private_pem: str
    public_base64: str


def new_key_pair(moment: datetime) -> KeyPair:
    key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return KeyPair(f"roster{moment:%Y%m}", private.decode(), b64encode(public).decode())
