"""SendX lists, tags and custom fields: ``/list``, ``/tag``, ``/customfield``."""

from __future__ import annotations

from typing import Any

from litestar import Controller, delete, get, post, put
from litestar.params import JSONBody

from roster.api.common import Ctx, PathId, body, sent
from roster.api.sendx import render, schemas
from roster.api.sendx.paging import Limit, Offset, Search
from roster.core import audiences, confirmations, custom_fields, tags
from roster.core.errors import Conflict
from roster.web.signup import snippet

# SendX field names that the core knows by another name.
LIST_TYPE = {"type": "list_type"}
FIELD_TYPE = {"type": "field_type"}


class ListController(Controller):
    path = "/list"
    tags = ["Lists"]

    @get("/", summary="Get all lists")
    async def all_lists(
        self, ctx: Ctx, offset: Offset = 0, limit: Limit = 10, search: Search = None
    ) -> list[schemas.ListOut]:
        rows = await ctx.db.read(audiences.page_audiences, ctx.team_id, offset, limit, search)
        return [render.list_(row) for row in rows]

    @post("/", summary="Create a list", **body(schemas.ListIn))
    async def create_list(self, ctx: Ctx, data: JSONBody[schemas.ListIn]) -> schemas.ListOut:
        return render.list_(await ctx.db.write(audiences.create_list, ctx.team_id, sent(data, LIST_TYPE)))

    @get("/{identifier:str}", summary="Get a list")
    async def get_list(self, ctx: Ctx, identifier: PathId) -> schemas.ListOut:
        return render.list_(await ctx.db.read(audiences.get_audience, ctx.team_id, identifier))

    @put("/{identifier:str}", summary="Update a list", **body(schemas.ListIn))
    async def update_list(
        self, ctx: Ctx, identifier: PathId, data: JSONBody[schemas.ListIn]
    ) -> schemas.ListOut:
        row = await ctx.db.write(audiences.update_audience, ctx.team_id, identifier, sent(data, LIST_TYPE))
        return render.list_(row)

    @delete("/{identifier:str}", status_code=200, summary="Delete a list")
    async def delete_list(self, ctx: Ctx, identifier: PathId) -> schemas.Deleted:
        await ctx.db.write(audiences.delete_audience, ctx.team_id, identifier)
        return render.deleted("List")

    @get("/{identifier:str}/form", summary="The list's public sign-up form, to paste into a site (extension)")
    async def signup_form(self, ctx: Ctx, identifier: PathId) -> schemas.SignupForm:
        row = await ctx.db.read(audiences.get_audience, ctx.team_id, identifier)
        if not row.public_form:
            raise Conflict("the list takes no sign-ups: set `publicForm: true` first")
        base = ctx.settings.base_url
        return schemas.SignupForm(url=f"{base}/subscribe/{row.id}", html=snippet(base, row.id, row.name))

    @get("/{identifier:str}/confirmation", summary="A double opt-in list's confirmation mail (extension)")
    async def get_confirmation(self, ctx: Ctx, identifier: PathId) -> schemas.ConfirmationOut:
        return _confirmation(await ctx.db.read(confirmations.get_template, ctx.team_id, identifier))

    @put(
        "/{identifier:str}/confirmation",
        summary="Set the confirmation mail; null fields go back to the default (extension)",
        **body(schemas.ConfirmationIn),
    )
    async def set_confirmation(
        self, ctx: Ctx, identifier: PathId, data: JSONBody[schemas.ConfirmationIn]
    ) -> schemas.ConfirmationOut:
        fields = sent(data, {"html_code": "html"})
        return _confirmation(await ctx.db.write(confirmations.set_template, ctx.team_id, identifier, fields))


def _confirmation(template: dict[str, Any]) -> schemas.ConfirmationOut:
    return schemas.ConfirmationOut(
        subject=template["subject"],
        html_code=template["html"],
        sender=template["sender"],
        custom=template["custom"],
    )


class TagController(Controller):
    path = "/tag"
    tags = ["Tags"]

    @get("/", summary="Get all tags")
    async def all_tags(
        self, ctx: Ctx, offset: Offset = 0, limit: Limit = 10, search: Search = None
    ) -> list[schemas.TagOut]:
        rows = await ctx.db.read(tags.page_tags, ctx.team_id, offset, limit, search)
        return [render.tag(row) for row in rows]

    @post("/", summary="Create a tag", **body(schemas.TagIn))
    async def create_tag(self, ctx: Ctx, data: JSONBody[schemas.TagIn]) -> schemas.TagOut:
        return render.tag(await ctx.db.write(tags.create_tag, ctx.team_id, data.name))

    @get("/{identifier:str}", summary="Get a tag")
    async def get_tag(self, ctx: Ctx, identifier: PathId) -> schemas.TagOut:
        return render.tag(await ctx.db.read(tags.get_tag, ctx.team_id, identifier))

    @put("/{identifier:str}", summary="Rename a tag", **body(schemas.TagIn))
    async def update_tag(self, ctx: Ctx, identifier: PathId, data: JSONBody[schemas.TagIn]) -> schemas.TagOut:
        return render.tag(await ctx.db.write(tags.rename_tag, ctx.team_id, identifier, data.name))

    @delete("/{identifier:str}", status_code=200, summary="Delete a tag")
    async def delete_tag(self, ctx: Ctx, identifier: PathId) -> schemas.Deleted:
        await ctx.db.write(tags.delete_tag, ctx.team_id, identifier)
        return render.deleted("Tag")


class CustomFieldController(Controller):
    path = "/customfield"
    tags = ["Custom fields"]

    @get("/", summary="Get all custom fields")
    async def all_fields(
        self, ctx: Ctx, offset: Offset = 0, limit: Limit = 10, search: Search = None
    ) -> list[schemas.CustomFieldOut]:
        rows = await ctx.db.read(custom_fields.page_fields, ctx.team_id, offset, limit, search)
        return [render.custom_field(row) for row in rows]

    @post("/", summary="Create a custom field", **body(schemas.CustomFieldIn))
    async def create_field(self, ctx: Ctx, data: JSONBody[schemas.CustomFieldIn]) -> schemas.CustomFieldOut:
        return render.custom_field(
            await ctx.db.write(custom_fields.create_field, ctx.team_id, sent(data, FIELD_TYPE))
        )

    @get("/{identifier:str}", summary="Get a custom field")
    async def get_field(self, ctx: Ctx, identifier: PathId) -> schemas.CustomFieldOut:
        return render.custom_field(
            await ctx.db.read(custom_fields.get_field, ctx.team_id, render.field_id(identifier))
        )

    @put("/{identifier:str}", summary="Update a custom field", **body(schemas.CustomFieldIn))
    async def update_field(
        self, ctx: Ctx, identifier: PathId, data: JSONBody[schemas.CustomFieldIn]
    ) -> schemas.CustomFieldOut:
        row = await ctx.db.write(
            custom_fields.update_field, ctx.team_id, render.field_id(identifier), sent(data, FIELD_TYPE)
        )
        return render.custom_field(row)

    @delete("/{identifier:str}", status_code=200, summary="Delete a custom field")
    async def delete_field(self, ctx: Ctx, identifier: PathId) -> schemas.Deleted:
        await ctx.db.write(custom_fields.delete_field, ctx.team_id, render.field_id(identifier))
        return render.deleted("Custom field")
