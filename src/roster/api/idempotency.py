"""``Idempotency-Key`` on every POST of the three dialects (core/idempotency.py has the rules).

A router middleware: it runs before the key is authenticated, so it scopes keys by the hash
of the token the request presents (a wrong token's requests are refused by the handler and
their answers not kept). Answers below 500 are kept for retries, except 401, 403 and 429,
which say nothing of the request itself; after a server error the key is free again.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from typing import Any

from litestar import Request
from litestar.exceptions import HTTPException
from litestar.types import ASGIApp, Message

from roster.api.common import Services, TokenReader
from roster.core import idempotency
from roster.core.clock import now
from roster.core.teams import hash_token

HEADER = b"idempotency-key"
KEY = re.compile(r"[\x21-\x7e]{1,255}")  # printable ASCII, as Stripe's keys
MAX_BODY = 10 * 1024 * 1024  # Litestar's own limit on a request body
NOT_KEPT = {401, 403, 429}


def idempotent(read_token: TokenReader) -> Callable[[ASGIApp], ASGIApp]:
    def wrap(app: ASGIApp) -> ASGIApp:
        async def middleware(scope: Any, receive: Any, send: Any) -> None:
            key = _key(scope)
            token = read_token(Request(scope)) if key is not None else None
            if key is None or not token:
                await app(scope, receive, send)
                return
            if not KEY.fullmatch(key):
                raise HTTPException(
                    status_code=400, detail="Idempotency-Key must be 1 to 255 printable characters"
                )
            body = await _body(receive)
            services: Services = scope["app"].state.services
            owner = hash_token(token)
            claim = await services.db.write(idempotency.claim, owner, key, _fingerprint(scope, body), now())
            if claim.outcome == "mismatch":
                raise HTTPException(
                    status_code=422,
                    detail="this Idempotency-Key came with another request; a new request needs a new key",
                )
            if claim.outcome == "running":
                raise HTTPException(
                    status_code=409,
                    detail="a request with this Idempotency-Key is still running; retry in a moment",
                    headers={"Retry-After": "1"},
                )
            if claim.outcome == "replay":
                await _replay(send, claim)
                return
            await _run(app, scope, body, receive, send, services, owner, key)

        return middleware

    return wrap


def _key(scope: Any) -> str | None:
    if scope["type"] != "http" or scope["method"] != "POST":
        return None
    for name, value in scope["headers"]:
        if name == HEADER:
            return str(value.decode("latin-1"))
    return None


async def _body(receive: Any) -> bytes:
    chunks: list[bytes] = []
    size, more = 0, True
    while more:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            raise HTTPException(
                status_code=413, detail="the request body is too large for an Idempotency-Key"
            )
        chunks.append(chunk)
        more = message.get("more_body", False)
    return b"".join(chunks)


def _fingerprint(scope: Any, body: bytes) -> str:
    """The request the key stands for: its route, query, media type and body."""
    media = next((value for name, value in scope["headers"] if name == b"content-type"), b"")
    digest = hashlib.sha256()
    for part in (scope["path"].encode(), scope["query_string"], media, body):
        digest.update(len(part).to_bytes(8, "big") + part)
    return digest.hexdigest()


async def _replay(send: Any, claim: idempotency.Claim) -> None:
    headers = [(b"idempotent-replayed", b"true")]
    if claim.media_type:
        headers.append((b"content-type", claim.media_type.encode()))
    await send({"type": "http.response.start", "status": claim.status or 200, "headers": headers})
    await send({"type": "http.response.body", "body": claim.body or b"", "more_body": False})


async def _run(
    app: ASGIApp,
    scope: Any,
    body: bytes,
    receive: Any,
    send: Any,
    services: Services,
    owner: str,
    key: str,
) -> None:
    """Run the request on its body read once, keep what it answers, then send that."""
    given = False

    async def again() -> Any:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    answer: dict[str, Any] = {"status": 500, "media_type": None, "body": []}
    # Held until the answer is kept: a client that has it, and retries at once, gets a replay.
    held: list[Message] = []

    async def keeping(message: Message) -> None:
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]
            for name, value in message.get("headers", ()):
                if name.lower() == b"content-type":
                    answer["media_type"] = value.decode("latin-1")
        elif message["type"] == "http.response.body":
            answer["body"].append(message.get("body", b""))
        held.append(message)

    # Answered uncompressed, so that what is kept can be replayed to any client.
    plain: Any = {**scope, "headers": [(n, v) for n, v in scope["headers"] if n != b"accept-encoding"]}
    try:
        await app(plain, again, keeping)
    except BaseException:
        await services.db.write(idempotency.release, owner, key)
        raise
    status = answer["status"]
    if status >= 500 or status in NOT_KEPT:
        await services.db.write(idempotency.release, owner, key)
    else:
        kept = b"".join(answer["body"])
        await services.db.write(idempotency.keep, owner, key, status, answer["media_type"], kept)
    for message in held:
        await send(message)
