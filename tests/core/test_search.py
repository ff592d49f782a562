"""Contact search: the same answers from the trigram index, the walk, and both databases."""

from __future__ import annotations

import dataclasses
import time

import pytest

from roster.storage import search, trigrams
from roster.storage.db import Database
from tests.conftest import Tenant


@pytest.fixture
def people(tenant: Tenant, other: Tenant) -> Tenant:
    for email, first, last in [
        ("ada@lovelace.org", "Ada", "Lovelace"),
        ("grace.hopper@navy.mil", "Grace", "Hopper"),
        ("alan@turing.net", "Alan", "Turing"),
        ("percent%sign@odd.io", "Per", "Cent"),
        ("quoted@odd.io", "Quo", 'Te"d'),
        ("obrien@odd.io", "Pat", "O'Brien"),
    ]:
        response = tenant.sendx(
            "POST", "/contact", json={"email": email, "firstName": first, "lastName": last}
        )
        assert response.status_code == 201, response.text
    other.sendx("POST", "/contact", json={"email": "ada@elsewhere.org", "firstName": "Ada"})
    return tenant


def found(tenant: Tenant, term: str, **params: object) -> list[str]:
    response = tenant.sendx("GET", "/contact", params={"search": term, **params})
    assert response.status_code == 200, response.text
    return [contact["email"] for contact in response.json()]


# A search walks the team, or asks the trigram index, or both, as the team's sample prices
# them (none for a team of SMALL contacts or fewer: the walk). Each way must give the same
# answers: the plan is forced here to each, on a team sampled (SMALL 2) and not, the
# sample holding its first 2 contacts or all 6 (a walk then ends at the last one's ID).
@pytest.mark.parametrize(
    ("small", "first", "walk", "cap"),
    [
        (trigrams.SMALL, trigrams.FIRST, None, trigrams.CAP),  # a small team's plan: the walk
        (2, 2, None, trigrams.CAP),  # the plan the sample gives
        (2, 8, None, trigrams.CAP),  # the plan a sample of the whole team gives
        (2, 2, 0, trigrams.CAP),  # the index first
        (2, 2, 1, trigrams.CAP),  # the first contact walked, then the index
        (2, 2, 0, 1),  # the index first, finding too many: the walk
        (2, 2, 1, 1),  # the first contact walked, the index finding too many, the walk
    ],
)
def test_search_finds_substrings_of_names_and_emails(
    people: Tenant, small: int, first: int, walk: int | None, cap: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(trigrams, "SMALL", small)
    monkeypatch.setattr(trigrams, "FIRST", first)
    monkeypatch.setattr(trigrams, "SAMPLE", 8)
    monkeypatch.setattr(trigrams, "CAP", cap)
    if walk is not None:
        planned = search.plan
        monkeypatch.setattr(
            search, "plan", lambda *args: dataclasses.replace(planned(*args), walk=walk, bound=None)
        )
    assert found(people, "LOVE") == ["ada@lovelace.org"]
    assert found(people, "race") == ["grace.hopper@navy.mil"]
    assert found(people, "ace") == ["ada@lovelace.org", "grace.hopper@navy.mil"]
    assert found(people, "hopp") == ["grace.hopper@navy.mil"]
    assert found(people, ".org") == ["ada@lovelace.org"]
    assert found(people, "al") == ["alan@turing.net"]  # two letters: the walk
    assert found(people, "CE") == ["ada@lovelace.org", "grace.hopper@navy.mil", "percent%sign@odd.io"]
    assert found(people, "odd.io") == ["percent%sign@odd.io", "quoted@odd.io", "obrien@odd.io"]
    assert found(people, "o'bri") == ["obrien@odd.io"]  # text is data, never SQL
    assert found(people, "'; drop table contacts; --") == []
    assert found(people, "t%s") == ["percent%sign@odd.io"]
    assert found(people, 'e"d') == ["quoted@odd.io"]
    assert found(people, "zzz") == []
    assert found(people, "odd.io", offset=1, limit=1) == ["quoted@odd.io"]
    assert found(people, "odd.io", limit=2) == ["percent%sign@odd.io", "quoted@odd.io"]  # the oldest
    assert len(found(people, ".io")) == 3


def test_search_follows_changes(people: Tenant) -> None:
    [alan] = people.sendx("GET", "/contact", params={"search": "turing"}).json()
    people.sendx("PUT", f"/contact/{alan['id']}", json={"lastName": "Kay", "email": "alan@kay.net"})
    assert found(people, "turing") == []
    assert found(people, "kay.n") == ["alan@kay.net"]
    people.sendx("DELETE", f"/contact/{alan['id']}")
    assert found(people, "alan") == []


def first_contact_ids(tenant: Tenant) -> list[str]:
    return [contact["id"] for contact in tenant.sendx("GET", "/contact", params={"limit": 100}).json()]


def test_a_sample_kept_too_long_serves_while_the_next_is_taken(
    people: Tenant, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(trigrams, "SMALL", 2)  # six contacts: sampled,
    monkeypatch.setattr(trigrams, "FIRST", 8)  # all of them among the first
    monkeypatch.setattr(trigrams, "SAMPLE", 8)

    engine = db.run_read(lambda conn: conn.engine)  # the one searches read through

    def kept() -> trigrams.Sample:
        def unexpected() -> trigrams.Sample:
            raise AssertionError("the sample is kept")

        return trigrams.kept(engine, people.id, unexpected, unexpected)

    assert found(people, "love") == ["ada@lovelace.org"]
    first = kept()
    assert first.contacts == 6
    assert 1 <= len(first.spread) <= 6  # 2 points, up to 4 contacts from each
    assert all(text.count("\t") == 2 for text in first.spread)  # first name, last name, email
    assert first.marks == {trigrams.WINDOW: first_contact_ids(people)[-1]}  # a walk ends at the last
    people.sendx("POST", "/contact", json={"email": "ada.b@lovelace.org"})
    monkeypatch.setattr(trigrams, "KEEP", 0.0)
    # The old sample plans this search (a walk to its last contact, the newer one beyond it);
    # the next is taken on a thread of its own.
    assert found(people, "love") == ["ada@lovelace.org", "ada.b@lovelace.org"]
    monkeypatch.setattr(trigrams, "KEEP", 600.0)
    deadline = time.monotonic() + 10
    while kept() is first and time.monotonic() < deadline:
        time.sleep(0.01)
    assert kept().contacts == 7
