"""The importer on hostile files: what a user sees in the job and in their contacts."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from sqlalchemy import select

from roster.core import audiences, contacts, counts, custom_fields, imports, teams, webhooks
from roster.core.tabular import escape, read_csv, unescape
from roster.storage.db import Database
from roster.storage.tables import webhook_deliveries


@pytest.fixture
def team(db: Database) -> str:
    return str(db.run_write(lambda conn: teams.create_team(conn, "Import team").id))


def run(db: Database, team: str, data: str | bytes, fmt: str = "csv", **options: Any) -> Any:
    raw = data.encode() if isinstance(data, str) else data
    job = db.run_write(imports.create_job, team, f"test.{fmt}", fmt, imports.Options(**options), "running")
    return imports.run_job(db, team, job.id, io.BytesIO(raw))


def people(db: Database, team: str) -> dict[str, Any]:
    return {p.contact.email_normalized: p for p in db.run_read(contacts.page_profiles, team, 0, 100, None)}


def errors(db: Database, team: str, job: Any) -> list[tuple[int, str]]:
    return [(row.line, row.reason) for row in db.run_read(imports.job_errors, team, job.id)]


def reconciled(job: Any) -> bool:
    return bool(job.created_count + job.updated_count + job.skipped_count + job.failed_count == job.rows_read)


def test_bom_crlf_quoted_newlines_and_column_names(db: Database, team: str) -> None:
    data = (
        "\ufeffE-mail,First Name,Surname,Company\r\n"
        'ann@example.com,Ann,"Lee, Jr",Acme\r\n'
        'bo@example.com,Bo,"Two\nLines",\n'
        "cy@example.com,Cy,Po,Initech\n"
    )
    job = run(db, team, data)
    assert (job.state, job.rows_read, job.created_count, job.failed_count) == ("done", 3, 3, 0)
    found = people(db, team)
    assert found["ann@example.com"].contact.last_name == "Lee, Jr"
    assert found["bo@example.com"].contact.last_name == "Two\nLines"
    assert found["bo@example.com"].contact.company is None
    assert {p.contact.contact_source for p in found.values()} == {imports.SOURCE_IMPORT}


def test_bad_rows_are_reported_by_line_and_the_rest_imported(db: Database, team: str) -> None:
    db.run_write(custom_fields.create_field, team, {"name": "Seats", "field_type": 1})
    db.run_write(custom_fields.create_field, team, {"name": "Since", "field_type": 2})
    data = (
        "email,seats,since\n"
        "good@example.com,3,2024-01-02\n"  # line 2
        "not-an-email,3,2024-01-02\n"  # line 3
        '"multi@example.com",many,"2024-01-02"\n'  # line 4
        "late@example.com,4,yesterday\n"  # line 5
        ",5,2024-01-02\n"  # line 6
        + "x" * 250
        + "@example.com,1,2024-01-01\n"  # line 7: too long
        + "ok@example.com,7\n"  # line 8: a short row is empty at the end
        "a@example.com,1,2024-01-01,extra\n"  # line 9
    )
    job = run(db, team, data)
    assert (job.state, job.rows_read, job.created_count, job.failed_count) == ("done", 8, 2, 6)
    assert reconciled(job)
    reasons = dict(errors(db, team, job))
    assert sorted(reasons) == [3, 4, 5, 6, 7, 9]
    assert "not a valid email" in reasons[3]
    assert "`many` is not a number" in reasons[4]
    assert "`yesterday` is not a date" in reasons[5]
    assert "is required" in reasons[6]
    assert "at most 254" in reasons[7]
    assert "4 cells but the header has 3" in reasons[9]
    assert set(people(db, team)) == {"good@example.com", "ok@example.com"}


def test_invalid_utf8_fails_only_its_own_row(db: Database, team: str) -> None:
    data = b"email,first_name\nann@example.com,Ann\nbad@example.com,B\xff\xfeb\ncy@example.com,Cy\n"
    job = run(db, team, data)
    assert (job.rows_read, job.created_count, job.failed_count) == (3, 2, 1)
    assert errors(db, team, job) == [(3, "line is not valid UTF-8")]


def test_empty_file_and_header_only(db: Database, team: str) -> None:
    empty = run(db, team, b"")
    assert (empty.state, empty.error, empty.rows_read) == ("failed", "the file is empty", 0)
    header = run(db, team, "email,first_name\r\n")
    assert (header.state, header.rows_read, header.created_count) == ("done", 0, 0)
    no_email = run(db, team, "name,phone\nAnn,+14155550100\n")
    assert no_email.state == "failed"
    assert "no column holds the email" in no_email.error


def test_duplicates_collapse_to_one_contact_the_last_row_winning(db: Database, team: str) -> None:
    data = "email,first_name,last_name,tags\nann@example.com,Ann,Lee,a\nANN@example.com,Anne,,b\n"
    job = run(db, team, data)
    assert (job.rows_read, job.created_count, job.skipped_count) == (2, 1, 1)
    assert reconciled(job)
    ann = people(db, team)["ann@example.com"]
    assert (ann.contact.email, ann.contact.first_name, ann.contact.last_name) == (
        "ANN@example.com",
        "Anne",
        "Lee",
    )
    assert len(ann.tags) == 2


def test_existing_contacts_are_updated_or_skipped(db: Database, team: str) -> None:
    db.run_write(
        contacts.create_contact, team, {"email": "ann@example.com", "first_name": "Ann", "company": "Acme"}
    )
    data = "email,first_name,company\nann@example.com,Anna,\nnew@example.com,New,\n"
    skipped = run(db, team, data, on_conflict="skip")
    assert (skipped.created_count, skipped.updated_count, skipped.skipped_count) == (1, 0, 1)
    assert people(db, team)["ann@example.com"].contact.first_name == "Ann"
    updated = run(db, team, data)
    assert (updated.created_count, updated.updated_count) == (0, 2)
    ann = people(db, team)["ann@example.com"].contact
    assert (ann.first_name, ann.company) == ("Anna", "Acme")  # an empty cell keeps the value
    assert db.run_read(contacts.page_counted, team, 0, 10, None)[1] == 2


def test_a_control_character_in_a_cell_refuses_its_row_alone(db: Database, team: str) -> None:
    nul, bell = "\x00", "\x07"
    data = (
        "email,first_name,plan\n"
        "ok@example.com,Ok,pro\n"
        f"nul@example.com,A{nul}B,pro\n"
        f"bell@example.com,Bell,pr{bell}o\n"
        "after@example.com,After,free\n"
    )
    job = run(db, team, data, create_fields=True)
    assert job.state == "done", job.error
    assert (job.created_count, job.failed_count) == (2, 2)
    assert sorted(people(db, team)) == ["after@example.com", "ok@example.com"]
    assert errors(db, team, job) == [
        (3, "`first_name`: must not contain control characters (such as NUL)"),
        (4, "`plan`: must not contain control characters (such as NUL)"),
    ]


def test_imported_names_are_found_by_search_and_so_are_their_changes(db: Database, team: str) -> None:
    def found(text: str) -> list[str]:
        return [p.contact.email_normalized for p in db.run_read(contacts.page_profiles, team, 0, 10, text)]

    run(
        db,
        team,
        "email,first_name,last_name,company\nann@example.com,Åsa,Öberg,Älg AB\nbo@example.com,Bo,Berg,\n",
    )
    assert found("ÅSA") == found("öberg") == ["ann@example.com"]
    # Every field given: the staged text; some given: made from them and the kept ones.
    run(db, team, "email,first_name,last_name,company\nann@example.com,Élodie,Lind,Acme\n")
    run(db, team, "email,last_name\nbo@example.com,Straße\n")
    assert found("åsa") == found("berg") == []
    assert found("ÉLODIE") == found("lind") == ["ann@example.com"]
    assert found("bo") == found("STRASSE") == ["bo@example.com"]


def test_lists_tags_flags_and_custom_fields_are_imported_and_counted(db: Database, team: str) -> None:
    main = db.run_write(audiences.create_list, team, {"name": "Main"})
    db.run_write(custom_fields.create_field, team, {"name": "Plan", "field_type": 0})
    data = (
        "email,lists,unsubscribed_lists,tags,unsubscribed,plan,color\n"
        "ann@example.com,Main;Weekly,,vip;beta,false,pro,red\n"
        "bo@example.com,Main,Weekly,vip,true,free,blue\n"
    )
    job = run(db, team, data, tags=("imported",))
    assert job.unknown_columns == ["color"]
    found = people(db, team)
    weekly = next(
        row for row in db.run_read(audiences.page_audiences, team, 0, 10, None) if row.name == "Weekly"
    )
    assert set(found["ann@example.com"].lists) == {main.id, weekly.id}
    assert len(found["ann@example.com"].tags) == 3
    assert found["bo@example.com"].contact.unsubscribed is True
    assert list(found["ann@example.com"].values.values()) == ["pro"]
    assert db.run_read(counts.totals, main.id) == (2, 1)  # bo unsubscribed from everything


def test_unknown_columns_become_text_fields_when_asked(db: Database, team: str) -> None:
    run(db, team, "email,Favourite Color\nann@example.com,red\n", create_fields=True)
    fields = db.run_read(custom_fields.page_fields, team, 0, 10, None)
    assert [(row.name, row.field_type) for row in fields] == [("Favourite Color", 0)]
    assert list(people(db, team)["ann@example.com"].values.values()) == ["red"]


def test_two_columns_feeding_one_field_keep_the_later_cell(db: Database, team: str) -> None:
    db.run_write(custom_fields.create_field, team, {"name": "Plan", "field_type": 0})
    data = "email,plan,Tier\nann@example.com,free,pro\nbo@example.com,free,\n"
    job = run(db, team, data, columns={"Tier": "field:Plan"})
    assert (job.state, job.created_count, job.failed_count) == ("done", 2, 0)
    found = people(db, team)
    assert list(found["ann@example.com"].values.values()) == ["pro"]
    assert list(found["bo@example.com"].values.values()) == ["free"]  # an empty cell feeds nothing
    again = run(db, team, data.replace("pro", "team"), columns={"Tier": "field:Plan"})
    assert (again.state, again.updated_count) == ("done", 2)
    assert list(people(db, team)["ann@example.com"].values.values()) == ["team"]


def test_ndjson_records(db: Database, team: str) -> None:
    data = (
        '{"email": "ann@example.com", "first_name": "Ann", "tags": ["a", "b"]}\n'
        "\n"
        "not json\n"
        "[1, 2]\n"
        '{"email": "bo@example.com", "custom_fields": {"Plan": "pro"}}\n'
    )
    job = run(db, team, data, fmt="ndjson", create_fields=True)
    assert (job.rows_read, job.created_count, job.failed_count) == (4, 2, 2)
    assert [line for line, _ in errors(db, team, job)] == [3, 4]
    assert len(people(db, team)["ann@example.com"].tags) == 2


def test_imported_contacts_raise_contact_created_in_bulk(db: Database, team: str) -> None:
    db.run_write(
        webhooks.create_webhook, team, {"url": "https://hooks.example.com/in", "contact_created": True}
    )
    run(db, team, "email\n" + "".join(f"p{n}@example.com\n" for n in range(30)))
    events = db.run_read(
        lambda conn: conn.execute(
            select(webhook_deliveries.c.payload).where(webhook_deliveries.c.team_id == team)
        ).all()
    )
    emails = sorted(json.loads(row.payload)["data"]["email"] for row in events)
    assert emails == sorted(f"p{n}@example.com" for n in range(30))


def test_a_resumed_job_starts_after_its_last_whole_batch(
    db: Database, team: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(imports, "BATCH_ROWS", 10)
    data = "email\n" + "".join(f"r{n}@example.com\n" for n in range(35))
    job = db.run_write(imports.create_job, team, "r.csv", "csv", imports.Options(), "running")
    stream = io.BytesIO(data.encode())
    reader = imports.records("csv", stream)
    importer = imports.Importer(db, job)
    with pytest.raises(RuntimeError):
        importer.run(_stop_after(reader, 25))
    interrupted = db.run_read(imports.get_job, team, job.id)
    assert (interrupted.rows_read, interrupted.created_count) == (20, 20)  # two whole batches
    finished = imports.run_job(db, team, job.id, io.BytesIO(data.encode()))
    assert (finished.state, finished.rows_read, finished.created_count, finished.updated_count) == (
        "done",
        35,
        35,
        0,
    )
    assert len(people(db, team)) == 35


def _stop_after(records: Any, count: int) -> Any:
    for number, record in enumerate(records):
        if number == count:
            raise RuntimeError("killed")
        yield record


@pytest.mark.parametrize(
    "cell", ["=SUM(A1)", "+1", "-2", "@cmd", "\tx", "\rx", "'=quoted", "'plain", "plain"]
)
def test_csv_cells_are_neutralised_and_read_back(cell: str) -> None:
    escaped = escape(cell)
    assert not escaped.startswith(("=", "+", "-", "@", "\t", "\r"))
    assert unescape(escaped) == cell


def test_a_list_or_tag_that_cannot_be_resolved_fails_only_its_row(db: Database, team: str) -> None:
    db.run_write(audiences.create_list, team, {"name": "Twice"})
    db.run_write(audiences.create_list, team, {"name": "twice"})
    data = (
        "email,lists,tags\n"
        "a@example.com,Twice,\n"
        "b@example.com,list_0000000000000000000000,\n"
        "c@example.com,,tag_0000000000000000000000\n"
        "d@example.com,Fresh,fresh\n"
    )
    job = run(db, team, data)
    assert (job.created_count, job.failed_count) == (1, 3)
    reasons = dict(errors(db, team, job))
    assert "names more than one list" in reasons[2]
    assert "does not exist" in reasons[3]
    assert "does not exist" in reasons[4]
    assert set(people(db, team)) == {"d@example.com"}


def test_an_unfinished_reader_may_be_closed_after_its_stream() -> None:
    stream = io.BytesIO(b"email\na@example.com\nb@example.com\n")
    records = read_csv(stream)
    assert next(records).cells == ["a@example.com"]
    stream.close()  # as when an interrupted import's traceback is collected after the stream
    records.close()
