"""How a search plans from a team's sample: which way it looks, and what it asks the index for."""

from __future__ import annotations

import random
import re
from functools import cache

import pytest

from roster.storage.search import POSTGRESQL, SQLITE
from roster.storage.trigrams import CAP, FIRST, PG_TRGM, SAMPLE, WINDOW, Costs, Plan, Sample

FIRSTS = [
    *("james", "mary", "john", "patricia", "robert", "jennifer", "michael", "linda", "david", "elizabeth"),
    *("william", "barbara", "richard", "susan", "joseph", "jessica", "thomas", "sarah", "charles", "karen"),
    *("aarav", "priya", "wei", "mei", "olusegun", "amara", "mateo", "sofia", "lukas", "emma"),
]
LASTS = [
    *("smith", "johnson", "williams", "brown", "jones", "garcia", "miller", "davis", "rodriguez", "martinez"),
    *("hernandez", "lopez", "gonzalez", "wilson", "anderson", "thomas", "taylor", "moore", "jackson"),
    *("martin", "sharma", "patel", "wang", "li", "adeyemi", "okafor", "silva", "rossi", "schmidt", "dubois"),
]


def texts(count: int, rng: random.Random) -> list[str]:
    """Contacts as the search holds them: first name, last name, email, tab-separated."""
    people = []
    for _ in range(count):
        first, last = rng.choice(FIRSTS), rng.choice(LASTS)
        people.append(f"{first}\t{last}\t{first}.{last}{rng.randrange(10**6)}@example.com")
    return people


@cache
def team(costs: Costs, contacts: int = 1_000_000) -> Sample:
    """A team of 1M contacts as a database's search sees it."""
    rng = random.Random(3)
    ids = [f"contact_{n:022d}" for n in range(FIRST)]
    return Sample(texts(FIRST, rng), texts(SAMPLE, rng), contacts, costs.grammar, ids)


@pytest.mark.parametrize("costs", [POSTGRESQL, SQLITE])
def test_pieces_are_parts_of_the_text_in_order_that_every_holder_holds(costs: Costs) -> None:
    sample = team(costs)
    rng = random.Random(5)
    for _ in range(300):
        [text] = texts(1, rng)
        field = rng.choice([part for part in text.split("\t") if len(part) >= 3])
        start = rng.randrange(len(field) - 2)
        term = field[start : start + rng.randrange(3, 16)]
        plan = sample.plan(term, 10, costs)
        pattern = ".*".join(re.escape(piece) for piece in plan.pieces)
        assert re.search(pattern, term), (term, plan)  # what holds the text holds the pieces
        # and every trigram the pieces ask the index for: the sample prices what it finds
        asked = set().union(*costs.grammar.chains(plan.pieces))
        assert asked <= set(costs.grammar.held(text)), (term, plan, asked - set(costs.grammar.held(text)))


@pytest.mark.parametrize("costs", [POSTGRESQL, SQLITE])
def test_text_rare_together_is_asked_for_by_a_few_of_its_rarest_trigrams(costs: Costs) -> None:
    # 30 first names, 30 last names: each pair held by 1 contact in 900, in a team of 300,000
    # (of 1M, more than CAP would hold it)
    sample = team(costs, 300_000)
    plan = sample.plan("aarav.jackson", 50, costs)  # a page of 50: not all among the first
    asked = set().union(*costs.grammar.chains(plan.pieces))
    every = set().union(*costs.grammar.chains(("aarav.jackson",)))
    assert plan.pieces
    assert len(asked) <= len(every) // 2, plan


@pytest.mark.parametrize("costs", [POSTGRESQL, SQLITE])
def test_text_of_one_contact_is_asked_for_by_parts_found_apart(costs: Costs) -> None:
    # Part of a contact's email the spread sample holds no one else with (4,000 of 1M) may
    # be held by hundreds in the team (``uez58``: 366), each found then read and checked: the
    # index is also asked for a part held apart from it (a name's and a number's are).
    sample = team(costs)
    for text in texts(100, random.Random(9)):
        fragment = text.split("\t")[2].split("@")[0][-9:]
        plan = sample.plan(fragment, 10, costs)
        assert len(costs.grammar.chains(plan.pieces)) >= 2, (fragment, plan)


@pytest.mark.parametrize("costs", [POSTGRESQL, SQLITE])
def test_text_the_first_contacts_hold_often_is_walked_to(costs: Costs) -> None:
    for text in ("example.com", "smith"):
        plan = team(costs).plan(text, 10, costs)
        assert plan.walk == WINDOW  # the page is within the first contacts
        assert plan.bound == f"contact_{WINDOW - 1:022d}"  # the walk ends at that contact


@pytest.mark.parametrize("costs", [POSTGRESQL, SQLITE])
def test_text_crowding_the_first_contacts_is_priced_from_the_spread(costs: Costs) -> None:
    # Numbered contacts crowd a team's first ones with their short numbers: "_2000" (11 of
    # the first, none of the spread sample) is rare in the team, and its page lies 20,009
    # contacts in: the index, not the walk.
    first = [f"{text}_{n}" for n, text in enumerate(texts(FIRST, random.Random(4)))]
    sample = Sample(first, texts(SAMPLE, random.Random(5)), 1_000_000, costs.grammar)
    plan = sample.plan("_2000", 10, costs)
    assert plan.walk == 0
    assert plan.pieces


