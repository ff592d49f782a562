from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from roster.storage.db import Database
from roster.storage.tables import topic_choices
from tests.conftest import Tenant


def topics_path(audience_id: str) -> str:
    return f"/api/v1/audiences/{audience_id}/topics"


def contact_topics(tenant: Tenant, audience_id: str, contact_id: str) -> dict[str, bool]:
    response = tenant.get(f"/api/v1/audiences/{audience_id}/contacts/{contact_id}/topics")
    assert response.status_code == 200
    return {item["name"]: item["subscribed"] for item in response.json()["data"]}


def make_topic(tenant: Tenant, audience_id: str, **body: Any) -> dict[str, Any]:
    response = tenant.post(topics_path(audience_id), json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_topic_crud(tenant: Tenant) -> None:
    audience = tenant.audience()
    weekly = make_topic(tenant, audience["id"], name="Weekly Newsletter", description="Our weekly digest")
    assert weekly["id"].startswith("topic_")
    assert weekly["default_subscribed"] == "auto"
    assert weekly["subscriber_count"] == 0
    assert set(weekly) == {
        "id",
        "name",
        "description",
        "default_subscribed",
        "subscriber_count",
        "created_at",
    }
    updates = make_topic(tenant, audience["id"], name="Product Updates", default_subscribed="opt-in")
    assert updates["description"] is None

    listed = tenant.get(topics_path(audience["id"])).json()
    assert listed == {"data": [weekly, updates], "total": 2}
    path = f"{topics_path(audience['id'])}/{updates['id']}"
    assert tenant.get(path).json() == updates

    patched = tenant.patch(path, json={"description": "New things", "default_subscribed": "auto"}).json()
    assert patched["name"] == "Product Updates"
    assert patched["description"] == "New things"
    assert patched["default_subscribed"] == "auto"

    assert tenant.delete(path).json() == {"id": updates["id"]}
    assert tenant.get(path).status_code == 404
    assert tenant.get(topics_path(audience["id"])).json()["total"] == 1


def test_topic_validation(tenant: Tenant) -> None:
    audience = tenant.audience()
    for body, field in [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "T", "default_subscribed": "always"}, "default_subscribed"),
        ({"name": "T", "description": 5}, "description"),
        ({"name": "T", "extra": True}, "extra"),
    ]:
        response = tenant.post(topics_path(audience["id"]), json=body)
        assert response.status_code == 422, body
        assert field in response.json()["message"]
    assert tenant.get(topics_path(audience["id"])).json()["total"] == 0


def choice_rows(db: Database, topic_id: str) -> int:
    query = select(func.count()).select_from(topic_choices).where(topic_choices.c.topic_id == topic_id)
    return int(db.run_read(lambda conn: conn.execute(query).scalar_one()))


def test_defaults_and_choices_drive_subscriptions_and_counts(tenant: Tenant, db: Database) -> None:
    audience = tenant.audience()
    people = [tenant.contact(audience["id"], f"t{i}@example.net") for i in range(4)]
    tenant.contact(audience["id"], "gone@example.net", subscribed=False)
    auto = make_topic(tenant, audience["id"], name="Auto")
    opt_in = make_topic(tenant, audience["id"], name="OptIn", default_subscribed="opt-in")
    assert choice_rows(db, auto["id"]) == choice_rows(db, opt_in["id"]) == 0

    # No row per contact was needed: defaults apply to everyone.
    assert contact_topics(tenant, audience["id"], people[0]["id"]) == {"Auto": True, "OptIn": False}
    counts = {
        t["name"]: t["subscriber_count"] for t in tenant.get(topics_path(audience["id"])).json()["data"]
    }
    assert counts == {"Auto": 4, "OptIn": 0}  # the unsubscribed member counts for neither

    choice_path = f"/api/v1/audiences/{audience['id']}/contacts/{people[0]['id']}/topics"
    response = tenant.patch(choice_path, json={"topic_id": auto["id"], "subscribed": False})
    assert response.status_code == 200
    assert response.json() == {"topic_id": auto["id"], "subscribed": False}
    tenant.patch(choice_path, json={"topic_id": opt_in["id"], "subscribed": True})
    people_1 = f"/api/v1/audiences/{audience['id']}/contacts/{people[1]['id']}/topics"
    tenant.patch(people_1, json={"topic_id": opt_in["id"], "subscribed": True})

    assert contact_topics(tenant, audience["id"], people[0]["id"]) == {"Auto": False, "OptIn": True}
    assert contact_topics(tenant, audience["id"], people[2]["id"]) == {"Auto": True, "OptIn": False}
    counts = {
        t["name"]: t["subscriber_count"] for t in tenant.get(topics_path(audience["id"])).json()["data"]
    }
    assert counts == {"Auto": 3, "OptIn": 2}
    assert tenant.get(f"{topics_path(audience['id'])}/{opt_in['id']}").json()["subscriber_count"] == 2

    # Leaving the audience takes the contact out of every topic's count.
    tenant.patch(f"/api/v1/audiences/{audience['id']}/contacts/{people[1]['id']}", json={"subscribed": False})
    counts = {
        t["name"]: t["subscriber_count"] for t in tenant.get(topics_path(audience["id"])).json()["data"]
    }
    assert counts == {"Auto": 2, "OptIn": 1}

    # Changing a default moves everyone who made no choice.
    tenant.patch(f"{topics_path(audience['id'])}/{auto['id']}", json={"default_subscribed": "opt-in"})
    assert contact_topics(tenant, audience["id"], people[2]["id"]) == {"Auto": False, "OptIn": False}


def test_topic_choice_errors(tenant: Tenant) -> None:
    audience, elsewhere = tenant.audience("A"), tenant.audience("B")
    person = tenant.contact(audience["id"], "choice@example.net")
    foreign_topic = make_topic(tenant, elsewhere["id"], name="Elsewhere")
    path = f"/api/v1/audiences/{audience['id']}/contacts/{person['id']}/topics"
    assert tenant.patch(path, json={"topic_id": foreign_topic["id"], "subscribed": True}).status_code == 404
    assert (
        tenant.patch(path, json={"topic_id": "topic_0000000000000000000000", "subscribed": True}).status_code
        == 404
    )
    for body, field in [
        ({"subscribed": True}, "topic_id"),
        ({"topic_id": foreign_topic["id"]}, "subscribed"),
        ({"topic_id": foreign_topic["id"], "subscribed": "no"}, "subscribed"),
    ]:
        response = tenant.patch(path, json=body)
        assert response.status_code == 422
        assert field in response.json()["message"]
    outsider = tenant.contact(elsewhere["id"], "outsider@example.net")
    not_member = f"/api/v1/audiences/{audience['id']}/contacts/{outsider['id']}/topics"
    assert tenant.get(not_member).status_code == 404


def test_removing_a_member_forgets_its_topic_choices(tenant: Tenant) -> None:
    audience, other_audience = tenant.audience("A"), tenant.audience("B")
    topic = make_topic(tenant, audience["id"], name="News")
    person = tenant.contact(audience["id"], "forget@example.net")
    tenant.contact(other_audience["id"], "forget@example.net")
    path = f"/api/v1/audiences/{audience['id']}/contacts/{person['id']}"
    tenant.patch(f"{path}/topics", json={"topic_id": topic["id"], "subscribed": False})
    tenant.delete(path)
    tenant.contact(audience["id"], "forget@example.net")
    assert contact_topics(tenant, audience["id"], person["id"]) == {"News": True}
