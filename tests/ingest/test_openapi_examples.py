"""Everything Customer.io's own OpenAPI file for this API describes as a valid request is accepted.

Two sources of requests: the file's code samples (JSON bodies and the bodies of its curl examples), and
instances built from every branch of every request schema (oneOf/anyOf alternatives, all properties filled
with the schema's own examples, enums or a value of the declared type).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import orjson
import pytest

from connections.models import Source
from ingest.models import Event

from .conftest import TrackingClient

# The CI checkout has shared/ beside the repository root.
SPEC_PATH = Path(__file__).resolve().parents[2] / ".." / "shared" / "reference" / "openapi" / (
    "customerio-pipelines-api.json"
)
SPEC: dict[str, Any] = orjson.loads(SPEC_PATH.read_bytes())
MAX_VARIANTS = 12


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = {**SPEC["components"]["schemas"][name], **{k: v for k, v in schema.items() if k != "$ref"}}
    return schema


def _merge(parts: list[Any]) -> Any:
    merged: dict[str, Any] = {}
    for part in parts:
        if isinstance(part, dict):
            merged.update(part)
    return merged


def instances(schema: dict[str, Any], depth: int = 0) -> list[Any]:
    """Values valid under `schema`, at least one per oneOf/anyOf branch (at most MAX_VARIANTS)."""
    schema = _resolve(schema)
    if depth > 10:
        return ["deep"]
    for combinator in ("oneOf", "anyOf"):
        if combinator in schema:
            found = [v for branch in schema[combinator] for v in instances(branch, depth + 1)]
            return found[:MAX_VARIANTS]
    if "allOf" in schema:
        parts = [instances(part, depth + 1) for part in schema["allOf"]]
        count = max(len(p) for p in parts)
        return [_merge([p[min(i, len(p) - 1)] for p in parts]) for i in range(count)]
    if "example" in schema and not schema.get("properties"):
        return [schema["example"]]
    if "enum" in schema:
        return [schema["enum"][0]]
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        props = {k: instances(v, depth + 1) for k, v in schema.get("properties", {}).items()}
        count = max([len(v) for v in props.values()] or [1])
        return [{k: v[min(i, len(v) - 1)] for k, v in props.items()} for i in range(min(count, MAX_VARIANTS))]
    if kind == "array":
        return [instances(schema.get("items", {}), depth + 1)]
    if kind == "string":
        return ["2024-05-01T12:00:00.000Z" if schema.get("format") == "date-time" else "example"]
    if kind in ("number", "integer"):
        return [1]
    if kind == "boolean":
        return [True]
    return ["value"]


def _requests() -> list[tuple[str, str, Any]]:
    found: list[tuple[str, str, Any]] = []
    for path, item in SPEC["paths"].items():
        operation = item.get("post") or {}
        schema = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
        if schema:
            for n, body in enumerate(instances(schema)):
                found.append((path, f"{path} schema variant {n}", body))
        for sample in operation.get("x-codeSamples", []):
            source = sample["source"]
            if sample["lang"] == "json":
                body = orjson.loads(source)
            else:
                match = re.search(r"--data-raw '(.*)'", source, re.DOTALL)
                if not match:
                    continue
                body = orjson.loads(match.group(1))
            if body:
                found.append((path, f"{path} {sample['label']} sample", body))
    return found


REQUESTS = _requests()


def test_the_spec_yields_requests_for_every_route():
    assert {path for path, _, _ in REQUESTS} == {"/identify", "/track", "/page", "/screen", "/group", "/alias",
                                                 "/batch"}
    assert len(REQUESTS) > 20


@pytest.mark.parametrize(("path", "body"), [(p, b) for p, _, b in REQUESTS], ids=[i for _, i, _ in REQUESTS])
def test_every_request_in_the_openapi_file_is_accepted(api: TrackingClient, source: Source, path: str, body: Any):
    response = api.post(f"/v1{path}", body)
    assert response.status_code == 200, response.content
    assert orjson.loads(response.content) == {"success": True}
    events = list(Event.objects.filter(source=source))
    if path == "/batch":
        # Items sharing a messageId (the schema's example value) are one message: stored once.
        first_of_each: dict[Any, str] = {}
        for item in body["batch"]:
            first_of_each.setdefault(item.get("messageId") or id(item), item["type"])
        assert sorted(e.type for e in events) == sorted(first_of_each.values())
    else:
        assert [e.type for e in events] == [path.strip("/")]
