"""Arbitrary JSON thrown at every Track API route answers 200/207/400, never a server error."""

from __future__ import annotations

from typing import Any

import orjson
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)
keys = st.sampled_from(["type", "action", "identifiers", "name", "id", "timestamp", "data", "attributes",
                        "device", "primary", "secondary", "cio_relationships", "anonymous_id", "_timestamp",
                        "_update", "batch", "relationships", "token", "platform", "object_id", "email"])
bodies = st.recursive(
    st.dictionaries(keys, json_values, max_size=6),
    lambda children: st.dictionaries(keys, children | json_values | st.lists(children, max_size=3), max_size=6),
    max_leaves=12,
)
routes = st.sampled_from([
    ("put", "/api/v1/customers/u1"), ("put", "/api/v1/customers/a%40b.co/devices"),
    ("post", "/api/v1/customers/cio_1/events"), ("post", "/api/v1/events"), ("post", "/api/v1/merge_customers"),
    ("post", "/api/v2/entity"), ("post", "/api/v2/batch"),
])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(route=routes, body=bodies | st.lists(bodies, max_size=3).map(lambda b: {"batch": b}))
def test_any_json_body_gets_a_client_answer(client: Client, auth: dict[str, str], route: Any, body: Any) -> None:
    method, path = route
    response = getattr(client, method)(path, data=orjson.dumps(body), content_type="application/json", **auth)
    assert response.status_code in (200, 207, 400), response.content
    assert response["Content-Type"] == "application/json"
