"""The attack corpus (tests/corpus/attacks.json) against every route that takes a body, in all
three dialects: huge numbers, invalid UTF-8, deep nesting, NUL and control characters, wrong
types. Every answer is a 4xx in the dialect's shape or a success, never a server error."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

from litestar import Litestar
from litestar.testing import TestClient

from roster.storage.db import Database
from tests.api.test_isolation import PARAM, auth, kind_of, owned_by, routes
from tests.conftest import Tenant

CORPUS = json.loads((Path(__file__).parent.parent / "corpus" / "attacks.json").read_text())


def bodies() -> list[bytes]:
    found = [body.encode() for body in CORPUS["bodies"]]
    found += [base64.b64decode(body) for body in CORPUS["base64"]]
    depth = CORPUS["nesting"]
    found += [b"[" * depth + b"]" * depth, b'{"rules":' + b'{"not":' * depth + b"{}" + b"}" * depth + b"}"]
    for value in CORPUS["values"]:
        found.append(json.dumps(dict.fromkeys(CORPUS["fields"], value)).encode())
    return found


def test_no_hostile_body_makes_a_server_error(
    tenant: Tenant, db: Database, client: TestClient[Litestar]
) -> None:
    ids = owned_by(tenant, db)
    corpus = bodies()
    writes = [(method, path) for method, path in routes(client.app) if method in ("POST", "PUT", "PATCH")]
    writes += [
        (method, path) for method, path in _plain_routes(client.app) if method in ("POST", "PUT", "PATCH")
    ]
    assert len(writes) > 40
    failures: list[Any] = []
    for method, template in writes:
        path = PARAM.sub(lambda m, t=template: ids[kind_of(t, m.group(1))], template)
        for body in corpus:
            headers = {**auth(template, tenant.token), "Content-Type": "application/json"}
            response = client.request(method, path, content=body, headers=headers)
            if response.status_code >= 500 or not response.headers.get("content-type", "").startswith(
                ("application/json", "text/html", "text/plain", "text/csv")
            ):
                failures.append((method, template, body[:80], response.status_code, response.text[:200]))
    assert failures == [], "\n".join(map(str, failures[:20]))


def test_no_hostile_path_or_query_value_makes_a_server_error(
    tenant: Tenant, client: TestClient[Litestar]
) -> None:
    failures: list[Any] = []
    documents = [
        client.get(path).json()
        for path in ("/api/v1/openapi.json", "/api/v1/rest/openapi.json", "/v1/openapi.json")
    ]
    for document in documents:
        for template, operations in document["paths"].items():
            for method, operation in operations.items():
                names = [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"]
                for value in CORPUS["path_values"]:
                    path = PARAM.sub(lambda _m, v=value: quote(v, safe=""), template)
                    response = client.request(method.upper(), path, headers=auth(template, tenant.token))
                    if response.status_code >= 500:
                        failures.append((method, template, value[:20], response.status_code))
                for value in CORPUS["query_values"] if names else []:
                    if "{" in template:
                        continue  # the routes without an ID take the queries that page and search
                    params = dict.fromkeys(names, value)
                    response = client.request(
                        method.upper(), template, params=params, headers=auth(template, tenant.token)
                    )
                    if response.status_code >= 500:
                        failures.append((method, template, params, response.status_code))
    assert failures == [], "\n".join(map(str, failures[:20]))


def _plain_routes(app: Litestar) -> list[tuple[str, str]]:
    """The API routes without a path parameter (creates, bulk calls)."""
    found = []
    for route in app.routes:
        if PARAM.search(route.path) or not route.path.startswith(("/api/", "/v1/")):
            continue
        for method in sorted(getattr(route, "methods", set()) - {"OPTIONS", "HEAD"}):
            found.append((method, route.path))
    return found
