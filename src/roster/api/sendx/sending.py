"""SendX senders, templates, campaigns and reports: ``/sender``, ``/template/email``,
``/campaign``, ``/report/campaign``."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, delete, get, post, put
from litestar.params import JSONBody, QueryParameter
from sqlalchemy import Connection

from roster.api.common import Ctx, PathId, body, sent
from roster.api.sendx import render, schemas
from roster.api.sendx.paging import Limit, Offset, Search
from roster.core import campaigns, senders, templates
from roster.storage.db import Record

CampaignType = Annotated[
    str | None,
    QueryParameter(
        name="campaignType",
        description="Only campaigns of this status: draft, scheduled, sending, sent, cancelled",
    ),
]


class SenderController(Controller):
    path = "/sender"
    tags = ["Senders"]

    @get("/", summary="Get all senders")
    async def all_senders(self, ctx: Ctx, offset: Offset = 0, limit: Limit = 100) -> list[schemas.SenderOut]:
        rows = await ctx.db.read(senders.page_senders, ctx.team_id, offset, limit)
        return [render.sender(row) for row in rows]

    @post("/", summary="Create a sender", **body(schemas.SenderIn))
    async def create_sender(self, ctx: Ctx, data: JSONBody[schemas.SenderIn]) -> schemas.SenderOut:
        return render.sender(await ctx.db.write(senders.create_sender, ctx.team_id, sent(data)))


def _template_fields(data: schemas.TemplateIn) -> dict[str, Any]:
    fields = sent(data)
    if "tags" in fields:
        fields["labels"] = fields.pop("tags")
    return fields


class TemplateController(Controller):
    path = "/template/email"
    tags = ["Templates"]

    @get("/", summary="Get all email templates")
    async def all_templates(
        self, ctx: Ctx, offset: Offset = 0, limit: Limit = 10, search: Search = None
    ) -> list[schemas.TemplateOut]:
        rows = await ctx.db.read(templates.page_templates, ctx.team_id, offset, limit, search)
        return [render.template(row) for row in rows]

    @post("/", summary="Create an email template", **body(schemas.TemplateIn))
    async def create_template(self, ctx: Ctx, data: JSONBody[schemas.TemplateIn]) -> schemas.TemplateOut:
        row = await ctx.db.write(templates.create_template, ctx.team_id, _template_fields(data))
        return render.template(row)

    @get("/{identifier:str}", summary="Get an email template")
    async def get_template(self, ctx: Ctx, identifier: PathId) -> schemas.TemplateOut:
        return render.template(await ctx.db.read(templates.get_template, ctx.team_id, identifier))

    @put("/{identifier:str}", summary="Update the fields sent", **body(schemas.TemplateIn))
    async def update_template(
        self, ctx: Ctx, identifier: PathId, data: JSONBody[schemas.TemplateIn]
    ) -> schemas.TemplateOut:
        row = await ctx.db.write(templates.update_template, ctx.team_id, identifier, _template_fields(data))
        return render.template(row)

    @delete("/{identifier:str}", status_code=200, summary="Delete an email template")
    async def delete_template(self, ctx: Ctx, identifier: PathId) -> schemas.Deleted:
        await ctx.db.write(templates.delete_template, ctx.team_id, identifier)
        return render.deleted("Template")


def _rendered(conn: Connection, rows: list[Record]) -> list[schemas.CampaignOut]:
    targets = campaigns.targets_of(conn, [row.id for row in rows])
    return [render.campaign(row, targets[row.id]) for row in rows]


def _create(conn: Connection, team_id: str, fields: dict[str, Any]) -> list[schemas.CampaignOut]:
    return _rendered(conn, [campaigns.create_campaign(conn, team_id, fields)])


def _page(
    conn: Connection, team_id: str, offset: int, limit: int, status: str | None
) -> list[schemas.CampaignOut]:
    return _rendered(conn, campaigns.page_campaigns(conn, team_id, offset, limit, status))


def _one(conn: Connection, team_id: str, campaign_id: str) -> list[schemas.CampaignOut]:
    return _rendered(conn, [campaigns.get_campaign(conn, team_id, campaign_id)])


def _cancel(conn: Connection, team_id: str, campaign_id: str) -> list[schemas.CampaignOut]:
    return _rendered(conn, [campaigns.cancel_campaign(conn, team_id, campaign_id)])


class CampaignController(Controller):
    path = "/campaign"
    tags = ["Campaigns"]

    @get("/", summary="Get all campaigns, oldest first")
    async def all_campaigns(
        self, ctx: Ctx, offset: Offset = 0, limit: Limit = 10, campaign_type: CampaignType = None
    ) -> list[schemas.CampaignOut]:
        return await ctx.db.read(_page, ctx.team_id, offset, limit, campaign_type)

    @post("/", summary="Create a campaign", **body(schemas.CampaignIn))
    async def create_campaign(self, ctx: Ctx, data: JSONBody[schemas.CampaignIn]) -> schemas.CampaignOut:
        fields = {key: value for key, value in sent(data).items() if value is not None}
        return (await ctx.db.write(_create, ctx.team_id, fields))[0]

    @get("/{identifier:str}", summary="Get a campaign")
    async def get_campaign(self, ctx: Ctx, identifier: PathId) -> schemas.CampaignOut:
        return (await ctx.db.read(_one, ctx.team_id, identifier))[0]

    @post("/{identifier:str}/cancel", status_code=200, summary="Cancel a scheduled or sending campaign")
    async def cancel_campaign(self, ctx: Ctx, identifier: PathId) -> schemas.CampaignOut:
        return (await ctx.db.write(_cancel, ctx.team_id, identifier))[0]

    @delete("/{identifier:str}", status_code=200, summary="Delete a campaign (not while it is sending)")
    async def delete_campaign(self, ctx: Ctx, identifier: PathId) -> schemas.Deleted:
        await ctx.db.write(campaigns.delete_campaign, ctx.team_id, identifier)
        return render.deleted("Campaign")


def _report(conn: Connection, team_id: str, campaign_id: str) -> schemas.ReportOut:
    campaign = campaigns.get_campaign(conn, team_id, campaign_id)
    return render.report(campaign, campaigns.count_recipients(conn, team_id, campaign_id))


class ReportController(Controller):
    path = "/report"
    tags = ["Reports"]

    @get("/campaign/{identifier:str}", summary="Get a campaign's report")
    async def campaign_report(self, ctx: Ctx, identifier: PathId) -> schemas.ReportOut:
        return await ctx.db.read(_report, ctx.team_id, identifier)
