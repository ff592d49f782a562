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
contacts spread over the whole team, and for each trigram in the spread ones which of them
hold it. From it ``plan`` prices the walk and the index for a text, chooses, and the
trigrams to ask for. A plan decides only how the answer is looked for, never what it is:
every way is exact, so a sample that no longer describes the team costs time, not
correctness. A process keeps the samples of the teams it searched last for ``KEEP``
seconds, then takes it again on a thread of its own (at 1M contacts: 0.5 to 0.6 s, about
8 MB).
"""

from __future__ import annotations

import bisect
import itertools
import logging
import math
import re
import threading
import time
from array import array
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache, reduce
from operator import and_
from typing import Any
from weakref import WeakKeyDictionary

SMALL = 8_000  # a team of this many contacts or fewer is walked whole, unsampled
FIRST = 24_576  # the team's first contacts a sample holds: a page among them is walked to
SAMPLE = 4_000  # contacts a sample holds from points over the whole team, at most
RUN = 4  # contacts taken at each point, one after the other
KEEP = 600.0  # seconds a sample is used
TEAMS = 16  # samples a process keeps per database
CAP = 1_000  # matches the index is asked for at most; beyond, the walk
WINDOW = 1_024  # the fewest contacts a walk that may stop early passes
LONGEST = 65_536  # the most
PIECES = 4  # trigrams chosen at most
UNSEEN = 0.5  # how many of the sample a text or trigram it does not hold is taken to be held by
CHECKED = 64  # holders of a text's trigrams in the spread sample checked for the text, at most
COUNT = 100  # matches counted at most in a team the first contacts are the whole of

EMPTY = array("I")
_WORD = re.compile(r"[^\W_]+")  # pg_trgm's word: letters and digits
Unit = tuple[str, int, int]  # a trigram the index holds, and the part of the text that asks for it


class Grammar:
    """How an index cuts text into trigrams. FTS5's trigram tokenizer: every three
    characters of a column, separators included (``v.j``)."""

    def held(self, text: str) -> Iterator[str]:
        """The trigrams the index holds for a contact's text."""
        for field in text.split("\t"):
            yield from (field[i : i + 3] for i in range(len(field) - 2))

    def units(self, text: str) -> Iterator[Unit]:
        """The trigrams the index may be asked for to find ``text``, with their parts."""
        yield from ((text[i : i + 3], i, i + 3) for i in range(len(text) - 2))

    def chains(self, pieces: tuple[str, ...]) -> list[list[str]]:
        """The trigrams the index is asked for by ``pieces`` (each sought anywhere, in
        order), in runs of overlapping ones."""
        return [[piece[i : i + 3] for i in range(len(piece) - 2)] for piece in pieces]


class WordGrammar(Grammar):
    """pg_trgm's: trigrams of words (letters and digits) only, a word padded with two
    spaces before and one after (``smith`` → ``  s``, `` sm``, ``smi``, … ``th ``), so that
    a word's start and end are trigrams too. In a ``LIKE`` pattern a word is padded on a
    side only where a character that is neither a wildcard nor of a word bounds it
    (``%es.%`` asks for ``es ``: a word ending in ``es``)."""

    def held(self, text: str) -> Iterator[str]:
        for word in _WORD.findall(text):
            padded = f"  {word} "
            yield from (padded[i : i + 3] for i in range(len(padded) - 2))

    def units(self, text: str) -> Iterator[Unit]:
        for word in _WORD.finditer(text):
            start, end = word.span()
            left, right = start > 0, end < len(text)  # bounded by a separator, not a wildcard
            padded = ("  " if left else "") + word.group() + (" " if right else "")
            # Where each character of the padded word is in the text: padding stands for the
            # separator that bounds the word.
            where = [start - 1] * (2 if left else 0) + list(range(start, end)) + [end] * right
            for i in range(len(padded) - 2):
                yield padded[i : i + 3], where[i], where[i + 2] + 1

    def chains(self, pieces: tuple[str, ...]) -> list[list[str]]:
        chains = []
        for piece in pieces:
            for word in _WORD.finditer(piece):
                start, end = word.span()
                padded = ("  " if start > 0 else "") + word.group() + (" " if end < len(piece) else "")
                chains.append([padded[i : i + 3] for i in range(len(padded) - 2)])
        return [chain for chain in chains if chain]


FTS5 = Grammar()
PG_TRGM = WordGrammar()


@dataclass(frozen=True, slots=True)
class Costs:
    """One database's index and costs in microseconds, measured at 1M contacts
    (docs/benchmarks.md)."""

    walk: float  # to pass one contact in ID order through the team's blocks (a block's text compared whole)
    step: float  # to pass one contact in ID order and compare its text, in a team not folded into blocks
    entry: float  # to read one entry of a trigram's list in the index
    check: float  # to read one contact the index found and compare its text
    grammar: Grammar  # how its index cuts text into trigrams


