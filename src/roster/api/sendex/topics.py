"""Sendex topics of an audience: ``/api/v1/audiences/:id/topics``."""

from __future__ import annotations

from litestar import Controller, delete, get, patch, post
from litestar.params import JSONBody

from roster.api.common import Ctx, PathId, body, sent
from roster.api.sendex import render, schemas
from roster.core import topics


class TopicController(Controller):
    path = "/audiences/{audience_id:str}/topics"
    tags = ["Topics"]

    @get("/", summary="List topics")
    async def list_topics(self, ctx: Ctx, audience_id: PathId) -> schemas.TopicList:
        rows = await ctx.db.read(topics.list_topics, ctx.team_id, audience_id)
        return schemas.TopicList(data=[render.topic(row) for row in rows], total=len(rows))

    @post("/", summary="Create a topic", **body(schemas.TopicCreate))
    async def create_topic(
        self, ctx: Ctx, audience_id: PathId, data: JSONBody[schemas.TopicCreate]
    ) -> schemas.Topic:
        row = await ctx.db.write(topics.create_topic, ctx.team_id, audience_id, sent(data))
        return render.topic(row)

    @get("/{topic_id:str}", summary="Retrieve a topic")
    async def get_topic(self, ctx: Ctx, audience_id: PathId, topic_id: PathId) -> schemas.Topic:
        return render.topic(await ctx.db.read(topics.get_topic, ctx.team_id, audience_id, topic_id))

    @patch("/{topic_id:str}", summary="Update a topic", **body(schemas.TopicUpdate))
    async def update_topic(
        self,
        ctx: Ctx,
        audience_id: PathId,
        topic_id: PathId,
        data: JSONBody[schemas.TopicUpdate],
    ) -> schemas.Topic:
        row = await ctx.db.write(topics.update_topic, ctx.team_id, audience_id, topic_id, sent(data))
        return render.topic(row)

    @delete("/{topic_id:str}", status_code=200, summary="Delete a topic")
    async def delete_topic(self, ctx: Ctx, audience_id: PathId, topic_id: PathId) -> schemas.Deleted:
        await ctx.db.write(topics.delete_topic, ctx.team_id, audience_id, topic_id)
        return schemas.Deleted(id=topic_id)
