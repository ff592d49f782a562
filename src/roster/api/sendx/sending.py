"""SendX senders, templates, campaigns and reports: ``/sender``, ``/template/email``,
``/campaign``, ``/report/campaign``, and ``/inbound`` for bounce and complaint reports."""

from __future__ import annotations

import functools
from typing import Annotated, Any

import anyio.to_thread
from litestar import Controller, Request, delete, get, post, put
from litestar.params import JSONBody, QueryParameter

from roster.api.common import Ctx, PathId, body, sent
from roster.api.sendx import render, schemas
from roster.api.sendx.paging import Limit, Offset, Search
from roster.core import campaigns, inbound, senders, sending, templates
from roster.core.clock import now
from roster.core.errors import Invalid
from roster.dispatch import Composer
from roster.mail.transport import ACCEPTED

CampaignType = Annotated[
    str | None,
    QueryParameter(
        name="campaignType",
        description="Only campaigns of this status: draft, scheduled, sending, paused, sent, cancelled",
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


TEMPLATE_TAGS = {"tags": "labels"}  # a template's tags are labels, not contact tags


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
        row = await ctx.db.write(templates.create_template, ctx.team_id, sent(data, TEMPLATE_TAGS))
        return render.template(row)

    @get("/{identifier:str}", summary="Get an email template")
    async def get_template(self, ctx: Ctx, identifier: PathId) -> schemas.TemplateOut:
        return render.template(await ctx.db.read(templates.get_template, ctx.team_id, identifier))

    @put("/{identifier:str}", summary="Update the fields sent", **body(schemas.TemplateIn))
    async def update_template(
        self, ctx: Ctx, identifier: PathId, data: JSONBody[schemas.TemplateIn]
    ) -> schemas.TemplateOut:
        row = await ctx.db.write(
            templates.update_template, ctx.team_id, identifier, sent(data, TEMPLATE_TAGS)
        )
        return render.template(row)

    @delete("/{identifier:str}", status_code=200, summary="Delete an email template")
    async def delete_template(self, ctx: Ctx, identifier: PathId) -> schemas.Deleted:
        await ctx.db.write(templates.delete_template, ctx.team_id, identifier)
        return render.deleted("Template")


class CampaignController(Controller):
    path = "/campaign"
    tags = ["Campaigns"]

    @get("/", summary="Get all campaigns, oldest first")
    async def all_campaigns(
        self, ctx: Ctx, offset: Offset = 0, limit: Limit = 10, campaign_type: CampaignType = None
    ) -> list[schemas.CampaignOut]:
        views = await ctx.db.read(campaigns.page_campaigns, ctx.team_id, offset, limit, campaign_type)
        return [render.campaign(view) for view in views]

    @post("/", summary="Create a campaign", **body(schemas.CampaignIn))
    async def create_campaign(self, ctx: Ctx, data: JSONBody[schemas.CampaignIn]) -> schemas.CampaignOut:
        fields = {key: value for key, value in sent(data).items() if value is not None}
        return render.campaign(await ctx.db.write(campaigns.create_campaign, ctx.team_id, fields))

    @get("/{identifier:str}", summary="Get a campaign")
    async def get_campaign(self, ctx: Ctx, identifier: PathId) -> schemas.CampaignOut:
        return render.campaign(await ctx.db.read(campaigns.get_campaign, ctx.team_id, identifier))

    @post(
        "/{identifier:str}/cancel", status_code=200, summary="Cancel a scheduled, sending or paused campaign"
    )
    async def cancel_campaign(self, ctx: Ctx, identifier: PathId) -> schemas.CampaignOut:
        return render.campaign(await ctx.db.write(campaigns.cancel_campaign, ctx.team_id, identifier))

    @post("/{identifier:str}/pause", status_code=200, summary="Pause a scheduled or sending campaign")
    async def pause_campaign(self, ctx: Ctx, identifier: PathId) -> schemas.CampaignOut:
        return render.campaign(await ctx.db.write(campaigns.pause_campaign, ctx.team_id, identifier))

    @post("/{identifier:str}/resume", status_code=200, summary="Resume a paused campaign where it stopped")
    async def resume_campaign(self, ctx: Ctx, identifier: PathId) -> schemas.CampaignOut:
        return render.campaign(await ctx.db.write(campaigns.resume_campaign, ctx.team_id, identifier))

    @post(
        "/{identifier:str}/test",
        status_code=200,
        summary="Send the campaign to up to 10 addresses now, without changing it",
        **body(schemas.CampaignTestIn),
    )
    async def test_campaign(
        self, ctx: Ctx, identifier: PathId, data: JSONBody[schemas.CampaignTestIn]
    ) -> schemas.CampaignTestOut:
        batch = await ctx.db.read(sending.test_batch, ctx.team_id, identifier, data.emails)
        composer = Composer.of(batch, ctx.links, ctx.settings.bounce_address)
        results = [
            schemas.TestDelivery(email, False, f"not sent: {sending.SUPPRESSED}")
            for email in batch.suppressed
        ]
        for letter in batch.letters:
            reply = await ctx.mailer.send(composer.envelope(letter, now()))
            results.append(schemas.TestDelivery(letter.email, reply.kind == ACCEPTED, str(reply)))
        accepted = sum(result.accepted for result in results)
        return schemas.CampaignTestOut(
            status="success" if accepted == len(results) else "error",
            message=f"{accepted} of {len(results)} test messages accepted by {ctx.mailer.description}",
            data=results,
        )

    @delete("/{identifier:str}", status_code=200, summary="Delete a campaign (not while it is sending)")
    async def delete_campaign(self, ctx: Ctx, identifier: PathId) -> schemas.Deleted:
        await ctx.db.write(campaigns.delete_campaign, ctx.team_id, identifier)
        return render.deleted("Campaign")


class ReportController(Controller):
    path = "/report"
    tags = ["Reports"]

    @get("/campaign/{identifier:str}", summary="Get a campaign's report")
    async def campaign_report(self, ctx: Ctx, identifier: PathId) -> schemas.ReportOut:
        return render.report(await ctx.db.read(campaigns.campaign_report, ctx.team_id, identifier))


class InboundController(Controller):
    path = "/inbound"
    tags = ["Reports"]

    @post(
        "/",
        status_code=202,
        summary="Hand in a bounce or complaint message, as received (extension)",
        request_max_body_size=inbound.MAX_MESSAGE,
    )
    async def hand_in(self, ctx: Ctx, request: Request[Any, Any, Any]) -> schemas.InboundOut:
        raw = await request.body()
        if not raw.strip():
            raise Invalid("body", "must be the message as received (message/rfc822)")
        received = await anyio.to_thread.run_sync(
            functools.partial(
                inbound.receive, ctx.db, raw, "http", ctx.settings.bounce_rules, team_id=ctx.team_id
            )
        )
        return render.inbound(received)
