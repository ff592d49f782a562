"""A real SMTP server on loopback (aiosmtpd) for sending tests: keeps what it is given, and
answers recipients with scripted replies."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.conftest import free_port


@dataclass
class Received:
    sender: str
    recipient: str
    data: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = BytesParser(policy=policy.default).parsebytes(self.data)
        assert isinstance(parsed, EmailMessage)
        return parsed

    @property
    def campaign_id(self) -> str:
        return str(self.message["X-Roster-Recipient"]).strip().split("/")[0]


@dataclass
class Sink:
    url: str
    # A recipient's address → the replies it gets in turn (``"250"`` to accept); accepted
    # once they run out.
    script: dict[str, list[str]] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def of(self, campaign_id: str) -> list[Received]:
        with self.lock:
            return [item for item in self.received if item.campaign_id == campaign_id]

    def wait_for(self, campaign_id: str, count: int, timeout: float = 20.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.of(campaign_id)) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.of(campaign_id)


class _Handler:
    def __init__(self, sink: Sink) -> None:
        self.sink = sink

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        with self.sink.lock:
            replies = self.sink.script.get(address.lower())
            reply = replies.pop(0) if replies else "250 OK"
        if reply.startswith("250"):
            envelope.rcpt_tos.append(address)
        return reply

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.sink.lock:
            for recipient in envelope.rcpt_tos:
                self.sink.received.append(Received(envelope.mail_from, recipient, envelope.content))
        return "250 2.0.0 Queued"


def _refuse_everyone(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    assert isinstance(data, LoginPassword)
    return AuthResult(success=False, handled=False)


@contextmanager
def smtp_sink(*, refuse_login: bool = False, query: str = "rate=0") -> Iterator[Sink]:
    """A sink and the ``ROSTER_SMTP_URL`` that reaches it (``refuse_login``: it demands a
    login and refuses every one; the URL then carries a user and password)."""
    port = free_port()
    credentials = "roster:hunter2-secret@" if refuse_login else ""
    sink = Sink(url=f"smtp://{credentials}127.0.0.1:{port}?{query}")
    options: dict[str, Any] = {}
    if refuse_login:
        options = {"authenticator": _refuse_everyone, "auth_require_tls": False, "auth_required": True}
    controller = Controller(_Handler(sink), hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()
