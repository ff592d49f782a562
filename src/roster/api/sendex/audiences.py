"""Sendex audiences: ``/api/v1/audiences``."""

from __future__ import annotations

from litestar import Controller, delete, get, post
from litestar.params import FromQuery, JSONBody

from roster.api.common import Ctx, PathId, body
from roster.api.sendex import render, schemas
from roster.core import audiences


class AudienceController(Controller):
    path = "/audiences"
    tags = ["Audiences"]

    @get("/", summary="List audiences of a domain")
    async def list_audiences(self, ctx: Ctx, domain: FromQuery[str]) -> schemas.AudienceList:
        rows = await ctx.db.read(audiences.list_audiences_of_domain, ctx.team_id, domain)
        return schemas.AudienceList(data=[render.audience(row) for row in rows], total=len(rows))

    @post("/", summary="Create an audience", **body(schemas.AudienceCreate))
    async def create_audience(self, ctx: Ctx, data: JSONBody[schemas.AudienceCreate]) -> schemas.Audience:
        row = await ctx.db.write(
            audiences.create_audience, ctx.team_id, data.name, data.domain, data.double_opt_in
        )
        return render.audience(row)

    @get("/{audience_id:str}", summary="Retrieve an audience")
    async def get_audience(self, ctx: Ctx, audience_id: PathId) -> schemas.Audience:
        return render.audience(await ctx.db.read(audiences.get_audience, ctx.team_id, audience_id))

    @delete("/{audience_id:str}", status_code=200, summary="Delete an audience")
    async def delete_audience(self, ctx: Ctx, audience_id: PathId) -> schemas.Deleted:
        await ctx.db.write(audiences.delete_audience, ctx.team_id, audience_id)
        return schemas.Deleted(id=audience_id)
