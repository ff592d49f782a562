"""Contact search: the same answers from the trigram index, the walk, and both databases."""

from __future__ import annotations

import pytest

from roster.storage import search
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


# Both databases first walk a window of the team's first contacts (the whole team when it is
# no larger), then the whole team for text found there WALK_AT times or more; then the
# trigram index answers, or the full walk for text more than CAP contacts hold.
@pytest.mark.parametrize(
    ("window", "walk_at", "cap"),
    [
        (search.WINDOW, search.WALK_AT, search.CAP),
        (search.WINDOW, 1, search.CAP),
        (1, 1, search.CAP),
        (search.WINDOW, 10**6, search.CAP),
        (0, search.WALK_AT, search.CAP),
        (0, search.WALK_AT, 1),
    ],
)
def test_search_finds_substrings_of_names_and_emails(
    people: Tenant, window: int, walk_at: int, cap: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search, "WINDOW", window)
    monkeypatch.setattr(search, "WALK_AT", walk_at)
    monkeypatch.setattr(search, "CAP", cap)
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
    assert len(found(people, ".io")) == 3


def test_search_follows_changes(people: Tenant) -> None:
    [alan] = people.sendx("GET", "/contact", params={"search": "turing"}).json()
    people.sendx("PUT", f"/contact/{alan['id']}", json={"lastName": "Kay", "email": "alan@kay.net"})
    assert found(people, "turing") == []
    assert found(people, "kay.n") == ["alan@kay.net"]
    people.sendx("DELETE", f"/contact/{alan['id']}")
    assert found(people, "alan") == []
