from __future__ import annotations

import re
import time

from roster.ids import ALPHABET, base62, looks_like, new_id, random_token


def test_ids_have_the_documented_shape() -> None:
    for prefix in ("contact", "list", "topic", "domain", "key", "team"):
        value = new_id(prefix)
        assert re.fullmatch(rf"{prefix}_[0-9A-Za-z]{{22}}", value)
        assert looks_like(prefix, value)
    assert not looks_like("contact", "list_" + "0" * 22)
    assert not looks_like("contact", "contact_short")


def test_ids_sort_by_creation_time_and_never_repeat() -> None:
    earlier = [new_id("contact") for _ in range(1000)]
    time.sleep(0.002)
    later = new_id("contact")
    assert all(value < later for value in earlier)
    assert len(set(earlier)) == 1000


def test_ids_made_in_one_millisecond_still_increase() -> None:
    made = [new_id("contact") for _ in range(10_000)]
    assert made == sorted(made)
    assert len(set(made)) == len(made)


def test_random_tokens_are_long_and_distinct() -> None:
    tokens = {random_token(40) for _ in range(1000)}
    assert len(tokens) == 1000
    assert all(re.fullmatch(r"[0-9A-Za-z]{40}", token) for token in tokens)


def test_base62_is_positional_and_fixed_width() -> None:
    for number in [0, 1, 61, 62, 3843, 3844, 2**128 - 1, 62**22 - 1, 123456789012345678901234567890]:
        text = base62(number, 22)
        assert len(text) == 22
        assert sum(ALPHABET.index(char) * 62**power for power, char in enumerate(reversed(text))) == number
    assert base62(0, 22) == "0" * 22
    assert base62(61, 22) == "0" * 21 + "z"
