from __future__ import annotations

import pytest
import sendx_python_sdk as sdk

from tests.conftest import Tenant


@pytest.fixture
def api(live_server: str, tenant: Tenant) -> sdk.ApiClient:
    """The published SendX SDK, pointed at a real Roster server with the tenant's key."""
    configuration = sdk.Configuration(host=f"{live_server}/api/v1/rest")
    configuration.api_key["TeamApiKey"] = tenant.token
    return sdk.ApiClient(configuration)
