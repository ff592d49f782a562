"""SendX contacts: ``/contact``, identify, track, unsubscribe; and ``/events``."""

from __future__ import annotations

from typing import Any

import anyio.to_thread
from litestar import Controller, delete, get, post, put
from litestar.params import JSONBody

from roster.api.common import Ctx, PathId, body, json_only, sent
from roster.api.sendx import render, schemas
from roster.api.sendx.paging import Identifier, Limit, Offset, Search
from roster.core import contacts, events, persons


def _fields(data: schemas.ContactIn | schemas.IdentifyIn) -> dict[str, Any]:
    """The fields sent, with custom fields named in either of SendX's forms (see render.field_id)."""
    fields = sent(data)
    if fields.get("custom_fields"):
        fields["custom_fields"] = {
            render.field_id(key): value for key, value in fields["custom_fields"].items()
        }
    return fields


class ContactController(Controller):
    path = "/contact"
    tags = ["Contacts"]

    @get("/", summary="Get all contacts (search: a substring of a name or the email)")
    async def all_contacts(
        self, ctx: Ctx, offset: Offset = 0, limit: Limit = 10, search: Search = None
    ) -> list[schemas.ContactOut]:
        profiles = await ctx.db.read(contacts.page_profiles, ctx.team_id, offset, limit, search)
        return [render.contact(profile) for profile in profiles]

    @post("/", summary="Create a contact (409 if the email exists)", **body(schemas.ContactIn))
    async def create_contact(self, ctx: Ctx, data: JSONBody[schemas.ContactIn]) -> schemas.ContactOut:
        return render.contact(await ctx.db.write(contacts.create_contact, ctx.team_id, _fields(data)))

    @get("/{identifier:str}", summary="Get a contact by ID or email")
    async def get_contact(self, ctx: Ctx, identifier: PathId) -> schemas.ContactOut:
        return render.contact(await ctx.db.read(contacts.get_profile, ctx.team_id, identifier))

    @put("/{identifier:str}", summary="Update the fields sent", **body(schemas.ContactIn))
    async def update_contact(
        self, ctx: Ctx, identifier: PathId, data: JSONBody[schemas.ContactIn]
    ) -> schemas.ContactOut:
        profile = await ctx.db.write(contacts.update_contact, ctx.team_id, identifier, _fields(data))
        return render.contact(profile)

    @delete("/{identifier:str}", status_code=200, summary="Delete a contact")
    async def delete_contact(self, ctx: Ctx, identifier: PathId) -> schemas.Deleted:
        await ctx.db.write(contacts.delete_contact, ctx.team_id, identifier)
        return render.deleted("Contact")

    @get("/{identifier:str}/events", summary="The contact's events, the latest first (extension)")
    async def contact_events(
        self, ctx: Ctx, identifier: PathId, offset: Offset = 0, limit: Limit = 10
    ) -> list[schemas.EventOut]:
        rows = await ctx.db.read(events.page_events, ctx.team_id, identifier, offset, limit)
        return [render.event(row) for row in rows]

    @get("/{identifier:str}/consent", summary="The contact's consent history, oldest first (extension)")
    async def contact_consent(
        self, ctx: Ctx, identifier: PathId, offset: Offset = 0, limit: Limit = 100
    ) -> list[schemas.ConsentOut]:
        rows = await ctx.db.read(persons.consent_history, ctx.team_id, identifier, offset, limit)
        return [render.consent(row) for row in rows]

    @get("/{identifier:str}/export", summary="Everything held about the contact, one document (extension)")
    async def export_contact(self, ctx: Ctx, identifier: PathId) -> dict[str, Any]:
        return await ctx.db.read(persons.export, ctx.team_id, identifier)

    @post(
        "/{identifier:str}/erase",
        status_code=200,
        summary="Erase the contact and everything about it, for good (extension)",
        **body(schemas.ErasureIn),
    )
    async def erase_contact(
        self, ctx: Ctx, identifier: PathId, data: JSONBody[schemas.ErasureIn]
    ) -> schemas.Message:
        await ctx.db.write(persons.erase, ctx.team_id, identifier, data.confirm)
        await anyio.to_thread.run_sync(ctx.db.checkpoint)
        return render.message("Contact erased")

    @post("/unsubscribe/{identifier:str}", status_code=200, summary="Unsubscribe a contact from everything")
    async def unsubscribe_contact(self, ctx: Ctx, identifier: PathId) -> schemas.Message:
        await ctx.db.write(contacts.unsubscribe, ctx.team_id, identifier)
        return render.message("Contact unsubscribed")

    @post(
        "/identify",
        status_code=200,
        summary="Create or update by email, additively",
        **body(schemas.IdentifyIn),
    )
    async def identify(self, ctx: Ctx, data: JSONBody[schemas.IdentifyIn]) -> schemas.Identified:
        profile, created = await ctx.db.write(contacts.identify, ctx.team_id, _fields(data))
        return _identified(profile, created)

    @post(
        "/identify/bulk",
        status_code=200,
        summary="Identify up to 25 contacts, all or none",
        guards=[json_only],
    )
    async def identify_bulk(
        self, ctx: Ctx, data: JSONBody[list[schemas.IdentifyIn]]
    ) -> list[schemas.Identified]:
        results = await ctx.db.write(contacts.identify_bulk, ctx.team_id, [_fields(item) for item in data])
        return [_identified(profile, created) for profile, created in results]

    @post("/track", status_code=200, summary="Add and remove tags", **body(schemas.TrackIn))
    async def track(self, ctx: Ctx, data: JSONBody[schemas.TrackIn]) -> schemas.Message:
        await ctx.db.write(contacts.track, ctx.team_id, data.email, data.add_tags, data.remove_tags)
        return render.message("Contact tracked")


def _identified(profile: contacts.Profile, created: bool) -> schemas.Identified:
    text = "Contact created" if created else "Contact updated"
    return schemas.Identified(status="success", message=text, contact_id=profile.contact.id, created=created)


class EventController(Controller):
    path = "/events"
    tags = ["Events"]

    @get("/", summary="A contact's events, the latest first (extension)")
    async def events_of(
        self, ctx: Ctx, identifier: Identifier, offset: Offset = 0, limit: Limit = 10
    ) -> list[schemas.EventOut]:
        rows = await ctx.db.read(events.page_events, ctx.team_id, identifier, offset, limit)
        return [render.event(row) for row in rows]

    @post("/custom", status_code=200, summary="Record a custom event", **body(schemas.CustomEventIn))
    async def custom(self, ctx: Ctx, data: JSONBody[schemas.CustomEventIn]) -> schemas.Message:
        await ctx.db.write(
            events.record_custom, ctx.team_id, data.identifier, data.name, data.data, data.time
        )
        return render.message("Event recorded")

    @post(
        "/revenue",
        status_code=200,
        summary="Record revenue; it adds to the contact's LTV",
        **body(schemas.RevenueEventIn),
    )
    async def revenue(self, ctx: Ctx, data: JSONBody[schemas.RevenueEventIn]) -> schemas.Message:
        await ctx.db.write(
            events.record_revenue, ctx.team_id, data.identifier, data.amount, data.source, data.time
        )
        return render.message("Revenue recorded")
