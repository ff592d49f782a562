"""What a team's contacts tell the search about a text before it looks: where a walk
through the team would find it, and which of its trigrams a trigram index should be asked
for.

A search goes two ways (``roster.storage.search``). The walk passes the team's contacts in
ID order and stops at the page: its cost is how far the page lies. The trigram index
finds the contacts that hold every trigram it is asked for: it pays for each entry of each
trigram's list it reads, then for each contact it finds, read and compared with the whole
text, and the matches are sorted. Text whose trigrams are all common but which is rare as a
whole (``aarav.jackson`` at 1M contacts: each of its trigrams held by 33,000 contacts or
more, the text by 1,120) is found far faster through two or three of its rarest trigrams
than through all of them (PostgreSQL: 1.7 ms for ``aar`` and ``jac`` against 8.6 ms for
the eleven; FTS5: 0.8 ms for ``v.ja`` against 4.5 ms).

A ``Sample`` holds the texts of the team's first contacts, where a walk begins, and of
contacts spread over the whole team, and for each trigram and pair of letters in the spread
ones which of them hold it. From it ``plan`` prices the walk and the index for a text,
chooses the cheaper, and the trigrams to ask for. A plan decides only how the answer is
looked for, never what it is: every way is exact, so a sample that no longer describes the
team costs time, not correctness. A process keeps the samples of the teams it searched last
for ``KEEP`` seconds (taking one at 1M contacts: 30 to 55 ms, about 0.9 MB).
"""

from __future__ import annotations

import itertools
import math
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from weakref import WeakKeyDictionary

FIRST = 8_000  # the team's first contacts a sample holds
SAMPLE = 1_000  # contacts a sample holds from points over the whole team, at most
RUN = 4  # contacts taken at each point, one after the other
KEEP = 300.0  # seconds a sample is used
TEAMS = 32  # samples a process keeps per database
CAP = 1_000  # matches the index is asked for at most; beyond, the walk
WINDOW = 1_024  # the fewest contacts a walk that may stop early passes
LONGEST = 65_536  # the most
PIECES = 4  # trigrams chosen at most
UNSEEN = 0.5  # how many of the sample a text or trigram it does not hold is taken to be held by


@dataclass(frozen=True, slots=True)
class Costs:
    """One database's costs in microseconds, measured at 1M contacts (docs/benchmarks.md)."""

    walk: float  # to pass one contact in ID order and compare its text
    entry: float  # to read one entry of a trigram's list in the index
    check: float  # to read one contact the index found and compare its text
    words_only: bool  # the index holds only trigrams of letters and digits (pg_trgm)


@dataclass(frozen=True, slots=True)
class Plan:
    walk: int  # contacts to walk before asking the index
    pieces: tuple[str, ...]  # parts of the text, in order, to ask the index for; () walk the team
    ends: bool = False  # the first walk may pass the team's last contact


def _windows(text: str) -> set[str]:
    return {text[i : i + 3] for i in range(len(text) - 2)}


