"""Contact search: the same answers from the trigram index, the walk, and both databases."""

from __future__ import annotations

import dataclasses
import threading
import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, text

from roster.ids import new_id
from roster.storage import search, trigrams
from roster.storage.db import Database
from tests.conftest import Tenant

PEOPLE = [
    ("ada@lovelace.org", "Ada", "Lovelace"),
    ("grace.hopper@navy.mil", "Grace", "Hopper"),
    ("alan@turing.net", "Alan", "Turing"),
    ("percent%sign@odd.io", "Per", "Cent"),
    ("quoted@odd.io", "Quo", 'Te"d'),
    ("obrien@odd.io", "Pat", "O'Brien"),
]


@pytest.fixture
def people(tenant: Tenant, other: Tenant) -> Tenant:
    for email, first, last in PEOPLE:
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
# sample holding its first 2 contacts or all 6 (a walk then ends at the last one's ID), the
# team's contacts walked one by one or folded into blocks of one or two.
@pytest.mark.parametrize(
    ("small", "first", "walk", "cap", "folded"),
    [
        (trigrams.SMALL, trigrams.FIRST, None, trigrams.CAP, False),  # a small team's plan: the walk
        (2, 2, None, trigrams.CAP, False),  # the plan the sample gives
        (2, 8, None, trigrams.CAP, False),  # the plan a sample of the whole team gives
        (2, 2, 0, trigrams.CAP, False),  # the index first
        (2, 2, 1, trigrams.CAP, False),  # the first contact walked, then the index
        (2, 2, 0, 1, False),  # the index first, finding too many: the walk
        (2, 2, 1, 1, False),  # the first contact walked, the index finding too many, the walk
        (2, 2, None, trigrams.CAP, True),  # the plan the sample gives, over blocks
        (2, 8, None, trigrams.CAP, True),
        (2, 2, 1, trigrams.CAP, True),  # the blocks walked to the first contact, then the index
        (2, 2, 3, trigrams.CAP, True),  # to the third
        (2, 2, 1, 1, True),  # then the index finding too many: the walk through the blocks
    ],
)
def test_search_finds_substrings_of_names_and_emails(
    people: Tenant,
    db: Database,
    small: int,
    first: int,
    walk: int | None,
    cap: int,
    folded: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(trigrams, "SMALL", small)
    monkeypatch.setattr(trigrams, "FIRST", first)
    monkeypatch.setattr(trigrams, "SAMPLE", 8)
    monkeypatch.setattr(trigrams, "CAP", cap)
    if folded:
        fold_small(db, people, monkeypatch)
    if walk is not None:
        # A walk of a length given by its end (where the sample knows it) or counted off.
        ends = first_contact_ids(people)
        planned = search.plan
        monkeypatch.setattr(
            search,
            "plan",
            lambda *args: dataclasses.replace(
                planned(*args), walk=walk, bound=ends[walk - 1] if folded and walk else None
            ),
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
    assert found(people, "io\nquo") == []  # no text spans two contacts of a block


# A contact written as SQL, with the ID given, and counted in its team.
ADD_CONTACT = (
    "INSERT INTO contacts (id, team_id, email, email_normalized, first_name, unsubscribed, created_at, "
    "updated_at) VALUES (:id, :team, :email, :email, :email, false, :now, :now)"
)
COUNTED = (
    "UPDATE team_counts SET contacts = contacts + 1 WHERE team_id = :team AND slot = "
    "(SELECT min(slot) FROM team_counts WHERE team_id = :team)"
)


def fold_small(
    db: Database, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> list[tuple[str, str, int, str]]:
    """Fold the team into blocks of one or two contacts, three contacts a transaction; its
    blocks (low, high, held, texts), in order."""
    monkeypatch.setattr(search, "FOLD", 1)
    monkeypatch.setattr(search, "CHUNK", 3)
    for database in (search._SQLite, search._PostgreSQL):
        monkeypatch.setattr(database, "block", 50)
        monkeypatch.setattr(database, "short", 0)  # every walk through the blocks
    search.fold(db.run_read(lambda conn: conn.engine), tenant.id)
    return blocks(db, tenant)


def blocks(db: Database, tenant: Tenant) -> list[tuple[str, str, int, str]]:
    return db.run_read(
        lambda conn: [
            tuple(row)
            for row in conn.execute(
                text("SELECT low, high, held, texts FROM contact_blocks WHERE team_id = :team ORDER BY high"),
                {"team": tenant.id},
            )
        ]
    )


def test_a_team_folds_into_blocks_of_its_contacts_in_order(
    people: Tenant, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = fold_small(db, people, monkeypatch)
    ids = first_contact_ids(people)
    assert [low for low, *_ in made] == ["", *[high for _, high, *_ in made[:-1]]]  # one after another
    assert made[-1][1] == ids[-1]  # to the last contact
    assert sum(held for _, _, held, _ in made) == 6
    assert all(len(texts.encode()) <= 50 or held == 1 for _, _, held, texts in made)
    assert "\n".join(texts for *_, texts in made) == "\n".join(
        f"{first}\t{last}\t{email}".lower() for email, first, last in PEOPLE
    )
    assert blocks(db, people) == made  # folded again: nothing new
    search.fold(db.run_read(lambda conn: conn.engine), people.id)
    assert blocks(db, people) == made


def test_search_over_blocks_follows_changes(
    people: Tenant, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A folded contact changed, added inside the blocks' range, or deleted: found as it is."""
    monkeypatch.setattr(trigrams, "SMALL", 2)
    made = fold_small(db, people, monkeypatch)
    assert found(people, "turing") == ["alan@turing.net"]
    [alan] = people.sendx("GET", "/contact", params={"search": "turing"}).json()
    people.sendx("PUT", f"/contact/{alan['id']}", json={"lastName": "Kay", "email": "alan@kay.net"})
    assert found(people, "turing") == []
    assert found(people, "kay.n") == ["alan@kay.net"]
    # A contact with an ID older than the team's first (one imported with its ID, or written
    # late by a slow transaction): the first block holds its text.
    oldest = "contact_" + "0" * 22
    row = {"id": oldest, "team": people.id, "email": "edsger@dijkstra.nl", "now": datetime.now(UTC)}
    db.run_write(lambda conn: [conn.execute(text(statement), row) for statement in (ADD_CONTACT, COUNTED)])
    assert found(people, "dijkstra") == ["edsger@dijkstra.nl"]
    assert found(people, "er")[:2] == ["edsger@dijkstra.nl", "grace.hopper@navy.mil"]
    people.sendx("DELETE", f"/contact/{alan['id']}")
    assert found(people, "kay.n") == []
    assert found(people, "alan") == []
    after = blocks(db, people)
    assert [(low, high) for low, high, *_ in after] == [(low, high) for low, high, *_ in made]
    assert "edsger" in after[0][3]
    assert "kay" in "".join(texts for *_, texts in after)


def test_blocks_grown_by_changes_are_made_again(
    people: Tenant, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = fold_small(db, people, monkeypatch)
    ada = people.sendx("GET", "/contact", params={"search": "lovelace"}).json()[0]
    for name in ["Augusta", "Byron", "King", "Countess"]:
        people.sendx("PUT", f"/contact/{ada['id']}", json={"lastName": name})
    grown = blocks(db, people)[0]
    assert all(name in grown[3] for name in ["lovelace", "augusta", "byron", "king", "countess"])
    search.fold(db.run_read(lambda conn: conn.engine), people.id)
    first = blocks(db, people)[0]
    assert first[:3] == made[0][:3]
    assert "countess" in first[3]
    assert "byron" not in first[3]
    assert found(people, "countess") == ["ada@lovelace.org"]
    assert found(people, "byron") == []


def test_search_follows_changes(people: Tenant) -> None:
    [alan] = people.sendx("GET", "/contact", params={"search": "turing"}).json()
    people.sendx("PUT", f"/contact/{alan['id']}", json={"lastName": "Kay", "email": "alan@kay.net"})
    assert found(people, "turing") == []
    assert found(people, "kay.n") == ["alan@kay.net"]
    people.sendx("DELETE", f"/contact/{alan['id']}")
    assert found(people, "alan") == []


def kept_sample(engine: Engine, team_id: str) -> trigrams.Sample:
    """The sample searches of the team use now."""

    def unexpected() -> trigrams.Sample:
        raise AssertionError("the sample is kept")

    return trigrams.kept(engine, team_id, unexpected, unexpected)


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
        return kept_sample(engine, people.id)

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


def test_a_team_searched_is_folded_on_a_thread_of_its_own(
    people: Tenant, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(trigrams, "SMALL", 2)  # six contacts: sampled,
    monkeypatch.setattr(search, "FOLD", 2)  # and enough to fold
    for database in (search._SQLite, search._PostgreSQL):
        monkeypatch.setattr(database, "block", 50)
    engine = db.run_read(lambda conn: conn.engine)
    assert blocks(db, people) == []
    assert found(people, "love") == ["ada@lovelace.org"]  # planned from a sample without blocks
    deadline = time.monotonic() + 10
    while not kept_sample(engine, people.id).folded and time.monotonic() < deadline:
        time.sleep(0.01)
    sample = kept_sample(engine, people.id)
    assert sample.folded == first_contact_ids(people)[-1]  # the next sample knows the blocks
    assert not sample.unfolded
    assert sum(held for _, _, held, _ in blocks(db, people)) == 6
    assert found(people, "love") == ["ada@lovelace.org"]


def test_a_contact_written_while_the_team_is_folded_is_in_its_block(
    people: Tenant, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL: a contact added by a transaction still open when a fold begins, with an ID
    inside the range a new block covers: the fold waits for it (the triggers' lock), then
    holds its text. (SQLite has one writer: a fold cannot begin while the write is open.)"""
    if db.is_sqlite:
        pytest.skip("SQLite: one writer at a time")
    monkeypatch.setattr(trigrams, "SMALL", 2)
    fold_small(db, people, monkeypatch)
    engine = db.run_read(lambda conn: conn.engine)  # the one searches read and fold through
    with search._folding(engine, people.id) as conn:  # one transaction, though reads run without
        first, second = (conn.exec_driver_sql("SELECT txid_current()").scalar() for _ in range(2))
    assert first == second
    row = {
        "id": new_id("contact"),
        "team": people.id,
        "email": "barbara@liskov.org",
        "now": datetime.now(UTC),
    }
    with db.engine.connect() as writing:
        transaction = writing.begin()
        writing.execute(text(ADD_CONTACT), row)  # counted once committed: the API's writes count too
        # A newer contact, written at once, so that the next block ends past the open one.
        people.sendx("POST", "/contact", json={"email": "donald@knuth.org"})
        folding = threading.Thread(target=search.fold, args=(engine, people.id))
        folding.start()
        folding.join(0.5)
        assert folding.is_alive()  # waiting for the open write
        transaction.commit()
    db.run_write(lambda conn: conn.execute(text(COUNTED), row))
    folding.join(10)
    [holding] = [block for block in blocks(db, people) if block[0] < row["id"] <= block[1]]
    assert "barbara" in holding[3]
    assert found(people, "liskov") == ["barbara@liskov.org"]
    assert found(people, "ar")[-1] == "barbara@liskov.org"


def test_a_walk_through_the_whole_team_begins_one_by_one(
    people: Tenant, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two letters (no trigram): the team's first two contacts one by one, then the blocks.
    monkeypatch.setattr(trigrams, "SMALL", 2)
    fold_small(db, people, monkeypatch)
    for database in (search._SQLite, search._PostgreSQL):
        monkeypatch.setattr(database, "short", 2)
    assert found(people, "ce", limit=1) == ["ada@lovelace.org"]  # among the first two
    assert found(people, "ce") == ["ada@lovelace.org", "grace.hopper@navy.mil", "percent%sign@odd.io"]
    assert found(people, "od", offset=1) == ["quoted@odd.io", "obrien@odd.io"]
