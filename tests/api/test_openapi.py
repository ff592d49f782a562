"""Each dialect's OpenAPI document tells the truth: schemathesis generates requests from it
(its default checks) against the real server, and every answer must match the document:
no server error, no status, header or body outside what it documents. A longer run:
``bench/openapi_fuzz.py``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.config import SchemathesisConfig

from tests.conftest import Tenant

DOCUMENTS = {"sendex": "/api/v1/openapi.json", "sendx": "/api/v1/rest/openapi.json", "v1": "/v1/openapi.json"}
EXAMPLES = 5  # per operation here; bench/openapi_fuzz.py runs more
CONFIG = Path(__file__).parent.parent / "schemathesis.toml"


def fuzz(base: str, dialect: str, token: str, examples: int) -> list[str]:
    """Failures of every operation of the dialect's document, one line each."""
    schema = schemathesis.openapi.from_url(
        base + DOCUMENTS[dialect], config=SchemathesisConfig.from_path(CONFIG)
    )
    headers = {"X-Team-ApiKey": token} if dialect == "sendx" else {"Authorization": f"Bearer {token}"}
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(operation.as_strategy())
        @settings(
            max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck), database=None
        )
        def check(case: Any) -> None:
            case.call_and_validate(headers=headers, timeout=30)

        try:
            check()
        except (Exception, BaseExceptionGroup) as exc:  # each operation's failures, then the next
            failures.append(f"{operation.label}: {str(exc).strip()}")
    return failures


@pytest.mark.parametrize("dialect", list(DOCUMENTS))
def test_the_documents_tell_the_truth(live_server: str, tenant: Tenant, dialect: str) -> None:
    failures = fuzz(live_server, dialect, tenant.token, EXAMPLES)
    assert failures == [], "\n".join(failures)


def test_each_document_names_its_own_key_errors_and_fields(client: Any) -> None:
    sendx = client.get(DOCUMENTS["sendx"]).json()
    assert sendx["components"]["securitySchemes"] == {
        "apiKey": {"type": "apiKey", "in": "header", "name": "X-Team-ApiKey", "description": "sk_… API key"}
    }
    assert "firstName" in sendx["components"]["schemas"]["ContactIn"]["properties"]
    assert set(sendx["components"]["schemas"]["Error"]["required"]) == {"status", "message"}
    v1 = client.get(DOCUMENTS["v1"]).json()
    assert v1["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert "contactIds" in v1["components"]["schemas"]["ContactIds"]["properties"]
    sendex = client.get(DOCUMENTS["sendex"]).json()
    assert all(
        path.startswith("/api/v1/") and not path.startswith("/api/v1/rest") for path in sendex["paths"]
    )
    for document in (sendx, v1, sendex):
        names = list(document["components"]["schemas"])
        assert not [name for name in names if "." in name or "_schemas_" in name]
        for operations in document["paths"].values():
            for operation in operations.values():
                assert {"401", "404", "422", "429", "500"} <= set(operation["responses"])
