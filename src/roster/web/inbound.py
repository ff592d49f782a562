"""``POST /inbound/ses``: Amazon SES bounce and complaint notifications through an SNS HTTPS
subscription. No API key: the SNS signature and the topic (``ROSTER_SNS_TOPICS``) are the
credentials, checked before anything is stored. 404 when no topic is configured.
"""

from __future__ import annotations

import functools
import hashlib
from typing import Any

import anyio.to_thread
from litestar import Request, Response, Router, post

from roster.core import inbound
from roster.mail.inbound import Unreadable, parse_json, read_ses
from roster.mail.sns import Refused


def _answer(code: int, **body: Any) -> Response[dict[str, Any]]:
    return Response(body, status_code=code)


@post("/ses", status_code=200, request_max_body_size=inbound.MAX_MESSAGE)
async def ses(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
    services = request.app.state.services
    if not services.sns.topics:
        return _answer(404, error="SES notifications are not enabled here (ROSTER_SNS_TOPICS)")
    raw = await request.body()
    try:
        message = parse_json(raw)
        await anyio.to_thread.run_sync(services.sns.verify, message)
    except Unreadable as exc:
        return _answer(400, error=f"not an SNS message: {exc}")
    except Refused as exc:
        return _answer(403, error=str(exc))
    if message["Type"] == "SubscriptionConfirmation":
        try:
            await anyio.to_thread.run_sync(services.sns.confirm, message)
        except Refused as exc:
            return _answer(502, error=str(exc))
        return _answer(200, status="subscribed", topic=message["TopicArn"])
    if message["Type"] != "Notification":
        return _answer(200, status="ignored")

    def reader(_raw: bytes) -> Any:
        return read_ses(parse_json(str(message.get("Message", ""))))

    digest = hashlib.sha256(f"sns:{message.get('MessageId')}".encode()).hexdigest()
    rules = services.settings.bounce_rules
    received = await anyio.to_thread.run_sync(
        functools.partial(inbound.receive, services.db, raw, "ses", rules, reader=reader, digest=digest)
    )
    return _answer(200, id=received.id, state=received.state, reason=received.reason)


router = Router(path="/inbound", route_handlers=[ses], include_in_schema=False)