BLOCKS = [(f"contact_{n + 39:022d}", 40) for n in range(0, 10**6, 40)]  # 1M contacts, 40 a block


def held_beyond_the_first(holders: int) -> tuple[list[str], list[str]]:
    """First contacts none of which holds "qwv", and a spread sample ``holders`` of which do."""
    first = [f"x\ty\tx{n}@example.com" for n in range(FIRST)]
    spread = texts(SAMPLE, random.Random(6))
    spread[:holders] = [f"q\tq\tqwv{n}@example.com" for n in range(holders)]
    return first, spread


def test_beyond_the_first_contacts_the_index_is_asked() -> None:
    # Held by 1 in 1,000 of the spread sample, never among the first contacts: the walk's
    # page guessed at 34,576 contacts in (1.6 ms through blocks), the index at about 1,000
    # finds (8 ms), which a guess too short would add to the walk.
    first, spread = held_beyond_the_first(4)
    for folded in ([], BLOCKS):
        plan = Sample(first, spread, 10**6, POSTGRESQL.grammar, blocks=folded).plan("qwv", 10, POSTGRESQL)
        assert plan == Plan(0, plan.pieces)
        assert plan.pieces


def test_beyond_the_first_contacts_a_team_in_blocks_is_walked_to_a_block_s_end() -> None:
    # Held by 6 of the spread sample, more than CAP in the team: the index would give up.
    first, spread = held_beyond_the_first(6)
    plan = Sample(first, spread, 10**6, POSTGRESQL.grammar, blocks=BLOCKS).plan("qwv", 10, POSTGRESQL)
    assert plan.walk == 65_536  # the longest
    assert plan.bound == f"contact_{65_559:022d}"  # the end of the block that holds the 65,536th


@pytest.mark.parametrize("costs", [POSTGRESQL, SQLITE])
def test_text_crowding_the_first_contacts_of_a_team_in_blocks_is_walked_to(costs: Costs) -> None:
    # "_2000" again: its page 20,009 contacts in costs a walk through blocks about 1 ms, as
    # much as the index's finds.
    first = [f"{text}_{n}" for n, text in enumerate(texts(FIRST, random.Random(4)))]
    ids = [f"contact_{n:022d}" for n in range(FIRST)]
    sample = Sample(first, texts(SAMPLE, random.Random(5)), 10**6, costs.grammar, ids, BLOCKS)
    plan = sample.plan("_2000", 10, costs)
    assert plan.walk == 32_768
    assert plan.bound == ids[-1]


@pytest.mark.parametrize("costs", [POSTGRESQL, SQLITE])
def test_a_team_the_sample_holds_whole_is_walked_for_what_it_holds_often(costs: Costs) -> None:
    people = texts(10_000, random.Random(7))
    ids = [f"contact_{n:022d}" for n in range(len(people))]
    sample = Sample(people, texts(SAMPLE, random.Random(8)), len(people), costs.grammar, ids)
    common = sample.plan("example.com", 10, costs)
    assert common.walk == WINDOW
    assert common.bound == ids[WINDOW - 1]
    # Held by none of them: the index finds nothing at once.
    assert sample.plan("zqxj42", 10, costs).walk == 0


@pytest.mark.parametrize("costs", [POSTGRESQL, SQLITE])
def test_text_no_contact_holds_goes_to_the_index(costs: Costs) -> None:
    plan = team(costs).plan("zqxj42", 10, costs)
    assert plan.walk == 0
    assert plan.pieces


def test_text_more_than_cap_contacts_hold_beyond_the_first_is_walked_whole() -> None:
    first = [f"x\ty\tx{n}@example.com" for n in range(FIRST)]
    sample = Sample(first, texts(SAMPLE, random.Random(1)), 10**6, POSTGRESQL.grammar)
    # Held by a tenth of the team, but never among its first contacts: the index would find
    # more than CAP, so the team is walked.
    assert CAP < 10**6 // 10
    assert sample.plan("okafor", 10, POSTGRESQL) == Plan(0, ())


def test_without_a_trigram_the_index_holds_the_team_is_walked() -> None:
    assert team(POSTGRESQL).plan(".@.", 10, POSTGRESQL) == Plan(0, ())  # pg_trgm holds words only
    assert team(SQLITE).plan(".@.", 10, SQLITE).pieces == (".@.",)


def test_pg_trgm_is_asked_where_words_start_and_end() -> None:
    # ``es.`` asks for words ending in "es", ``.sm`` for words starting with "sm".
    assert PG_TRGM.chains(("es.", ".sm", "ith1")) == [["es "], ["  s", " sm"], ["ith", "th1"]]
    assert set(PG_TRGM.held("james\tsmith\tjames.smith1@x.io")) >= {"es ", "  s", " sm", "ith", "th1"}


def test_a_small_team_is_walked_whole() -> None:
    small = Sample([], [], 500, POSTGRESQL.grammar)
    plan = small.plan("smith", 10, POSTGRESQL)
    assert plan.walk >= 500
    assert plan.ends
