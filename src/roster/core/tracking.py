"""Open and click tracking: the signed URLs a campaign's HTML is rewritten to, and the rule
for which requests count as a person opening or clicking.

A click URL's token carries the campaign, the contact, the link's URL and an HMAC-SHA256 of
the three under the instance's secret key (cut to 128 bits); an open URL's, the campaign and
the contact. Only Roster, rendering that campaign for that contact, can make one: the
redirect therefore only ever goes to a URL that was in that campaign's message, and a
tampered or foreign token is refused before anything is read or written.

Rewritten: every ``href`` of an ``<a>`` whose URL is ``http`` or ``https``. Never rewritten:
the contact's unsubscribe and preference links, ``mailto:`` and every other scheme, anchors.
"""

from __future__ import annotations

import hmac
import re
from base64 import urlsafe_b64decode, urlsafe_b64encode
from binascii import Error as Base64Error
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from html import escape, unescape

from roster.core.errors import NotFound

OPEN, CLICK = "open", "click"
_PART = 22  # characters of an ID body, and of a 128-bit MAC (unpadded base64url)
_HEAD = re.compile(r"[0-9A-Za-z]{44}[0-9A-Za-z_-]{22}")
_HREF = re.compile(r"""(<a\b[^>]*?\bhref\s*=\s*)(["'])(.*?)\2""", re.IGNORECASE | re.DOTALL)
_BODY_END = re.compile(r"</body\s*>", re.IGNORECASE)
MAX_URL = 2048

# Agents that fetch links and images to inspect them, not people: mail security gateways,
# link previewers and HTTP libraries. Their requests are recorded but not counted.
SCANNERS = (
    "barracuda", "mimecast", "proofpoint", "urldefense", "safelinks", "bingpreview", "symantec",
    "forcepoint", "trendmicro", "zscaler", "ironport", "fortiguard", "sophos", "bot", "spider",
    "crawler", "preview", "python-requests", "python-urllib", "curl/", "wget/", "go-http-client",
    "okhttp", "java/", "libwww", "headlesschrome",
)  # fmt: skip


def _b64(data: bytes) -> str:
    return urlsafe_b64encode(data).rstrip(b"=").decode()


class Tracking:
    """Mints and checks tracking URLs under one secret."""

    __slots__ = ("_key", "base_url")

    def __init__(self, base_url: str, secret: str) -> None:
        self.base_url = base_url
        self._key = secret.encode()

    def _mac(self, kind: str, campaign_id: str, contact_id: str, url: str = "") -> str:
        message = f"{kind}:{campaign_id}:{contact_id}:{url}".encode()
        return _b64(hmac.digest(self._key, message, "sha256")[:16])

    def _head(self, kind: str, campaign_id: str, contact_id: str, url: str = "") -> str:
        return (
            campaign_id.removeprefix("campaign_")
            + contact_id.removeprefix("contact_")
            + self._mac(kind, campaign_id, contact_id, url)
        )

    def open_url(self, campaign_id: str, contact_id: str) -> str:
        return f"{self.base_url}/t/o/{self._head(OPEN, campaign_id, contact_id)}.gif"

    def click_url(self, campaign_id: str, contact_id: str, url: str) -> str:
        head = self._head(CLICK, campaign_id, contact_id, url)
        return f"{self.base_url}/t/c/{head}{_b64(url.encode())}"

    def _check(self, kind: str, token: str, url: str = "") -> tuple[str, str]:
        campaign_id = "campaign_" + token[:_PART]
        contact_id = "contact_" + token[_PART : 2 * _PART]
        mac = self._mac(kind, campaign_id, contact_id, url)
        if not hmac.compare_digest(token[2 * _PART : 3 * _PART], mac):
            raise NotFound("link")
        return campaign_id, contact_id

    def parse_open(self, token: str) -> tuple[str, str]:
        """``(campaign_id, contact_id)`` of a genuine open token (``….gif``); ``NotFound``
        otherwise."""
        token = token.removesuffix(".gif")
        if len(token) != 3 * _PART or not _HEAD.fullmatch(token):
            raise NotFound("link")
        return self._check(OPEN, token)

    def parse_click(self, token: str) -> tuple[str, str, str]:
        """``(campaign_id, contact_id, url)`` of a genuine click token; ``NotFound``
        otherwise."""
        head, tail = token[: 3 * _PART], token[3 * _PART :]
        if not _HEAD.fullmatch(head) or not tail or len(tail) > 2 * MAX_URL:
            raise NotFound("link")
        try:
            url = urlsafe_b64decode(tail + "=" * (-len(tail) % 4)).decode()
        except (Base64Error, UnicodeDecodeError, ValueError):
            raise NotFound("link") from None
        campaign_id, contact_id = self._check(CLICK, head, url)
        return campaign_id, contact_id, url

    def rewrite(self, html: str, campaign_id: str, contact_id: str, keep: Callable[[str], bool]) -> str:
        """The HTML with its links going through click URLs (except those ``keep`` says to
        leave as they are) and an open pixel at the end of the body."""

        def tracked(found: re.Match[str]) -> str:
            url = unescape(found.group(3)).strip()
            if not url.lower().startswith(("http://", "https://")) or len(url) > MAX_URL or keep(url):
                return found.group(0)
            quote = found.group(2)
            return f"{found.group(1)}{quote}{escape(self.click_url(campaign_id, contact_id, url))}{quote}"

        html = _HREF.sub(tracked, html)
        pixel = (
            f'<img src="{escape(self.open_url(campaign_id, contact_id))}" width="1" height="1" alt="" '
            'style="display:block;border:0;width:1px;height:1px">'
        )
        ends = list(_BODY_END.finditer(html))
        if ends:
            return html[: ends[-1].start()] + pixel + html[ends[-1].start() :]
        return html + pixel


@dataclass(frozen=True, slots=True)
class Hit:
    """One request for a tracking URL, as received."""

    kind: str  # OPEN or CLICK
    campaign_id: str
    contact_id: str
    url: str | None
    at: datetime
    user_agent: str
    uncounted: str | None  # why it is not a person's open or click, or None


def why_uncounted(method: str, user_agent: str) -> str | None:
    """Why a request is not counted as a person's open or click: a HEAD request, or an
    agent that scans links; ``None`` for one that counts."""
    if method == "HEAD":
        return "a HEAD request"
    agent = user_agent.lower()
    if not agent.strip():
        return "no User-Agent"
    for name in SCANNERS:
        if name in agent:
            return f"a link scanner ({name})"
    return None
