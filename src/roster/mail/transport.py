"""Transports: where a composed message goes.

``ROSTER_SMTP_URL`` names one or more SMTP relays, comma-separated, used in turn:
``smtp://user:pass@host:587`` (STARTTLS required on 587, used when offered elsewhere),
``smtps://user:pass@host:465`` (implicit TLS), ``smtp://host:25`` (a local relay). Options in
the query: ``connections`` (open connections, 4), ``timeout`` (seconds, 30), ``rate``
(messages a second, 20; 0 for no limit), ``window`` (a cap over a sliding window in the
``limits`` notation, ``10000/hour``; none by default), ``tls`` (``starttls`` to require it,
``none`` to never use it). With no relay, each message is written as an ``.eml`` file into a
folder (``ROSTER_MAIL_DIR``).

A transport answers every message with a ``Reply``: accepted, deferred (a 4xx reply or a
connection that failed: try again later), rejected (5xx: this recipient will not be reached)
or unusable (the relay refused the login or TLS: no message can go through it). A password
never leaves this module: errors and descriptions show it as ``***``.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import os
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib
from limits import RateLimitItem, RateLimitItemPerSecond, parse
from limits.aio.strategies import MovingWindowRateLimiter

from roster.counting import CountStore
from roster.mail.compose import Envelope
from roster.metrics import MESSAGES

Kind = Literal["accepted", "deferred", "rejected", "unusable"]
ACCEPTED: Kind = "accepted"
DEFERRED: Kind = "deferred"
REJECTED: Kind = "rejected"
UNUSABLE: Kind = "unusable"
_ENHANCED = re.compile(r"^\s*([245])\.(\d{1,3})\.(\d{1,3})\b")


@dataclass(frozen=True, slots=True)
class Reply:
    kind: Kind
    code: int | None
    text: str

    @property
    def no_such_mailbox(self) -> bool:
        """A permanent 5.1.x (RFC 3463: bad destination mailbox or address)."""
        found = _ENHANCED.match(self.text)
        return self.kind == REJECTED and found is not None and found.group(1, 2) == ("5", "1")

    def __str__(self) -> str:
        return f"{self.code} {self.text}".strip() if self.code else self.text


def _reply(code: int, text: str) -> Reply:
    text = " ".join(text.split())[:400]
    if 200 <= code < 300:
        return Reply(ACCEPTED, code, text)
    return Reply(REJECTED if code >= 500 else DEFERRED, code, text)


class Throttle:
    """Messages a second and an optional cap over a sliding window, counted in Redis when
    ``ROSTER_REDIS_URL`` is set (shared by every worker sending through the same relay) or in
    this process otherwise."""

    def __init__(self, items: Sequence[RateLimitItem], key: str, redis_url: str | None) -> None:
        self.counts = CountStore(redis_url)
        self.limiter = MovingWindowRateLimiter(self.counts.storage)
        self.items = list(items)
        self.key = key

    async def close(self) -> None:
        await self.counts.close()

    async def available(self) -> int:
        """How many messages may go in the next second."""
        room = math.inf
        for item in self.items:
            stats = await self.limiter.get_window_stats(item, self.key)
            room = min(room, stats.remaining if item.get_expiry() > 1 else item.amount)
        return int(min(room, 1_000_000))

    async def wait(self) -> None:
        """Take a place for one message, waiting for one to free up."""
        for item in self.items:
            while not await self.limiter.hit(item, self.key):
                reset, _ = await self.limiter.get_window_stats(item, self.key)
                await asyncio.sleep(min(max(reset - time.time(), 0.005), 1.0))


@dataclass(frozen=True, slots=True)
class SmtpServer:
    host: str
    port: int
    username: str | None
    password: str | None
    implicit_tls: bool
    starttls: bool | None  # True: required; False: never; None: when offered
    timeout: float
    connections: int
    rate: float
    window: RateLimitItem | None

    @property
    def description(self) -> str:
        user = f"{self.username}:***@" if self.username else ""
        return f"{'smtps' if self.implicit_tls else 'smtp'}://{user}{self.host}:{self.port}"


def parse_smtp_url(url: str) -> SmtpServer:
    """One relay from its URL; ``ValueError`` says what is wrong without repeating the URL."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("smtp", "smtps"):
        raise ValueError("an SMTP URL starts with smtp:// or smtps://")
    if not parts.hostname:
        raise ValueError("an SMTP URL names a host: smtp://host:25")
    try:
        port = parts.port or (465 if parts.scheme == "smtps" else 25)
    except ValueError:
        raise ValueError("an SMTP URL's port is a number from 1 to 65535") from None
    options = {name: values[-1] for name, values in parse_qs(parts.query).items()}
    unknown = set(options) - {"connections", "timeout", "rate", "window", "tls"}
    if unknown:
        known = "connections, timeout, rate, window, tls"
        raise ValueError(f"unknown SMTP URL option {sorted(unknown)[0]!r} ({known})")
    try:
        connections = int(options.get("connections", "4"))
        timeout = float(options.get("timeout", "30"))
        rate = float(options.get("rate", "20"))
        window = parse(options["window"]) if "window" in options else None
    except ValueError as exc:
        raise ValueError(f"bad SMTP URL option: {exc}") from None
    if not 1 <= connections <= 100 or not 0 < timeout <= 600 or not 0 <= rate <= 100_000:
        raise ValueError("SMTP URL options: connections 1-100, timeout up to 600 s, rate 0-100000 a second")
    tls = options.get("tls")
    if tls not in (None, "starttls", "none"):
        raise ValueError("the SMTP URL option tls is starttls or none")
    starttls = {"starttls": True, "none": False}.get(tls or "", True if port == 587 else None)
    return SmtpServer(
        host=parts.hostname,
        port=port,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        implicit_tls=parts.scheme == "smtps",
        starttls=None if parts.scheme == "smtps" else starttls,
        timeout=timeout,
        connections=connections,
        rate=rate,
        window=window,
    )


