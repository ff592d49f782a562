"""Sendex domains and API keys: ``/api/v1/domains``, ``/api/v1/api-keys``."""

from __future__ import annotations

from typing import Any

import anyio.to_thread
from litestar import Controller, Request, delete, get, post
from litestar.params import JSONBody

from roster.api.common import Ctx, PathId, body
from roster.api.sendex import render, schemas
from roster.core import domains, teams
from roster.core.clock import iso


class DomainController(Controller):
    path = "/domains"
    tags = ["Domains"]

    @get("/", summary="List domains")
    async def list_domains(self, ctx: Ctx) -> schemas.DomainList:
        rows = await ctx.db.read(domains.list_domains, ctx.team_id)
        return schemas.DomainList(data=[render.domain(row) for row in rows])

    @post(
        "/", summary="Add a domain (pending until its TXT record is verified)", **body(schemas.DomainCreate)
    )
    async def add_domain(self, ctx: Ctx, data: JSONBody[schemas.DomainCreate]) -> schemas.Domain:
        return render.domain(await ctx.db.write(domains.add_domain, ctx.team_id, data.name))

    @get("/{domain_id:str}", summary="Retrieve a domain")
    async def get_domain(self, ctx: Ctx, domain_id: PathId) -> schemas.Domain:
        return render.domain(await ctx.db.read(domains.get_domain, ctx.team_id, domain_id))

    @delete("/{domain_id:str}", status_code=200, summary="Delete a domain without audiences")
    async def delete_domain(self, ctx: Ctx, domain_id: PathId) -> schemas.Deleted:
        await ctx.db.write(domains.delete_domain, ctx.team_id, domain_id)
        return schemas.Deleted(id=domain_id)

    @post("/{domain_id:str}/verify", status_code=200, summary="Check the domain's TXT record now")
    async def verify_domain(
        self, request: Request[Any, Any, Any], ctx: Ctx, domain_id: PathId
    ) -> schemas.Domain:
        domain = await ctx.db.read(domains.get_domain, ctx.team_id, domain_id)
        record = domains.verification_record(domain)
        nameserver = ctx.settings.dns_nameserver
        lookup = await anyio.to_thread.run_sync(domains.lookup_txt, record["name"], nameserver)
        domain = await ctx.db.write(domains.record_verification, ctx.team_id, domain_id, lookup)
        return render.domain(domain, domains.verification_problem(domain, lookup))


class ApiKeyController(Controller):
    path = "/api-keys"
    tags = ["API keys"]

    @get("/", summary="List API keys")
    async def list_keys(self, ctx: Ctx) -> schemas.ApiKeyList:
        rows = await ctx.db.read(teams.list_keys, ctx.team_id)
        return schemas.ApiKeyList(data=[render.api_key(row) for row in rows])

    @post(
        "/",
        summary="Create an API key (its token is shown only in this response)",
        **body(schemas.ApiKeyCreate),
    )
    async def create_key(self, ctx: Ctx, data: JSONBody[schemas.ApiKeyCreate]) -> schemas.ApiKeyCreated:
        name = data.name if isinstance(data.name, str) else None
        row, token = await ctx.db.write(teams.create_key, ctx.team_id, data.permission, name)
        return schemas.ApiKeyCreated(
            id=row.id,
            name=row.name,
            permission=row.permission,
            token=token,
            created_at=iso(row.created_at),
        )

    @delete("/{key_id:str}", status_code=200, summary="Revoke an API key")
    async def revoke_key(self, ctx: Ctx, key_id: PathId) -> schemas.Deleted:
        await ctx.db.write(teams.revoke_key, key_id, ctx.team_id)
        return schemas.Deleted(id=key_id)
