"""The campaign worker: starts campaigns whose time has come, resolves their recipients, and
sends their mail through the configured transports, recording each answer as it comes.

One round (``run_once``): scheduled campaigns that are due start sending; the next chunk of
an unresolved campaign's recipients is resolved; then a batch of due recipients of one
campaign is claimed (campaigns take turns) and sent over the transports' connections, as
many messages at once as they have connections, at the pace the transports' throttles allow.
A batch holds at most a second's worth of messages at that pace, so that a contact is checked
again at most about a second before its message goes. While a batch is sent, the campaign's
status is read again every ``STATUS_EVERY``: a pause or a cancel stops the batch, and the
recipients not sent yet are given back.

Runs inside ``roster serve`` on the embedded default and in ``roster worker`` processes
(as many as wanted) on PostgreSQL; see ``roster.core.sending`` for how they share work.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import anyio

from roster import sealing
from roster.config import Settings
from roster.core import clock, confirmations, sending
from roster.core.campaigns import SENDING
from roster.core.confirmations import ConfirmLinks
from roster.core.preferences import PreferenceLinks
from roster.core.tracking import Tracking
from roster.mail.compose import (
    Envelope,
    Headers,
    Rendered,
    Signer,
    TemplateProblem,
    Templates,
    compile_templates,
    context,
    message,
    render,
)
from roster.mail.transport import ACCEPTED, REJECTED, Mailer, Reply, mailer_from
from roster.storage.db import Database, Record

log = logging.getLogger("roster.dispatch")

BATCH = 200
STATUS_EVERY = 0.5  # seconds
EXPIRE_EVERY = 60.0  # seconds between removals of expired pending memberships


def signer_of(domain: Record | None) -> Signer | None:
    """The DKIM signer of a verified sending domain with its key, if there is one."""
    if domain is None or not domain.dkim_private_key:
        return None
    return Signer(domain.name, domain.dkim_selector, sealing.unseal(domain.dkim_private_key).encode())


@dataclass(frozen=True, slots=True)
class Composer:
    """Turns a claimed campaign's letters into messages."""

    batch: sending.Batch
    templates: Templates
    links: PreferenceLinks
    bounce_address: str | None
    tracking: Tracking | None  # None: links and opens are not tracked

    @classmethod
    def of(
        cls,
        batch: sending.Batch,
        links: PreferenceLinks,
        bounce_address: str | None,
        tracking: Tracking | None = None,
    ) -> Composer:
        row = batch.campaign
        templates = compile_templates(row.subject, row.html_code, row.plain_text, row.preview_text)
        return cls(batch, templates, links, bounce_address, tracking if row.tracking else None)

    def envelope(self, letter: sending.Letter, moment: datetime) -> Envelope:
        campaign, sender, dkim = self.batch.campaign, self.batch.sender, self.batch.dkim
        scope = letter.audience_id or campaign.team_id
        unsubscribe = self.links.url(scope, letter.contact_id, campaign.id)
        person = {
            **letter.fields,
            "id": letter.contact_id,
            "email": letter.email,
            "firstName": letter.first_name,
            "lastName": letter.last_name,
            "company": letter.company,
        }
        rendered = render(
            self.templates,
            context(
                person,
                {"id": campaign.id, "name": campaign.name, "subject": campaign.subject},
                {"name": sender.name, "email": sender.email},
                unsubscribe,
            ),
        )
        if self.tracking is not None:
            own = f"{self.links.base_url}/unsubscribe/"
            html = self.tracking.rewrite(
                rendered.html, campaign.id, letter.contact_id, keep=lambda url: url.startswith(own)
            )
            rendered = Rendered(rendered.subject, html, rendered.text)
        headers = Headers(
            from_name=sender.name,
            from_email=sender.email,
            to_name=" ".join(part for part in (letter.first_name, letter.last_name) if part),
            to_email=letter.email,
            reply_to=campaign.reply_to,
            unsubscribe_url=unsubscribe,
            list_name=letter.audience_name or campaign.name,
            list_id=f"{letter.audience_id or campaign.id}.{sender.domain}",
            feedback_id=f"{campaign.id}:{campaign.team_id}:roster",
            recipient_tag=f"{campaign.id}/{letter.contact_id}",
        )
        return message(rendered, headers, moment, signer=signer_of(dkim), bounce_address=self.bounce_address)


