"""Object IDs: a type prefix and 22 base62 characters, e.g. ``contact_BnKjkbBBS500CoBCP0oChQ``.

The 22 characters encode a 131-bit number whose high bits are the creation time in
milliseconds and whose low 83 bits are random, so IDs of one type sort by creation time
(byte-wise, as the alphabet is in ASCII order). Ordering by ID is how lists stay stable.
Within one process IDs are strictly increasing: an ID made in the same millisecond as the
one before it is that one plus one, as in monotonic ULIDs.
"""

from __future__ import annotations

import random
import re
import secrets
import threading
import time

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_LENGTH = 22
_RANDOM_BITS = 83
_ID_RE = re.compile(r"^[a-z]+_[0-9A-Za-z]{22}$")


_PAIRS = [a + b for a in ALPHABET for b in ALPHABET]  # two digits at a time: half the divisions


def base62(number: int, length: int) -> str:
    """``number`` in ``length`` base62 digits, most significant first (``length`` is even)."""
    pairs = []
    for _ in range(length // 2):
        number, rem = divmod(number, 3844)
        pairs.append(_PAIRS[rem])
    return "".join(reversed(pairs))


def between(low: str, high: str, count: int, rng: random.Random) -> list[str]:
    """``count`` IDs drawn evenly from the span between two IDs of one type: points in
    creation time, as IDs sort by it."""
    prefix, _, first = low.rpartition("_")
    start, end = _number(first), _number(high.rpartition("_")[2])
    return [f"{prefix}_{base62(rng.randint(start, end), _LENGTH)}" for _ in range(count)]


def _number(digits: str) -> int:
    number = 0
    for digit in digits:
        number = number * 62 + ALPHABET.index(digit)
    return number


_last = 0
_lock = threading.Lock()


def new_id(prefix: str) -> str:
    global _last
    number = ((time.time_ns() // 1_000_000) << _RANDOM_BITS) | secrets.randbits(_RANDOM_BITS)
    with _lock:
        number = _last = max(number, _last + 1)
    return f"{prefix}_{base62(number, _LENGTH)}"


def random_token(length: int) -> str:
    """``length`` base62 characters of pure randomness (5.95 bits each)."""
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


def looks_like(prefix: str, value: str) -> bool:
    return value.startswith(prefix + "_") and _ID_RE.match(value) is not None
