"""The outbound rule: no URL from the corpus of internal and malformed ones is ever called."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path

import pytest

from roster.core import outbound
from roster.core.errors import Invalid

REFUSED = json.loads((Path(__file__).parent.parent / "corpus" / "outbound_urls.json").read_text())["refused"]


@pytest.mark.parametrize("url", REFUSED)
def test_every_url_of_the_corpus_is_refused(url: str) -> None:
    with pytest.raises(Invalid) as refused:
        outbound.checked_url(url, allow_private=False, nameserver="127.0.0.1:9")
    assert refused.value.field == "url"


@pytest.mark.parametrize(
    "address",
    ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946", "::ffff:93.184.216.34", "64:ff9b::5db8:d822",
     "2002:5db8:d822::1"],
)  # fmt: skip
def test_public_addresses_in_any_form_are_allowed(address: str) -> None:
    assert outbound.is_public(ipaddress.ip_address(address))
    host = f"[{address}]" if ":" in address else address
    assert outbound.checked_url(f"https://{host}:8443/hook", allow_private=False, nameserver=None)


def test_the_operator_may_allow_private_addresses_but_never_a_malformed_url() -> None:
    assert outbound.checked_url("http://[::127.0.0.1]:8080/", allow_private=True, nameserver=None)
    with pytest.raises(Invalid):
        outbound.checked_url("http://127.0.0.1:8080/a\r\nb", allow_private=True, nameserver=None)