class Sample:
    """What a search knows of a team's contacts' text (first name, last name and email,
    lower-cased, tab-separated): ``first``, the texts of its first ``FIRST`` contacts in ID
    order, where a walk begins (how often a text occurs early in a team is what a walk
    costs; a team's running numbers, say, are not spread evenly over it); ``spread``, up to
    ``SAMPLE`` contacts' texts from points spread over the team's span of creation times,
    for what the index finds in the whole team; and ``contacts``, how many the team held.
    A team of ``FIRST`` contacts or fewer has neither: it is walked whole."""

    def __init__(self, first: list[str], spread: list[str], contacts: int) -> None:
        self.taken = time.monotonic()
        self.first = "\n".join(first)
        self.walked = len(first)
        self.spread = "\n".join(spread)
        self.size = len(spread)
        self.contacts = max(contacts, len(first))
        self.masks: dict[str, int] = {}  # for each trigram and pair of letters, who holds it
        masks = self.masks
        for i, text in enumerate(spread):
            bit = 1 << i
            for part in {text[j : j + width] for width in (2, 3) for j in range(len(text) - width + 1)}:
                if "\t" not in part:
                    masks[part] = masks.get(part, 0) | bit

    def plan(self, text: str, enough: int, costs: Costs) -> Plan:
        """How to find the first ``enough`` contacts holding ``text`` (lower-cased, three
        characters or more) most cheaply."""
        starts = _starts(text, costs.words_only)
        if not starts:
            return Plan(0, ())  # the index holds none of the text's trigrams
        if not self.size:
            return Plan(_rounded(2 * self.contacts), _joined(text, starts), ends=True)
        holding = re.compile(re.escape(text) + "[^\n]*")  # a match takes the rest of its line
        early = list(itertools.islice(holding.finditer(self.first), enough))
        if len(early) == enough:  # the page is among the first contacts: walk to it
            return Plan(_rounded(self.first.count("\n", 0, early[-1].start()) + 1), _joined(text, starts))
        # Beyond the first contacts, the walk meets the text as often as both samples hold it.
        seen = len(holding.findall(self.spread))
        held = max(len(early) + seen, UNSEEN) / (self.walked + self.size)
        rows = self.walked + (enough - len(early)) / held
        if (seen - math.sqrt(seen)) * self.contacts / self.size > CAP:
            return Plan(0, ())  # more than CAP matches, the count taken low by its deviation
        walk = costs.walk * min(rows, self.contacts)
        pieces, price = self._pieces(text, starts, costs)
        index = self.contacts * price
        if walk > index:
            return Plan(0, pieces)
        # A walk longer than the index would take is a bet lost: the index, after it.
        length = min(_rounded(2 * rows), _rounded(index / costs.walk), LONGEST)
        return Plan(length, pieces, ends=length >= self.contacts)

    def _pieces(self, text: str, starts: list[int], costs: Costs) -> tuple[tuple[str, ...], float]:
        """The parts of ``text`` the index is best asked for, chosen a trigram at a time from
        those at ``starts``, and the price per contact of the team of asking for them."""
        chosen: list[int] = []
        best = math.inf
        while len(chosen) < min(len(starts), PIECES):
            price, start = min(
                (self._price(text, sorted([*chosen, i]), costs), i) for i in starts if i not in chosen
            )
            if price >= best:
                break
            best = price
            chosen = sorted([*chosen, start])
        # The price the plan compares: what no sampled contact holds is taken to be held by
        # UNSEEN of the sample (the choice above, left to that, stops at the first such piece).
        return _joined(text, chosen), self._price(text, chosen, costs, UNSEEN / self.size)

    def _price(self, text: str, starts: list[int], costs: Costs, least: float = 0.0) -> float:
        """Per contact of the team: the entries read for these trigrams' pieces, and the
        contacts found that hold them all (at least ``least``), each at its cost."""
        pieces = _joined(text, starts)
        trigrams = set().union(*(_windows(piece) for piece in pieces))
        entries = 0.0
        together = -1
        for trigram in trigrams:
            mask = self.masks.get(trigram, 0)
            entries += self._share(mask.bit_count())
            together &= mask
        if together:
            found = together.bit_count() / self.size
        else:  # none sampled holds them all: the pieces taken as independent
            found = max(math.prod(self._piece(piece) for piece in pieces), least)
        return costs.entry * entries + costs.check * found

    def _piece(self, piece: str) -> float:
        """How many of the team hold every trigram of ``piece``, as a share. Unsampled, as
        a chain of its trigrams, each following the one before (``th19``: of those holding
        ``th1``, as many hold ``h19`` as of those holding ``h1``): overlapping trigrams are
        held together far more often than by chance (taken as independent, ``th1`` and
        ``h19`` were estimated at 1 contact in 1M, where 370 held ``th19``)."""
        together = -1
        for trigram in _windows(piece):
            together &= self.masks.get(trigram, 0)
        if together:
            return together.bit_count() / self.size
        share = self._held(piece[:3])
        for i in range(1, len(piece) - 2):
            share *= min(1.0, self._held(piece[i : i + 3]) / self._held(piece[i : i + 2]))
        return share

    def _held(self, part: str) -> float:
        return self._share(self.masks.get(part, 0).bit_count())

    def _share(self, count: int) -> float:
        return max(count, UNSEEN) / self.size


def _starts(text: str, words_only: bool) -> list[int]:
    """The first place of each trigram of ``text`` the index may be asked for."""
    places: dict[str, int] = {}
    for i in range(len(text) - 2):
        trigram = text[i : i + 3]
        if not words_only or trigram.isalnum():
            places.setdefault(trigram, i)
    return sorted(places.values())


def _joined(text: str, starts: list[int]) -> tuple[str, ...]:
    """The trigrams of ``text`` at ``starts`` (sorted), overlapping ones made one piece."""
    pieces: list[str] = []
    begin = end = -1
    for start in starts:
        if start < end:
            end = start + 3
            continue
        if end >= 0:
            pieces.append(text[begin:end])
        begin, end = start, start + 3
    if end >= 0:
        pieces.append(text[begin:end])
    return tuple(pieces)


def _rounded(rows: float) -> int:
    """A walk's length: a power of two from WINDOW up (a few lengths, each its own plan)."""
    return max(WINDOW, 1 << math.ceil(math.log2(max(rows, 1))))


_kept: WeakKeyDictionary[Any, dict[str, Sample]] = WeakKeyDictionary()
_lock = threading.Lock()


def kept(database: Any, team_id: str, take: Callable[[], Sample]) -> Sample:
    """The team's sample in ``database`` (an engine), taken again when KEEP seconds old."""
    with _lock:
        samples = _kept.setdefault(database, {})
        sample = samples.get(team_id)
    if sample is not None and time.monotonic() - sample.taken < KEEP:
        return sample
    sample = take()
    with _lock:
        samples.pop(team_id, None)
        samples[team_id] = sample
        while len(samples) > TEAMS:
            del samples[next(iter(samples))]
    return sample