class SmtpTransport:
    """One relay: up to ``connections`` open connections, kept between messages."""

    def __init__(self, server: SmtpServer, redis_url: str | None = None) -> None:
        self.server = server
        self.description = server.description
        self.connections = server.connections
        items: list[RateLimitItem] = (
            [RateLimitItemPerSecond(max(1, round(server.rate)))] if server.rate else []
        )
        items += [server.window] if server.window else []
        key = f"smtp:{server.username or ''}@{server.host}:{server.port}"
        self.throttle = Throttle(items, key, redis_url)
        self._slots = asyncio.Semaphore(server.connections)
        self._idle: list[aiosmtplib.SMTP] = []

    async def _connect(self) -> aiosmtplib.SMTP:
        server = self.server
        client = aiosmtplib.SMTP(
            hostname=server.host,
            port=server.port,
            use_tls=server.implicit_tls,
            start_tls=server.starttls,
            timeout=server.timeout,
        )
        await client.connect()
        if server.username:
            try:
                await client.login(server.username, server.password or "")
            except BaseException:
                client.close()
                raise
        return client

    async def send(self, envelope: Envelope) -> Reply:
        await self.throttle.wait()
        async with self._slots:
            client = self._idle.pop() if self._idle else None
            try:
                if client is None:
                    client = await self._connect()
                _, response = await client.sendmail(envelope.sender, [envelope.recipient], envelope.data)
            except aiosmtplib.SMTPAuthenticationError as exc:
                await _close(client)
                return Reply(UNUSABLE, exc.code, f"the SMTP server refused the login: {exc.message}")
            except aiosmtplib.SMTPRecipientsRefused as exc:
                self._idle.append(client)  # type: ignore[arg-type]  # connected: it refused the recipient
                refused = exc.recipients[0]
                return _reply(refused.code, refused.message)
            except aiosmtplib.SMTPResponseException as exc:
                await _close(client)
                return _reply(exc.code, exc.message)
            except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
                await _close(client)
                reason = str(exc) or type(exc).__name__
                if "STARTTLS" in reason or "TLS" in type(exc).__name__:
                    return Reply(UNUSABLE, None, f"TLS with {self.description} failed: {reason}")
                return Reply(DEFERRED, None, f"{self.description} could not be reached: {reason}")
            except BaseException:  # cancelled mid-message: the connection's state is unknown
                if client is not None:
                    client.close()
                raise
            self._idle.append(client)
            return _reply(250, response)

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for client in idle:
            await _close(client, polite=True)
        await self.throttle.close()


async def _close(client: aiosmtplib.SMTP | None, *, polite: bool = False) -> None:
    if client is None or not client.is_connected:
        return
    try:
        if polite:
            await client.quit()
        else:
            client.close()
    except (aiosmtplib.SMTPException, OSError):
        client.close()


class MailFolder:
    """The embedded default: each message an ``.eml`` file in ``folder``, written whole."""

    connections = 8

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.description = f"files in {folder}"
        self.throttle = Throttle([], "folder", None)

    async def send(self, envelope: Envelope) -> Reply:
        self.folder.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9._-]", "", envelope.message_id.split("@")[0]) + ".eml"
        partial = self.folder / f".{name}.partial"
        partial.write_bytes(envelope.data)
        os.replace(partial, self.folder / name)
        return Reply(ACCEPTED, 250, f"written to {name}")

    async def close(self) -> None:
        return None


Transport = SmtpTransport | MailFolder


class Mailer:
    """Every configured transport, used in turn."""

    def __init__(self, transports: Sequence[Transport]) -> None:
        self.transports = list(transports)
        self._turn = itertools.cycle(self.transports)
        self.description = ", ".join(transport.description for transport in self.transports)
        self.connections = sum(transport.connections for transport in self.transports)

    async def available(self) -> int:
        """How many messages may go in the next second, over every transport."""
        return sum([await transport.throttle.available() for transport in self.transports])

    async def send(self, envelope: Envelope) -> Reply:
        transport = next(self._turn)
        reply = await transport.send(envelope)
        MESSAGES.labels(transport.description, reply.kind).inc()
        return reply

    async def close(self) -> None:
        for transport in self.transports:
            await transport.close()


def mailer_from(smtp_url: str | None, mail_dir: Path, redis_url: str | None = None) -> Mailer:
    """The configured transports: the SMTP relays of ``smtp_url``, or the folder."""
    if not smtp_url:
        return Mailer([MailFolder(mail_dir)])
    urls = [url for url in smtp_url.split(",") if url.strip()]
    return Mailer([SmtpTransport(parse_smtp_url(url), redis_url) for url in urls])
