"""Reading ``ROSTER_SMTP_URL``: what each form means, and that a password never shows."""

from __future__ import annotations

import uuid
from pathlib import Path

import anyio
import pytest
from limits import parse

from roster.mail.transport import MailFolder, SmtpTransport, Throttle, mailer_from, parse_smtp_url


def test_the_forms_of_an_smtp_url() -> None:
    submission = parse_smtp_url("smtp://me%40acme.com:p%40ss@mail.acme.com:587")
    assert (submission.host, submission.port, submission.username, submission.password) == (
        "mail.acme.com",
        587,
        "me@acme.com",
        "p@ss",
    )
    assert (submission.implicit_tls, submission.starttls) == (False, True)  # STARTTLS required on 587
    implicit = parse_smtp_url("smtps://u:p@mail.acme.com")
    assert (implicit.port, implicit.implicit_tls, implicit.starttls) == (465, True, None)
    relay = parse_smtp_url("smtp://localhost")
    assert (relay.port, relay.starttls, relay.username) == (25, None, None)  # STARTTLS when offered
    tuned = parse_smtp_url("smtp://relay:2525?connections=8&timeout=5&rate=0&window=10000/hour&tls=none")
    assert (tuned.connections, tuned.timeout, tuned.rate, tuned.starttls) == (8, 5.0, 0.0, False)
    assert str(tuned.window) == "10000 per 1 hour"
    assert parse_smtp_url("smtp://relay").rate == 20  # a sane default pace


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://u:secret@host", "smtp:// or smtps://"),
        ("smtp://u:secret@:25", "names a host"),
        ("smtp://u:secret@host:99999", "port"),
        ("smtp://u:secret@host?colour=red", "unknown SMTP URL option 'colour'"),
        ("smtp://u:secret@host?connections=0", "connections 1-100"),
        ("smtp://u:secret@host?rate=fast", "bad SMTP URL option"),
        ("smtp://u:secret@host?window=lots", "bad SMTP URL option"),
        ("smtp://u:secret@host?tls=maybe", "tls is starttls or none"),
    ],
)
def test_a_wrong_url_is_refused_without_repeating_its_password(url: str, says: str) -> None:
    with pytest.raises(ValueError, match=says) as refused:
        parse_smtp_url(url)
    assert "secret" not in str(refused.value)


def test_several_relays_are_used_in_turn_and_described_without_passwords(tmp_path: Path) -> None:
    mailer = mailer_from("smtp://a:secret1@one:587, smtps://b:secret2@two", tmp_path)
    assert [type(transport) for transport in mailer.transports] == [SmtpTransport, SmtpTransport]
    assert mailer.description == "smtp://a:***@one:587, smtps://b:***@two:465"
    assert mailer.connections == 8
    folder = mailer_from(None, tmp_path / "mail")
    assert isinstance(folder.transports[0], MailFolder)
    assert folder.description == f"files in {tmp_path / 'mail'}"


def test_a_window_cap_leaves_no_room_once_it_is_used_up() -> None:
    async def use_it_up() -> tuple[int, int, int]:
        transport = SmtpTransport(parse_smtp_url("smtp://relay?rate=100&window=3/hour"))
        before = await transport.throttle.available()
        for _ in range(3):
            with anyio.fail_after(1):
                await transport.throttle.wait()
        after = await transport.throttle.available()
        paced = await SmtpTransport(parse_smtp_url("smtp://relay?rate=7")).throttle.available()
        return before, after, paced

    # The worker claims no more than the room the throttle leaves: none until the hour is over.
    assert anyio.run(use_it_up) == (3, 0, 7)


def test_a_window_cap_in_redis_is_shared_by_every_worker() -> None:
    """Two workers' throttles for one relay count in the same Redis window."""
    key = f"relay-test-{uuid.uuid4().hex}"
    cap = [parse("3/hour")]

    async def take() -> tuple[int, int]:
        first = Throttle(cap, key, "redis://127.0.0.1:6379/15")
        second = Throttle(cap, key, "redis://127.0.0.1:6379/15")
        try:
            await first.wait()
            await first.wait()
            return await first.available(), await second.available()
        finally:
            await first.close()
            await second.close()

    assert anyio.run(take) == (1, 1)
