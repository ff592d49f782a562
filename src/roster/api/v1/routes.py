"""Audiences v1: ``/v1/audiences`` (as documented) and ``/v1/contacts`` (Roster's extension)."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, delete, get, patch, post
from litestar.params import JSONBody, QueryParameter

from roster.api.common import MAX_PAGE, Ctx, PathId, body, sent
from roster.api.v1 import render, schemas
from roster.core import audiences, contacts, memberships
from roster.core.named import WITHOUT_CONTROL
from roster.core.search import MIN_LENGTH

Page = Annotated[
    int, QueryParameter(ge=1, le=MAX_PAGE, description=f"Page number, from 1 (at most {MAX_PAGE:,})")
]
Limit = Annotated[int, QueryParameter(ge=1, le=100, description="Items per page (1–100)")]
Search = Annotated[
    str | None,
    QueryParameter(
        min_length=MIN_LENGTH,
        max_length=255,
        pattern=WITHOUT_CONTROL,
        description="Case-insensitive substring of a name or the email",
    ),
]


def _offset(page: int, limit: int) -> int:
    return (page - 1) * limit


class AudienceController(Controller):
    path = "/audiences"
    tags = ["Audiences"]

    @get("/", summary="List audiences")
    async def list_audiences(self, ctx: Ctx, page: Page = 1, limit: Limit = 20) -> schemas.AudiencePage:
        rows, total = await ctx.db.read(audiences.page_counted, ctx.team_id, _offset(page, limit), limit)
        data = [render.audience(row) for row in rows]
        return schemas.AudiencePage(data, total, page, limit, render.pages(total, limit))

    @post("/", summary="Create an audience", **body(schemas.AudienceCreate))
    async def create_audience(self, ctx: Ctx, data: JSONBody[schemas.AudienceCreate]) -> schemas.Audience:
        return render.audience(await ctx.db.write(audiences.create_list, ctx.team_id, sent(data)))

    @get("/{audience_id:str}", summary="Get an audience")
    async def get_audience(self, ctx: Ctx, audience_id: PathId) -> schemas.Audience:
        return render.audience(await ctx.db.read(audiences.get_audience, ctx.team_id, audience_id))

    @patch("/{audience_id:str}", summary="Update name and/or description", **body(schemas.AudienceUpdate))
    async def update_audience(
        self, ctx: Ctx, audience_id: PathId, data: JSONBody[schemas.AudienceUpdate]
    ) -> schemas.Audience:
        row = await ctx.db.write(audiences.update_audience, ctx.team_id, audience_id, sent(data))
        return render.audience(row)

    @delete("/{audience_id:str}", status_code=200, summary="Delete an audience")
    async def delete_audience(self, ctx: Ctx, audience_id: PathId) -> schemas.Success:
        await ctx.db.write(audiences.delete_audience, ctx.team_id, audience_id)
        return schemas.Success()

    @get("/{audience_id:str}/contacts", summary="Contacts in the audience")
    async def audience_contacts(
        self, ctx: Ctx, audience_id: PathId, page: Page = 1, limit: Limit = 20, search: Search = None
    ) -> schemas.ContactPage:
        rows, total = await ctx.db.read(
            memberships.page_inside, ctx.team_id, audience_id, _offset(page, limit), limit, search
        )
        return render.contact_page(rows, total, page, limit)

    @get("/{audience_id:str}/available-contacts", summary="The organization's contacts not in the audience")
    async def available_contacts(
        self, ctx: Ctx, audience_id: PathId, page: Page = 1, limit: Limit = 20, search: Search = None
    ) -> schemas.ContactPage:
        rows, total = await ctx.db.read(
            memberships.page_outside, ctx.team_id, audience_id, _offset(page, limit), limit, search
        )
        return render.contact_page(rows, total, page, limit)

    @post(
        "/{audience_id:str}/contacts",
        status_code=200,
        summary="Add contacts by ID",
        **body(schemas.ContactIds),
    )
    async def add_contacts(
        self, ctx: Ctx, audience_id: PathId, data: JSONBody[schemas.ContactIds]
    ) -> schemas.Membership:
        size = await ctx.db.write(memberships.add_members, ctx.team_id, audience_id, data.contact_ids)
        return schemas.Membership(audience_id, size)

    @delete(
        "/{audience_id:str}/contacts",
        status_code=200,
        summary="Remove contacts by ID",
        **body(schemas.ContactIds),
    )
    async def remove_contacts(
        self, ctx: Ctx, audience_id: PathId, data: JSONBody[schemas.ContactIds]
    ) -> schemas.Membership:
        size = await ctx.db.write(memberships.remove_members, ctx.team_id, audience_id, data.contact_ids)
        return schemas.Membership(audience_id, size)

    @post(
        "/{audience_id:str}/contacts/remove",
        status_code=200,
        summary="Remove contacts by ID",
        **body(schemas.ContactIds),
    )
    async def remove_contacts_by_post(
        self, ctx: Ctx, audience_id: PathId, data: JSONBody[schemas.ContactIds]
    ) -> schemas.Membership:
        size = await ctx.db.write(memberships.remove_members, ctx.team_id, audience_id, data.contact_ids)
        return schemas.Membership(audience_id, size)


class ContactController(Controller):
    path = "/contacts"
    tags = ["Contacts (extension)"]

    @get("/", summary="List the organization's contacts")
    async def list_contacts(
        self, ctx: Ctx, page: Page = 1, limit: Limit = 20, search: Search = None
    ) -> schemas.ContactPage:
        rows, total = await ctx.db.read(
            contacts.page_counted, ctx.team_id, _offset(page, limit), limit, search
        )
        return render.contact_page(rows, total, page, limit)

    @post("/", summary="Create a contact", **body(schemas.ContactCreate))
    async def create_contact(self, ctx: Ctx, data: JSONBody[schemas.ContactCreate]) -> schemas.Contact:
        profile = await ctx.db.write(contacts.create_contact, ctx.team_id, sent(data))
        return render.contact(profile.contact)

    @get("/{contact_id:str}", summary="Get a contact")
    async def get_contact(self, ctx: Ctx, contact_id: PathId) -> schemas.Contact:
        return render.contact(await ctx.db.read(contacts.find, ctx.team_id, contact_id))

    @patch("/{contact_id:str}", summary="Update a contact", **body(schemas.ContactUpdate))
    async def update_contact(
        self, ctx: Ctx, contact_id: PathId, data: JSONBody[schemas.ContactUpdate]
    ) -> schemas.Contact:
        profile = await ctx.db.write(contacts.update_contact, ctx.team_id, contact_id, sent(data))
        return render.contact(profile.contact)

    @delete("/{contact_id:str}", status_code=200, summary="Delete a contact")
    async def delete_contact(self, ctx: Ctx, contact_id: PathId) -> schemas.Success:
        await ctx.db.write(contacts.delete_contact, ctx.team_id, contact_id)
        return schemas.Success()
