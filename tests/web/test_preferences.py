from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Tenant


@pytest.fixture
def member(tenant: Tenant) -> dict[str, Any]:
    audience = tenant.audience("Weekly Digest")
    weekly = tenant.post(f"/api/v1/audiences/{audience['id']}/topics", json={"name": "Weekly"}).json()
    launches = tenant.post(
        f"/api/v1/audiences/{audience['id']}/topics",
        json={"name": "Launches", "description": "New products", "default_subscribed": "opt-in"},
    ).json()
    contact = tenant.contact(audience["id"], "reader@example.net")
    path = contact["unsubscribe_url"].removeprefix("http://roster.test")
    return {"audience": audience, "contact": contact, "weekly": weekly, "launches": launches, "path": path}


def state(tenant: Tenant, member: dict[str, Any]) -> dict[str, Any]:
    base = f"/api/v1/audiences/{member['audience']['id']}/contacts/{member['contact']['id']}"
    topics = {t["name"]: t["subscribed"] for t in tenant.get(f"{base}/topics").json()["data"]}
    return {"subscribed": tenant.get(base).json()["subscribed"], **topics}


def test_get_shows_the_page_and_changes_nothing(tenant: Tenant, member: dict[str, Any]) -> None:
    before = state(tenant, member)
    for _ in range(3):
        page = tenant.client.get(member["path"])
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert page.headers["referrer-policy"] == "no-referrer"
        assert page.headers["cache-control"] == "no-store"
        assert "set-cookie" not in page.headers
    html = page.text
    assert "Weekly Digest" in html
    assert "reader@example.net" in html
    assert f'value="{member["weekly"]["id"]}" checked' in html
    assert f'value="{member["launches"]["id"]}" >' in html
    assert "New products" in html
    assert "Unsubscribe from everything" in html
    assert state(tenant, member) == before == {"subscribed": True, "Weekly": True, "Launches": False}


def test_form_post_applies_topic_choices(tenant: Tenant, member: dict[str, Any]) -> None:
    response = tenant.client.post(
        member["path"], data={"action": "save", "topic": [member["launches"]["id"]]}
    )
    assert response.status_code == 200
    assert "saved" in response.text
    assert state(tenant, member) == {"subscribed": True, "Weekly": False, "Launches": True}


def test_a_post_that_names_no_action_changes_nothing(tenant: Tenant, member: dict[str, Any]) -> None:
    before = state(tenant, member)
    for form in ({}, {"topic": [member["launches"]["id"]]}, {"action": "explode"}):
        response = tenant.client.post(member["path"], data=form)
        assert response.status_code == 400, form
    assert tenant.client.post(member["path"], content=b"").status_code == 400
    assert state(tenant, member) == before == {"subscribed": True, "Weekly": True, "Launches": False}


def test_leave_and_rejoin(tenant: Tenant, member: dict[str, Any]) -> None:
    tenant.client.post(member["path"], data={"action": "leave"})
    assert state(tenant, member)["subscribed"] is False
    page = tenant.client.get(member["path"]).text
    assert "Subscribe again" in page
    tenant.client.post(member["path"], data={"action": "rejoin"})
    assert state(tenant, member)["subscribed"] is True


def test_unsubscribe_from_everything_leaves_every_audience(tenant: Tenant, member: dict[str, Any]) -> None:
    second = tenant.audience("Second")
    tenant.contact(second["id"], "reader@example.net")
    tenant.client.post(member["path"], data={"action": "everything"})
    assert state(tenant, member)["subscribed"] is False
    other = tenant.get(f"/api/v1/audiences/{second['id']}/contacts/{member['contact']['id']}").json()
    assert other["subscribed"] is False
    # A new audience does not silently subscribe someone who left everything ...
    third = tenant.audience("Third")
    assert tenant.contact(third["id"], "reader@example.net")["subscribed"] is False
    # ... unless the caller states consent explicitly.
    assert tenant.contact(third["id"], "reader@example.net", subscribed=True)["subscribed"] is True


def test_one_click_unsubscribe(tenant: Tenant, member: dict[str, Any]) -> None:
    response = tenant.client.post(
        member["path"],
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        follow_redirects=False,
    )
    assert response.status_code == 200
    assert "set-cookie" not in response.headers
    assert "location" not in response.headers
    assert state(tenant, member)["subscribed"] is False


def test_one_click_as_multipart(tenant: Tenant, member: dict[str, Any]) -> None:
    response = tenant.client.post(member["path"], files={"List-Unsubscribe": (None, "One-Click")})
    assert response.status_code == 200
    assert state(tenant, member)["subscribed"] is False


def test_tampered_and_unknown_tokens_get_the_same_404(tenant: Tenant, member: dict[str, Any]) -> None:
    token = member["path"].rsplit("/", 1)[1]
    assert len(token) == 66
    flipped = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert token[:44].isalnum()
    other_contact = token[:22] + "0" * 22 + token[44:]
    pages = []
    for bad in [flipped, other_contact, "x", "0" * 66, token + "0", "%00" * 3]:
        response = tenant.client.get(f"/unsubscribe/{bad}")
        assert response.status_code == 404
        pages.append(response.text)
        posted = tenant.client.post(f"/unsubscribe/{bad}", data={"action": "everything"})
        assert posted.status_code == 404
    assert len(set(pages)) == 1
    assert state(tenant, member)["subscribed"] is True


def test_link_dies_with_the_contact(tenant: Tenant, member: dict[str, Any]) -> None:
    tenant.delete(f"/api/v1/audiences/{member['audience']['id']}/contacts/{member['contact']['id']}")
    assert tenant.client.get(member["path"]).status_code == 404
