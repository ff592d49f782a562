"""The bounce mailbox: where an SMTP relay's bounces and feedback-loop complaints land, fetched
by the worker over POP3 (as listmonk does) and handed to ``roster.core.inbound``.

``ROSTER_BOUNCE_MAILBOX``: ``pop3s://user:password@host:995`` (implicit TLS) or
``pop3://user:password@host:110`` (STARTTLS when the server offers it; ``?tls=none`` never),
with ``?every=60`` (seconds between fetches). A message is deleted from the mailbox only
after it was stored, and POP3 applies deletions only when the session ends cleanly: a worker
killed mid-fetch leaves the messages there, and receiving one again changes nothing.
"""

from __future__ import annotations

import functools
import logging
import poplib
import ssl
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import anyio
import anyio.to_thread

from roster.config import BounceRules
from roster.core import inbound
from roster.storage.db import Database

log = logging.getLogger("roster.mailbox")

PER_SESSION = 500  # messages fetched in one session at most; the rest on the next


@dataclass(frozen=True, slots=True)
class Mailbox:
    secure: bool
    host: str
    port: int
    user: str
    password: str
    every: float
    starttls: bool

    @classmethod
    def parse(cls, url: str) -> Mailbox:
        """The mailbox ``url`` names; ``ValueError`` saying what is wrong with it."""
        parts = urlsplit(url)
        if parts.scheme not in ("pop3", "pop3s"):
            raise ValueError("ROSTER_BOUNCE_MAILBOX must be a pop3:// or pop3s:// URL")
        if not parts.hostname or not parts.username:
            raise ValueError("ROSTER_BOUNCE_MAILBOX needs a user and a host: pop3s://user:password@host")
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        try:
            every = float(query.get("every", "60"))
            port = parts.port or (995 if parts.scheme == "pop3s" else 110)
        except ValueError:
            raise ValueError("ROSTER_BOUNCE_MAILBOX: the port and ?every= must be numbers") from None
        if every <= 0:
            raise ValueError("ROSTER_BOUNCE_MAILBOX: ?every= must be a number of seconds above 0")
        return cls(
            secure=parts.scheme == "pop3s",
            host=parts.hostname,
            port=port,
            user=unquote(parts.username),
            password=unquote(parts.password or ""),
            every=every,
            starttls=parts.scheme == "pop3" and query.get("tls") != "none",
        )

    @property
    def description(self) -> str:
        return f"pop3{'s' if self.secure else ''}://{self.user}:***@{self.host}:{self.port}"

    def fetch(self, handle: Callable[[bytes], object]) -> int:
        """Hand each message to ``handle``, then delete it; how many were handled."""
        if self.secure:
            pop: poplib.POP3 = poplib.POP3_SSL(self.host, self.port, timeout=30)
        else:
            pop = poplib.POP3(self.host, self.port, timeout=30)
            if self.starttls and "STLS" in pop.capa():
                pop.stls(ssl.create_default_context())
        handled = 0
        try:
            pop.user(self.user)
            pop.pass_(self.password)
            count, _size = pop.stat()
            for number in range(1, min(count, PER_SESSION) + 1):
                _answer, lines, _octets = pop.retr(number)
                handle(b"\r\n".join(lines) + b"\r\n")
                pop.dele(number)
                handled += 1
        finally:
            pop.quit()  # deletions take effect here
        return handled


async def poll(db: Database, mailbox: Mailbox, rules: BounceRules) -> None:
    """Fetch the mailbox every ``mailbox.every`` seconds, forever."""

    def handle(raw: bytes) -> None:
        received = inbound.receive(db, raw, "mailbox", rules)
        if received.state == inbound.ASIDE and not received.duplicate:
            log.info("bounce mailbox: %s kept aside: %s", received.id, received.reason)

    while True:
        try:
            await anyio.to_thread.run_sync(mailbox.fetch, handle)
        except Exception as exc:
            log.warning("bounce mailbox %s: %s: %s", mailbox.description, type(exc).__name__, exc)
        await anyio.sleep(mailbox.every)


def poller(
    db: Database, url: str | None, rules: BounceRules
) -> list[Callable[[], Coroutine[Any, Any, None]]]:
    """The task that polls the configured mailbox, if one is; ``ValueError`` for a wrong URL."""
    if url is None:
        return []
    mailbox = Mailbox.parse(url)
    return [functools.partial(poll, db, mailbox, rules)]