@dataclass(frozen=True, slots=True)
class Plan:
    walk: int  # contacts to walk before asking the index
    pieces: tuple[str, ...]  # parts of the text, in order, to ask the index for; () walk the team
    ends: bool = False  # the first walk may pass the team's last contact
    bound: str | None = None  # the ID of the last contact the first walk passes, if known
    folded: str = ""  # the ID its team's last block ends at (roster.storage.search.fold)


class Sample:
    """What a search knows of a team's contacts' text (first name, last name and email,
    lower-cased, tab-separated): ``first``, the texts of its first ``FIRST`` contacts in ID
    order, where a walk begins (how often a text occurs early in a team is what a walk
    costs; a team's running numbers, say, are not spread evenly over it), and the IDs at
    the lengths a walk may have (``marks``); ``spread``, up to ``SAMPLE`` contacts' texts
    from points spread over the team's span of creation times, for what the index finds in
    the whole team; and ``contacts``, how many the team held. A team of ``SMALL`` contacts
    or fewer has neither: it is walked whole. ``blocks``: the ID each of the team's blocks
    ends at and how many contacts it held, in order (where walks of other lengths end);
    ``unfolded``: whether FOLD contacts or more follow the last."""

    def __init__(
        self,
        first: list[str],
        spread: list[str],
        contacts: int,
        grammar: Grammar,
        ids: list[str] | None = None,
        blocks: list[tuple[str, int]] | None = None,
        unfolded: bool = False,
    ) -> None:
        self.taken = time.monotonic()
        self.highs = [high for high, _ in blocks or []]
        self.upto = list(itertools.accumulate(held for _, held in blocks or []))
        self.folded = self.highs[-1] if self.highs else ""
        self.unfolded = unfolded
        self.first = first
        self.spread = spread
        self.size = len(spread)
        self.contacts = max(contacts, len(first))
        self.grammar = grammar
        # The ID of the contact each length of walk ends at, as far as the first contacts
        # reach; a walk longer ends at the last of them (one it takes is to a page among them).
        self.marks: dict[int, str] = {}
        length = WINDOW
        while ids:
            self.marks[length] = ids[min(length, len(ids)) - 1]
            if length >= len(ids):
                break
            length *= 2
        # For each three characters, the first contacts holding them, in ID order.
        places: defaultdict[str, list[int]] = defaultdict(list)
        for i, text in enumerate(first):
            for window in set(map("".join, zip(text, text[1:], text[2:], strict=False))):
                places[window].append(i)
        self.places = {window: array("I", lines) for window, lines in places.items()}
        # For each trigram, who of the spread sample holds it (the
        # bits of an int, set in a bytearray first: an int is rebuilt whole for each bit).
        holders: defaultdict[str, bytearray] = defaultdict(lambda: bytearray((self.size + 7) // 8))
        for i, text in enumerate(spread):
            for part in set(grammar.held(text)):
                holders[part][i >> 3] |= 1 << (i & 7)
        self.masks = {part: int.from_bytes(bits, "little") for part, bits in holders.items()}

    def plan(self, text: str, enough: int, costs: Costs) -> Plan:
        """How to find the first ``enough`` contacts holding ``text`` (lower-cased, three
        characters or more) most cheaply."""
        units = _units(text, costs.grammar)
        if not units:
            return Plan(0, ())  # the index holds none of the text's trigrams
        if not self.size:
            return Plan(_rounded(2 * self.contacts), _joined(text, units), ends=True)
        whole = len(self.first) >= self.contacts  # the first contacts are the whole team
        early = self._early(text, max(enough, COUNT) if whole else enough)
        # How far a walk goes where the first contacts show it: to the page's last contact,
        # or through the whole team when it holds fewer.
        known = early[enough - 1] + 1 if len(early) >= enough else self.contacts if whole else 0
        holding = self._holding(text)
        seen = holding.bit_count()
        if (seen - math.sqrt(seen)) * self.contacts / self.size > CAP:
            # More than CAP matches, the count taken low by its deviation: the index would
            # give up, so the walk, to the page if the first contacts show where it is.
            return self._walk(known, _joined(text, units)) if known else Plan(0, ())
        # The team's share holding the text, from the spread sample: the first contacts are
        # no fair sample of a team (its running numbers, say, crowd them).
        share = len(early) / self.contacts if whole else max(seen, UNSEEN) / self.size
        step = costs.walk if self.folded else costs.step  # a contact walked: in a block, or alone
        if known:
            # A walk the first contacts show costs what it costs; the index is priced for as
            # many holders as the spread sample may mean, the count taken high by its deviation
            # (a walk cheaper than checking them alone, or to more than CAP, needs no price).
            high = share if whole else max((seen + math.sqrt(seen + 1)) / self.size, share)
            found = high * self.contacts
            if found > CAP or step * known <= costs.check * found:
                return self._walk(known, _joined(text, units))
            pieces = self._pieces(text, units, costs, share, holding)
            walk = step * known <= self.contacts * self._price(pieces, costs, high, holding)
            return self._walk(known, pieces) if walk else Plan(0, pieces)
        pieces = self._pieces(text, units, costs, share, holding)
        # Beyond the first contacts, where the page lies is a guess from the share, and a
        # team's contacts are seldom in an even order (an import sorted by name, numbered
        # addresses): the index, unless it would find more than CAP. (A walk taken there
        # where guessed far cheaper, then the index where it fell short, cost up to 8 ms at
        # 1M contacts for text 1 in 3,000 hold, which the index alone finds in 2.)
        if share * self.contacts > CAP:
            rows = len(self.first) + (enough - len(early)) / share
            length = min(_rounded(2 * rows), LONGEST)
            return Plan(length, pieces, ends=length >= self.contacts, bound=self._bound(length))
        return Plan(0, pieces)

    def _walk(self, rows: int, pieces: tuple[str, ...]) -> Plan:
        length = _rounded(rows)
        return Plan(length, pieces, ends=length >= self.contacts, bound=self._bound(length))

    def _bound(self, length: int) -> str | None:
        """The ID a walk of ``length`` contacts ends at: from the first contacts, or the
        blocks' (the end of the first block by which as many had been folded)."""
        if length in self.marks:
            return self.marks[length]
        i = bisect.bisect_left(self.upto, length)
        return self.highs[i] if i < len(self.highs) else None

    def _early(self, text: str, count: int) -> list[int]:
        """Where among the first contacts the first ``count`` holding ``text`` are."""
        lists = [self.places.get(text[i : i + 3], EMPTY) for i in range(len(text) - 2)]
        holding = (i for i in min(lists, key=len) if text in self.first[i])
        return list(itertools.islice(holding, count))

    def _holding(self, text: str) -> int:
        """Who of the spread sample holds ``text``, as the bits of an int: those holding
        every trigram of it, each checked while they are few (pg_trgm's trigrams of
        ``s.miller16`` are those of ``miller16``); many, all but a few of them hold it."""
        together = -1
        for trigram in itertools.chain.from_iterable(_chains(self.grammar, (text,))):
            together &= self.masks.get(trigram, 0)
        together &= (1 << self.size) - 1
        if together.bit_count() > CHECKED:
            return together
        holding = 0
        for i in _bits(together):
            if text in self.spread[i]:
                holding |= 1 << i
        return holding

    def _pieces(
        self, text: str, units: list[Unit], costs: Costs, share: float, holding: int
    ) -> tuple[str, ...]:
        """The parts of ``text`` the index is best asked for, chosen a trigram at a time
        from ``units``, for a text ``share`` of the team holds (``holding`` of the spread
        sample)."""
        left = set(range(len(units)))
        chosen: list[Unit] = []
        entries, best = 0.0, math.inf
        while left and len(chosen) < PIECES:
            priced = (
                (self._cost(costs, entries, self._parts([*chosen, units[i]]), share, holding), i)
                for i in left
            )
            price, i = min(priced)
            if price >= best:
                break
            best = price
            left.remove(i)
            chosen.append(units[i])
            entries += self._share(self.masks.get(units[i][0], 0))
        return _joined(text, chosen)  # overlapping units made one piece ask for more trigrams

    def _parts(self, units: list[Unit]) -> list[int]:
        """Who of the spread sample holds each part of the text ``units`` ask for: the
        trigrams of overlapping units together."""
        spans: list[tuple[int, int, int]] = []
        for trigram, start, stop in sorted(units, key=lambda unit: unit[1:]):
            mask = self.masks.get(trigram, 0)
            if spans and start < spans[-1][1]:
                low, high, held = spans.pop()
                start, stop, mask = low, max(high, stop), held & mask
            spans.append((start, stop, mask))
        return [mask for _, _, mask in spans]

    def _price(self, pieces: tuple[str, ...], costs: Costs, share: float, holding: int) -> float:
        """Per contact of the team, what the index costs asked for ``pieces``."""
        chains = _chains(costs.grammar, pieces)
        parts = [reduce(and_, (self.masks.get(trigram, 0) for trigram in chain), -1) for chain in chains]
        entries = sum(self._share(self.masks.get(trigram, 0)) for trigram in set(itertools.chain(*chains)))
        return self._cost(costs, entries, parts, share, holding)

    def _cost(self, costs: Costs, entries: float, parts: list[int], share: float, holding: int) -> float:
        """Per contact of the team: the ``entries`` read (a share of the team for each
        trigram), and the contacts found, each at its cost: those holding the text (``share``
        of the team) and those holding every part asked for (``parts``: who of the spread
        sample holds each) without the text (``holding`` of the spread sample). Where the
        sample holds none such, a sample of SAMPLE cannot tell 1 in 10,000 from 1 in 100,000:
        the parts are taken as found apart (a name's and a number's are), and together by
        no more than UNSEEN of the sample (``uez58`` is held by no one of 4,000 and by 366 of
        1M, ``uez58`` with ``542`` by one)."""
        together = reduce(and_, parts, -1) & ~holding
        if together > 0:
            found = together.bit_count() / self.size
        else:
            found = min(UNSEEN / self.size, math.prod(self._share(part) for part in parts))
        return costs.entry * entries + costs.check * (share + found)

    def _share(self, mask: int) -> float:
        """The share of the team holding what ``mask`` says the spread sample holds."""
        return max(mask.bit_count(), UNSEEN) / self.size


def _bits(mask: int) -> Iterator[int]:
    """The positions of the bits set in ``mask`` (not negative)."""
    while mask > 0:
        low = mask & -mask
        yield low.bit_length() - 1
        mask ^= low


@lru_cache(maxsize=4096)
def _chains(grammar: Grammar, pieces: tuple[str, ...]) -> list[list[str]]:
    """``grammar.chains``, kept: a plan prices the same pieces many times over."""
    return grammar.chains(pieces)


def _units(text: str, grammar: Grammar) -> list[Unit]:
    """The first of each trigram the index may be asked for to find ``text``."""
    units: dict[str, Unit] = {}
    for unit in grammar.units(text):
        units.setdefault(unit[0], unit)
    return list(units.values())


def _joined(text: str, units: list[Unit]) -> tuple[str, ...]:
    """The parts of ``text`` that ask for ``units``, overlapping ones made one piece, in order."""
    pieces: list[str] = []
    begin = end = -1
    for _, start, stop in sorted(units, key=lambda unit: unit[1:]):
        if start < end:
            end = max(end, stop)
            continue
        if end >= 0:
            pieces.append(text[begin:end])
        begin, end = start, stop
    if end >= 0:
        pieces.append(text[begin:end])
    return tuple(pieces)


def _rounded(rows: float) -> int:
    """A walk's length: a power of two from WINDOW up (a few lengths, each its own plan)."""
    return max(WINDOW, 1 << math.ceil(math.log2(max(rows, 1))))


_kept: WeakKeyDictionary[Any, dict[str, Sample]] = WeakKeyDictionary()
_taking: set[tuple[int, str]] = set()  # samples being taken again, apart
_lock = threading.Lock()
log = logging.getLogger(__name__)


def kept(database: Any, team_id: str, take: Callable[[], Sample], take_apart: Callable[[], Sample]) -> Sample:
    """The team's sample in ``database`` (an engine). The first is taken here, by ``take``;
    one KEEP seconds old, or one that says the team has contacts to fold, is used while
    ``take_apart`` folds them and takes the next on a thread of its own (taking one at 1M
    contacts costs 0.5 to 0.6 s, folding them 2 to 5 s, which no search should wait for)."""
    key = (id(database), team_id)
    with _lock:
        samples = _kept.setdefault(database, {})
        sample = samples.get(team_id)
    if sample is None:
        sample = take()
        _keep(samples, team_id, sample)
    with _lock:
        due = sample.unfolded or time.monotonic() - sample.taken >= KEEP
        again = due and key not in _taking
        if again:
            _taking.add(key)
    if again:
        threading.Thread(target=_take_again, args=(samples, sample, take_apart, key), daemon=True).start()
    return sample


def _take_again(
    samples: dict[str, Sample], old: Sample, take: Callable[[], Sample], key: tuple[int, str]
) -> None:
    team_id = key[1]
    try:
        _keep(samples, team_id, take())
    except Exception:  # the old sample serves on; a search after KEEP seconds tries again
        old.unfolded = False
        log.exception("taking team %s's search sample failed", team_id)
    finally:
        with _lock:
            _taking.discard(key)


def _keep(samples: dict[str, Sample], team_id: str, sample: Sample) -> None:
    with _lock:
        samples.pop(team_id, None)
        samples[team_id] = sample
        while len(samples) > TEAMS:
            del samples[next(iter(samples))]
