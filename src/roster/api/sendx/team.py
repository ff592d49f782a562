"""SendX segments, team members, webhooks and the suppression list: ``/segment``,
``/team/member``, ``/webhook``, ``/suppression``."""

from __future__ import annotations

import anyio.to_thread
from litestar import Controller, delete, get, post, put
from litestar.params import JSONBody
from sqlalchemy import Connection

from roster.api.common import Ctx, PathId, body, sent
from roster.api.sendx import render, schemas
from roster.api.sendx.paging import Limit, Offset, Search
from roster.core import contacts, members, outbound, segments, suppression, webhooks


class SegmentController(Controller):
    path = "/segment"
    tags = ["Segments"]

    @get("/", summary="Get all segments")
    async def all_segments(
        self, ctx: Ctx, offset: Offset = 0, limit: Limit = 10, search: Search = None
    ) -> list[schemas.SegmentOut]:
        rows = await ctx.db.read(segments.page_segments, ctx.team_id, offset, limit, search)
        return [render.segment(row) for row in rows]

    @post("/", summary="Create a segment (rules: see docs/segments.md)", **body(schemas.SegmentIn))
    async def create_segment(self, ctx: Ctx, data: JSONBody[schemas.SegmentIn]) -> schemas.SegmentOut:
        return render.segment(await ctx.db.write(segments.create_segment, ctx.team_id, sent(data)))

    @get("/{identifier:str}", summary="Get a segment")
    async def get_segment(self, ctx: Ctx, identifier: PathId) -> schemas.SegmentOut:
        return render.segment(await ctx.db.read(segments.get_segment, ctx.team_id, identifier))

    @put("/{identifier:str}", summary="Update a segment's name or rules", **body(schemas.SegmentIn))
    async def update_segment(
        self, ctx: Ctx, identifier: PathId, data: JSONBody[schemas.SegmentIn]
    ) -> schemas.SegmentOut:
        row = await ctx.db.write(segments.update_segment, ctx.team_id, identifier, sent(data))
        return render.segment(row)

    @delete("/{identifier:str}", status_code=200, summary="Delete a segment")
    async def delete_segment(self, ctx: Ctx, identifier: PathId) -> schemas.Deleted:
        await ctx.db.write(segments.delete_segment, ctx.team_id, identifier)
        return render.deleted("Segment")

    @get("/{identifier:str}/contacts", summary="The segment's contacts now, oldest first")
    async def segment_contacts(
        self, ctx: Ctx, identifier: PathId, offset: Offset = 0, limit: Limit = 10
    ) -> list[schemas.ContactOut]:
        def page(conn: Connection) -> list[contacts.Profile]:
            return contacts.profiles(
                conn, segments.page_contacts(conn, ctx.team_id, identifier, offset, limit)
            )

        return [render.contact(profile) for profile in await ctx.db.read(page)]

    @get("/{identifier:str}/count", summary="How many contacts the segment holds now")
    async def segment_count(self, ctx: Ctx, identifier: PathId) -> schemas.SegmentCount:
        count = await ctx.db.read(segments.count_contacts, ctx.team_id, identifier)
        return schemas.SegmentCount(id=identifier, count=count)


class MemberController(Controller):
    path = "/team/member"
    tags = ["Team members"]

    @get("/", summary="Get all team members")
    async def all_members(self, ctx: Ctx, offset: Offset = 0, limit: Limit = 100) -> list[schemas.MemberOut]:
        rows = await ctx.db.read(members.page_members, ctx.team_id, offset, limit)
        return [render.member(row) for row in rows]

    @get("/{identifier:str}", summary="Get a team member")
    async def get_member(self, ctx: Ctx, identifier: PathId) -> schemas.MemberOut:
        return render.member(await ctx.db.read(members.get_member, ctx.team_id, identifier))


async def _check_url(ctx: Ctx, data: schemas.WebhookIn) -> None:
    """Refuse a URL the outbound rule refuses (it asks DNS, so off the event loop)."""
    if isinstance(data.url, str):
        url, settings = data.url, ctx.settings
        await anyio.to_thread.run_sync(
            lambda: outbound.checked_url(
                url, allow_private=settings.webhook_allow_private, nameserver=settings.dns_nameserver
            )
        )


class WebhookController(Controller):
    path = "/webhook"
    tags = ["Webhooks"]

    @get("/", summary="Get all webhooks")
    async def all_webhooks(
        self, ctx: Ctx, offset: Offset = 0, limit: Limit = 100
    ) -> list[schemas.WebhookOut]:
        rows = await ctx.db.read(webhooks.page_webhooks, ctx.team_id, offset, limit)
        return [render.webhook(row) for row in rows]

    @post("/", summary="Create a webhook (its signing secret is shown only here)", **body(schemas.WebhookIn))
    async def create_webhook(self, ctx: Ctx, data: JSONBody[schemas.WebhookIn]) -> schemas.WebhookOut:
        await _check_url(ctx, data)
        row = await ctx.db.write(webhooks.create_webhook, ctx.team_id, sent(data))
        return render.webhook(row, with_secret=True)

    @get("/{identifier:str}", summary="Get a webhook")
    async def get_webhook(self, ctx: Ctx, identifier: PathId) -> schemas.WebhookOut:
        return render.webhook(await ctx.db.read(webhooks.get_webhook, ctx.team_id, identifier))

    @put("/{identifier:str}", summary="Update the fields sent", **body(schemas.WebhookIn))
    async def update_webhook(
        self, ctx: Ctx, identifier: PathId, data: JSONBody[schemas.WebhookIn]
    ) -> schemas.WebhookOut:
        await ctx.db.read(webhooks.get_webhook, ctx.team_id, identifier)
        await _check_url(ctx, data)
        return render.webhook(
            await ctx.db.write(webhooks.update_webhook, ctx.team_id, identifier, sent(data))
        )

    @delete("/{identifier:str}", status_code=200, summary="Delete a webhook")
    async def delete_webhook(self, ctx: Ctx, identifier: PathId) -> schemas.Deleted:
        await ctx.db.write(webhooks.delete_webhook, ctx.team_id, identifier)
        return render.deleted("Webhook")


class SuppressionController(Controller):
    path = "/suppression"
    tags = ["Suppression"]

    @get("/", summary="The team's suppression list, the latest first (extension)")
    async def all_suppressed(
        self, ctx: Ctx, offset: Offset = 0, limit: Limit = 100
    ) -> list[schemas.SuppressionOut]:
        rows = await ctx.db.read(suppression.page, ctx.team_id, offset, limit)
        return [render.suppression_entry(row) for row in rows]

    @post("/", status_code=201, summary="Suppress addresses (extension)", **body(schemas.SuppressionIn))
    async def suppress(self, ctx: Ctx, data: JSONBody[schemas.SuppressionIn]) -> schemas.Message:
        added = await ctx.db.write(suppression.add, ctx.team_id, data.emails)
        return render.message(f"{added} of {len(data.emails)} addresses added to the suppression list")

    @delete("/{email:str}", status_code=200, summary="Take an address off the suppression list (extension)")
    async def unsuppress(self, ctx: Ctx, email: PathId) -> schemas.Message:
        await ctx.db.write(suppression.remove, ctx.team_id, email)
        return render.message("Address removed from the suppression list")
