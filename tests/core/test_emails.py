from __future__ import annotations

import random

import pytest
from email_validator import EmailNotValidError, validate_email

from roster.core.emails import _plain, clean_email
from roster.core.errors import Invalid


def _accepted(email: str) -> bool:
    try:
        validate_email(email, check_deliverability=False, allow_smtputf8=True)
    except EmailNotValidError:
        return False
    return True


def _candidates(count: int) -> list[str]:
    """Random near-addresses built from the characters where the two checks could differ."""
    rng = random.Random(20261122)
    plain = ["a", "Z", "0", "9", "bob", ".", "-", "_", "+"]
    odd = ["--", "..", "xn--", "é", " ", '"', "!", "'"]
    tlds = ["com", "io", "c", "x1", "test", "local", "Localhost", "arpa", "invalid", "onion", "museum", "7"]
    made = []
    for _ in range(count):
        pieces = plain if rng.random() < 0.7 else plain + odd
        local = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 5)))
        labels = [
            "".join(rng.choice(pieces) for _ in range(rng.randint(1, 4))) for _ in range(rng.randint(0, 2))
        ]
        made.append(f"{local}@{'.'.join([*labels, rng.choice(tlds)])}")
    made += [
        "a" * 64 + "@example.com",
        "a" * 65 + "@example.com",
        "a@" + "b" * 63 + ".com",
        "a@" + "b" * 64 + ".com",
    ]
    return made


def test_the_fast_path_accepts_only_what_email_validator_accepts() -> None:
    fast = [email for email in _candidates(60_000) if _plain(email)]
    assert len(fast) > 1_000  # the comparison covers many addresses the fast path accepts
    wrongly = [email for email in fast if not _accepted(email)]
    assert wrongly == []


@pytest.mark.parametrize(
    "email",
    [
        "john@example.com",
        "J.Smith+news@Mail.Example.co.uk",
        "user@xn--bcher-kva.example",
        "Ünïcode@exämple.com",
    ],
)
def test_valid_addresses_are_kept_as_given_and_lower_cased(email: str) -> None:
    assert clean_email(f"  {email} ") == (email, email.lower())


@pytest.mark.parametrize(
    "email",
    [
        "plain",
        "a@b",
        "a@localhost",
        "a@site.test",
        "a..b@example.com",
        "a@-x.com",
        "a@ab--c.com",
        "a@example.7",
    ],
)
def test_invalid_addresses_are_refused(email: str) -> None:
    assert not _accepted(email)
    with pytest.raises(Invalid):
        clean_email(email)