class Dispatcher:
    def __init__(
        self,
        db: Database,
        mailer: Mailer,
        links: PreferenceLinks,
        *,
        tracking: Tracking | None = None,
        confirm_links: ConfirmLinks | None = None,
        confirm_expiry: timedelta = confirmations.EXPIRY,
        confirm_interval: timedelta = confirmations.INTERVAL,
        bounce_address: str | None = None,
        max_failures: int = 10,
        lease: timedelta = sending.LEASE,
        now: Callable[[], datetime] = clock.now,
    ) -> None:
        self.db = db
        self.mailer = mailer
        self.links = links
        self.tracking = tracking
        self.confirm_links = confirm_links or ConfirmLinks(links.base_url, "unset")
        self.confirm_expiry = confirm_expiry
        self.confirm_interval = confirm_interval
        self.expired_at = 0.0  # when pending memberships were last expired (monotonic)
        self.bounce_address = bounce_address
        self.max_failures = max_failures
        self.lease = lease
        self.now = now
        self.last_campaign: str | None = None

    @classmethod
    def from_settings(cls, db: Database, settings: Settings, secret: str) -> Dispatcher:
        """The dispatcher the settings describe; ``ValueError`` if ``ROSTER_SMTP_URL`` is wrong."""
        return cls(
            db,
            mailer_from(settings.smtp_url, settings.mail_folder, settings.redis_url),
            PreferenceLinks(settings.base_url, secret),
            tracking=Tracking(settings.base_url, secret) if settings.tracking else None,
            confirm_links=ConfirmLinks(settings.base_url, secret),
            confirm_expiry=timedelta(days=settings.confirm_days),
            confirm_interval=timedelta(seconds=settings.confirm_interval),
            bounce_address=settings.bounce_address,
            max_failures=settings.send_max_failures,
            lease=timedelta(seconds=settings.send_lease),
        )

    async def run_once(self) -> int:
        """One round; how many recipients it claimed (0 when there was nothing to do)."""
        confirmed = await self._confirmations()
        await self.db.write(sending.promote_due, self.now())
        await self.db.write(sending.resolve_next, self.now())
        room = min(BATCH, await self.mailer.available())
        if room <= 0:
            return 0
        batch = await self.db.write(
            sending.claim, self.now(), room, lease=self.lease, after=self.last_campaign
        )
        if batch is None:
            for campaign_id in await self.db.write(sending.finish_done, self.now()):
                log.info("campaign %s sent", campaign_id)
            return confirmed
        self.last_campaign = batch.campaign.id
        await self._send(batch)
        return len(batch.letters) or 1

    async def _send(self, batch: sending.Batch) -> None:
        composer = Composer.of(batch, self.links, self.bounce_address, self.tracking)
        pending = list(batch.letters)
        checked = time.monotonic()
        stopped = False

        async def still_sending() -> bool:
            nonlocal checked, stopped
            if not stopped and time.monotonic() - checked >= STATUS_EVERY:
                checked = time.monotonic()
                stopped = await self.db.read(sending.status, batch.campaign.id) != SENDING
            return not stopped

        async def deliver() -> None:
            while await still_sending() and pending:
                letter = pending.pop(0)
                reply = await self._deliver(composer, letter)
                await self.db.write(
                    sending.record, batch, letter, reply, self.now(), max_failures=self.max_failures
                )
                if reply.kind != ACCEPTED:
                    log.info("campaign %s to %s: %s", batch.campaign.id, letter.contact_id, reply)

        try:
            async with anyio.create_task_group() as group:
                for _ in range(min(self.mailer.connections, len(pending))):
                    group.start_soon(deliver)
        finally:
            unsent = [letter.contact_id for letter in pending]
            if unsent:  # paused or cancelled, or the round failed: they go back to the queue now
                with anyio.CancelScope(shield=True):
                    await self.db.write(sending.release, batch.campaign.id, unsent, self.now())

    async def _confirmations(self) -> int:
        """Send the confirmation mails due, and once a minute remove memberships whose
        confirmation expired; how many mails were due."""
        if time.monotonic() - self.expired_at >= EXPIRE_EVERY:
            self.expired_at = time.monotonic()
            await self.db.write(confirmations.expire, self.now(), self.confirm_expiry)
        due = await self.db.write(confirmations.claim, self.now(), BATCH, interval=self.confirm_interval)
        for item in due:
            try:
                reply = await self.mailer.send(self._confirmation(item, self.now()))
            except TemplateProblem as exc:
                reply = Reply(REJECTED, None, f"the confirmation template failed: {exc}")
            audience_id, contact_id = item.audience.id, item.contact.id
            if reply.kind == ACCEPTED:
                await self.db.write(confirmations.sent, audience_id, contact_id, self.now())
            else:
                permanent = reply.kind == REJECTED
                await self.db.write(confirmations.failed, audience_id, contact_id, self.now(), permanent)
                log.info("confirmation of %s to %s: %s", audience_id, contact_id, reply)
        return len(due)

    def _confirmation(self, item: confirmations.Due, moment: datetime) -> Envelope:
        audience, person, sender = item.audience, item.contact, item.sender
        url = self.confirm_links.url(audience.id, person.id, moment)
        templates = compile_templates(
            audience.confirm_subject or confirmations.DEFAULT_SUBJECT,
            audience.confirm_html or confirmations.DEFAULT_HTML,
            None,
            None,
        )
        names = {"firstName": person.first_name, "lastName": person.last_name, "email": person.email}
        rendered = render(templates, confirmations.context(names, audience.name, url))
        headers = Headers(
            from_name=sender.name,
            from_email=sender.email,
            to_name=" ".join(part for part in (person.first_name, person.last_name) if part),
            to_email=person.email,
            reply_to=None,
            unsubscribe_url=self.links.url(audience.id, person.id),
            list_name=audience.name,
            list_id=f"{audience.id}.{sender.domain}",
            feedback_id=f"confirm:{item.team_id}:roster",
            recipient_tag=f"{audience.id}/{person.id}",
        )
        return message(
            rendered, headers, moment, signer=signer_of(item.dkim), bounce_address=self.bounce_address
        )

    async def _deliver(self, composer: Composer, letter: sending.Letter) -> Reply:
        try:
            envelope = composer.envelope(letter, self.now())
        except TemplateProblem as exc:
            return Reply(REJECTED, None, f"the template failed for this contact: {exc}")
        return await self.mailer.send(envelope)

    async def run(self, *, idle: float = 0.5) -> None:
        """Send forever, polling every ``idle`` seconds when there is nothing to do."""
        while True:
            try:
                if await self.run_once():
                    continue
            except Exception:
                log.exception("campaign round failed; retrying")
            await anyio.sleep(idle)
