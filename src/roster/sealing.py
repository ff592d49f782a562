"""Secrets kept in the database, sealed: webhook signing secrets, DKIM private keys and the
instance's own secrets are stored encrypted, so that a copy of the database (a dump, a
backup, a stolen disk) holds no usable secret.

Sealing is Fernet (AES-128-CBC with HMAC-SHA256, from ``cryptography``) under a key derived
(HKDF-SHA256) from key material kept outside the database: ``ROSTER_SECRET_KEY`` when it is
set, otherwise a key file (``ROSTER_KEY_FILE``) that the first start creates, readable by its
owner only. A sealed value is ``sealed:`` and the Fernet token. ``ROSTER_PREVIOUS_SECRET_KEY``
and the key file's later lines are older keys that still open what they sealed;
``roster secrets rotate`` seals everything again under the newest (docs/operations.md).

The keyring is chosen once per process: by the app and the CLI from their settings (``use``),
or at the first secret from the environment's settings (benchmarks, scripts).
"""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import Connection, select, update

from roster.config import Settings, SettingsError, load_settings
from roster.storage.tables import domains, instance_settings, webhooks
from roster.storage.upsert import upsert_statement

PREFIX = "sealed:"
CHECK = "sealing_check"  # an instance setting sealed with the key, to tell a wrong key at start
# Every sealed column: (table, key column, sealed column).
SEALED = (
    (instance_settings, "key", "value"),
    (webhooks, "id", "secret"),
    (domains, "id", "dkim_private_key"),
)


class WrongKey(SettingsError):
    """The database's secrets were sealed with a key this process does not have."""


class Keyring:
    """Keys, newest first: the first seals, any opens."""

    def __init__(self, materials: list[bytes]) -> None:
        self.fernet = MultiFernet([Fernet(_derive(material)) for material in materials])

    def seal(self, text: str) -> str:
        return PREFIX + self.fernet.encrypt(text.encode()).decode()

    def unseal(self, stored: str) -> str:
        if not stored.startswith(PREFIX):
            return stored  # written before sealing existed; sealed by the next start (seal_all)
        try:
            return self.fernet.decrypt(stored.removeprefix(PREFIX).encode()).decode()
        except InvalidToken:
            raise WrongKey(
                "a secret in the database was sealed with another key: set ROSTER_SECRET_KEY or "
                "ROSTER_KEY_FILE to the key it was sealed with"
            ) from None

    def reseal(self, stored: str) -> str:
        """``stored`` sealed under the newest key (plain text is sealed)."""
        if not stored.startswith(PREFIX):
            return self.seal(stored)
        try:
            return PREFIX + self.fernet.rotate(stored.removeprefix(PREFIX).encode()).decode()
        except InvalidToken:
            raise WrongKey("a secret in the database was sealed with a key this keyring lacks") from None


def _derive(material: bytes) -> bytes:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"roster: secrets at rest")
    return base64.urlsafe_b64encode(derived.derive(material))


def key_file(settings: Settings) -> Path:
    """``ROSTER_KEY_FILE``, else ``roster.key`` beside the SQLite database, else in the user's
    data folder (``$XDG_DATA_HOME/roster``, ``~/.local/share/roster``)."""
    if settings.key_file:
        return Path(settings.key_file)
    folder = settings.sqlite_folder
    if folder is None:
        data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
        folder = Path(data) / "roster"
    return folder / "roster.key"


def read_keys(path: Path) -> list[bytes]:
    return [line.strip().encode() for line in path.read_text().splitlines() if line.strip()]


def write_keys(path: Path, keys: list[bytes]) -> None:
    """Replace the key file whole (a crash leaves the old or the new), readable by its owner."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as out:
        out.write("".join(f"{key.decode()}\n" for key in keys))
        out.flush()
        os.fsync(out.fileno())
    os.replace(partial, path)


def _create(path: Path) -> None:
    """A key file with one new key, unless another process made one first (then its key is
    everyone's): written aside, then linked into place, which fails if the name exists."""
    aside = path.with_name(f".{path.name}.new-{secrets.token_hex(4)}")
    write_keys(aside, [new_key()])
    try:
        os.link(aside, path)
    except FileExistsError:
        pass
    finally:
        aside.unlink()


def new_key() -> bytes:
    return base64.urlsafe_b64encode(secrets.token_bytes(32))


def keyring_for(settings: Settings) -> Keyring:
    """The keys of the settings: ``ROSTER_SECRET_KEY`` (and the previous one), or the key
    file's, the file made with a new key if there is none yet."""
    if settings.secret_key:
        materials = [settings.secret_key.encode()]
        if settings.previous_secret_key:
            materials.append(settings.previous_secret_key.encode())
        return Keyring(materials)
    path = key_file(settings)
    if not path.exists():
        _create(path)
    keys = read_keys(path)
    if not keys:
        raise SettingsError(f"the key file {path} is empty: restore it from your backup of it")
    return Keyring(keys)


_keyring: Keyring | None = None


def use(keyring: Keyring) -> None:
    global _keyring
    _keyring = keyring


def current() -> Keyring:
    global _keyring
    if _keyring is None:
        _keyring = keyring_for(load_settings())
    return _keyring


def seal(text: str) -> str:
    return current().seal(text)


def unseal(stored: str) -> str:
    return current().unseal(stored)


def check(conn: Connection, keyring: Keyring | None = None) -> None:
    """``WrongKey`` unless the keyring opens the database's check value (made by the first
    process to ask), before anything is sealed with a key the others lack."""
    keyring = keyring or current()
    query = select(instance_settings.c.value).where(instance_settings.c.key == CHECK)
    stored = conn.execute(query).scalar()
    if stored is None:
        made = upsert_statement(conn, instance_settings).values(key=CHECK, value=keyring.seal(CHECK))
        conn.execute(made.on_conflict_do_nothing(index_elements=[instance_settings.c.key]))
        stored = conn.execute(query).scalar_one()
    if keyring.unseal(stored) != CHECK:
        raise WrongKey("the database's check value does not open with this key")


def seal_all(conn: Connection, keyring: Keyring | None = None, *, again: bool = False) -> int:
    """Seal every secret still in plain text (written before sealing existed), or with
    ``again`` every secret under the keyring's newest key; the key is checked against the
    sealed check value first. How many values were written."""
    keyring = keyring or current()
    check(conn, keyring)
    written = 0
    for table, key, column in SEALED:
        rows = conn.execute(select(table.c[key], table.c[column]).where(table.c[column].is_not(None))).all()
        for row_key, stored in rows:
            if stored.startswith(PREFIX) and not again:
                continue
            conn.execute(
                update(table).where(table.c[key] == row_key).values({column: keyring.reseal(stored)})
            )
            written += 1
    return written
