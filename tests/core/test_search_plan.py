"""How a search plans from a team's sample: which way it looks, and what it asks the index for."""

from __future__ import annotations

import random
import re

from roster.storage.search import POSTGRESQL, SQLITE
from roster.storage.trigrams import CAP, FIRST, Plan, Sample

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


def team(contacts: int = 1_000_000) -> Sample:
    rng = random.Random(3)
    return Sample(texts(FIRST, rng), texts(1_000, rng), contacts)


def test_pieces_are_parts_of_the_text_in_order_so_every_holder_is_found() -> None:
    sample = team()
    rng = random.Random(5)
    for _ in range(300):
        text = rng.choice(texts(1, rng))
        start = rng.randrange(len(text) - 3)
        term = text[start : start + rng.randrange(3, 16)].replace("\t", "")
        if len(term) < 3:
            continue
        for costs in (POSTGRESQL, SQLITE):
            plan = sample.plan(term, 10, costs)
            pattern = ".*".join(re.escape(piece) for piece in plan.pieces)
            assert re.search(pattern, term), (term, plan)  # what holds the text holds the pieces
            if costs.words_only:
                assert all(piece.isalnum() for piece in plan.pieces), (term, plan)


def test_text_rare_together_is_asked_for_by_a_few_of_its_rarest_trigrams() -> None:
    sample = team()  # 30 first names, 30 last names: each pair held by 1 contact in 900
    postgresql = sample.plan("aarav.jackson", 50, POSTGRESQL)  # a page of 50: not all early
    sqlite = sample.plan("aarav.jackson", 50, SQLITE)
    # pg_trgm holds the trigrams of words: one piece of each name, not the eleven trigrams.
    assert len(postgresql.pieces) >= 2
    assert sum(len(piece) - 2 for piece in postgresql.pieces) < 11
    assert any(piece in "aarav" for piece in postgresql.pieces)
    assert any(piece in "jackson" for piece in postgresql.pieces)
    # FTS5 holds trigrams across the dot, rarer than either name's.
    assert sum(len(piece) - 2 for piece in sqlite.pieces) < 11
    assert any("." in piece for piece in sqlite.pieces), sqlite


def test_text_the_first_contacts_hold_often_is_walked_to() -> None:
    sample = team()
    plan = sample.plan("example.com", 10, POSTGRESQL)
    assert 0 < plan.walk <= 1_024  # the page is within the first contacts
    plan = sample.plan("smith", 10, SQLITE)
    assert 0 < plan.walk <= 1_024


def test_text_no_contact_holds_goes_to_the_index() -> None:
    assert team().plan("zqxj42", 10, POSTGRESQL) == Plan(0, team().plan("zqxj42", 10, POSTGRESQL).pieces)
    assert team().plan("zqxj42", 10, SQLITE).walk == 0


def test_text_more_than_cap_contacts_hold_beyond_the_first_is_walked_whole() -> None:
    sample = Sample([f"x\ty\tx{n}@example.com" for n in range(FIRST)], texts(1_000, random.Random(1)), 10**6)
    # Held by a tenth of the team, but never among its first contacts: the index would find
    # more than CAP, so the team is walked.
    assert CAP < 10**6 // 10
    assert sample.plan("okafor", 10, POSTGRESQL) == Plan(0, ())


def test_without_a_trigram_the_index_holds_the_team_is_walked() -> None:
    assert team().plan("a.b", 10, POSTGRESQL) == Plan(0, ())  # pg_trgm holds words only
    assert team().plan("a.b", 10, SQLITE).pieces == ("a.b",)


def test_a_small_team_is_walked_whole() -> None:
    small = Sample([], [], 500)
    plan = small.plan("smith", 10, POSTGRESQL)
    assert plan.walk >= 500
    assert plan.ends
