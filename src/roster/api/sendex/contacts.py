"""Sendex contacts of an audience, and their topic subscriptions."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Response, delete, get, patch, post
from litestar.params import JSONBody, QueryParameter
from sqlalchemy import Connection

from roster.api.common import MAX_OFFSET, Ctx, PathId, body, sent
from roster.api.sendex import render, schemas
from roster.core import consent, memberships, topics
from roster.core.clock import iso
from roster.storage.db import Record

Limit = Annotated[int, QueryParameter(ge=1, le=200, description="Number of contacts to return (1–200)")]
Offset = Annotated[
    int, QueryParameter(ge=0, le=MAX_OFFSET, description=f"Pagination offset (at most {MAX_OFFSET:,})")
]


class ContactController(Controller):
    path = "/audiences/{audience_id:str}/contacts"
    tags = ["Contacts"]

    @get("/", summary="List contacts")
    async def list_contacts(
        self,
        ctx: Ctx,
        audience_id: PathId,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> schemas.ContactList:
        rows, total = await ctx.db.read(memberships.page_members, ctx.team_id, audience_id, limit, offset)
        return schemas.ContactList(
            data=[render.contact(row, ctx.links) for row in rows],
            total=total,
            limit=limit,
            offset=offset,
        )

    @post("/", summary="Add or update a contact (upsert by email)", **body(schemas.ContactCreate))
    async def add_contact(
        self,
        ctx: Ctx,
        audience_id: PathId,
        data: JSONBody[schemas.ContactCreate],
    ) -> Response[schemas.Contact]:
        fields = sent(data)
        email = fields.pop("email")
        row, created = await ctx.db.write(memberships.upsert_member, ctx.team_id, audience_id, email, fields)
        return Response(render.contact(row, ctx.links), status_code=201 if created else 200)

    @get("/{contact_id:str}", summary="Retrieve a contact")
    async def get_contact(self, ctx: Ctx, audience_id: PathId, contact_id: PathId) -> schemas.Contact:
        row = await ctx.db.read(memberships.get_member, ctx.team_id, audience_id, contact_id)
        return render.contact(row, ctx.links)

    @patch("/{contact_id:str}", summary="Update a contact", **body(schemas.ContactUpdate))
    async def update_contact(
        self,
        ctx: Ctx,
        audience_id: PathId,
        contact_id: PathId,
        data: JSONBody[schemas.ContactUpdate],
    ) -> schemas.Contact:
        row = await ctx.db.write(memberships.update_member, ctx.team_id, audience_id, contact_id, sent(data))
        return render.contact(row, ctx.links)

    @delete("/{contact_id:str}", status_code=200, summary="Delete a contact from the audience")
    async def delete_contact(self, ctx: Ctx, audience_id: PathId, contact_id: PathId) -> schemas.Deleted:
        await ctx.db.write(memberships.remove_member, ctx.team_id, audience_id, contact_id)
        return schemas.Deleted(id=contact_id)

    @get("/{contact_id:str}/consent", summary="The contact's consent history, oldest first (extension)")
    async def get_contact_consent(
        self, ctx: Ctx, audience_id: PathId, contact_id: PathId, limit: Limit = 50, offset: Offset = 0
    ) -> schemas.ConsentList:
        def read(conn: Connection) -> list[Record]:
            memberships.get_member(conn, ctx.team_id, audience_id, contact_id)
            return consent.history(conn, ctx.team_id, contact_id, offset, limit)

        rows = await ctx.db.read(read)
        return schemas.ConsentList(
            data=[
                schemas.ConsentChange(
                    id=row.id, at=iso(row.at), change=row.change, audience_id=row.audience_id,
                    topic_id=row.topic_id, source=row.source, source_id=row.source_id, detail=row.detail,
                )
                for row in rows
            ]
        )  # fmt: skip

    @get("/{contact_id:str}/topics", summary="Get contact topic subscriptions")
    async def get_contact_topics(
        self, ctx: Ctx, audience_id: PathId, contact_id: PathId
    ) -> schemas.ContactTopicList:
        rows = await ctx.db.read(topics.contact_topics, ctx.team_id, audience_id, contact_id)
        return schemas.ContactTopicList(
            data=[
                schemas.ContactTopic(topic_id=row.topic_id, name=row.name, subscribed=row.subscribed)
                for row in rows
            ]
        )

    @patch(
        "/{contact_id:str}/topics", summary="Update contact topic subscription", **body(schemas.TopicChoice)
    )
    async def update_contact_topic(
        self,
        ctx: Ctx,
        audience_id: PathId,
        contact_id: PathId,
        data: JSONBody[schemas.TopicChoice],
    ) -> schemas.TopicChoice:
        await ctx.db.write(
            topics.choose,
            ctx.team_id,
            audience_id,
            contact_id,
            data.topic_id,
            data.subscribed,
        )
        return data
