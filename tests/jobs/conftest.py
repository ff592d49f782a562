"""Fixtures of the worker tests: the app's link makers and a real SMTP server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from roster.core.confirmations import ConfirmLinks
from roster.core.preferences import PreferenceLinks
from roster.core.tracking import Tracking
from tests.smtp_sink import Sink, smtp_sink


@pytest.fixture
def links(client: TestClient[Litestar]) -> PreferenceLinks:
    made: PreferenceLinks = client.app.state.services.links
    return made


@pytest.fixture
def tracking(client: TestClient[Litestar]) -> Tracking:
    made: Tracking = client.app.state.services.tracking
    return made


@pytest.fixture
def confirm_links(client: TestClient[Litestar]) -> ConfirmLinks:
    made: ConfirmLinks = client.app.state.services.confirm_links
    return made


@pytest.fixture
def sink() -> Iterator[Sink]:
    with smtp_sink() as running:
        yield running
