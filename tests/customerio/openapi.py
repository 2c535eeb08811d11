"""Validate request bodies against Customer.io's own OpenAPI file (shared/reference/openapi).

`validator_for(path)` returns a JSON Schema validator for the request body of a Track API path, with the
file's $refs resolved in place. Two definitions in the file are written as `oneOf` whose alternatives
overlap, so no body could ever satisfy them under JSON Schema rules (exactly one alternative must match):
- `v2_cio_relationships` (object ↔ person relationships): its identifier alternatives {id} / {email} /
  {cio_id} declare no `required` key, so every identifiers object matches all three. We add the evident
  `required` key to each alternative, which is stricter than the file, not looser;
- `anonymousEventsRequest`: the "standard" alternative also allows type page / screen, so a page view
  matches two alternatives. We read that `oneOf` as `anyOf`.
- `/api/v1/metrics` (one alternative per channel, most metrics valid for several channels) and the `data`
  of `/api/v1/forms/{form_id}/submit` (by email / by id): the same, read as `anyOf`.
Everything else is used as published. `response_errors` checks a response against the file's responses.
"""

from __future__ import annotations

import copy
import functools
import json
from pathlib import Path
from typing import Any

import jsonschema
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SPEC_PATH = Path(__file__).resolve().parents[2] / ".." / "shared" / "reference" / "openapi" / "customerio-track-api.json"
_BASE = "urn:customerio-track-api"


_ONE_OF_AS_ANY_OF = (("/api/v1/metrics", ()), ("/api/v1/forms/{form_id}/submit", ("properties", "data")))


@functools.cache
def _registry() -> Registry:
    spec = json.loads(SPEC_PATH.read_text())
    schemas = spec["components"]["schemas"]
    relationships = copy.deepcopy(schemas["v2_cio_relationships"])
    for alternative in relationships["items"]["properties"]["identifiers"]["oneOf"]:
        alternative["required"] = list(alternative["properties"])
    schemas["v2_cio_relationships"] = relationships
    anonymous = copy.deepcopy(schemas["anonymousEventsRequest"])
    anonymous["anyOf"] = anonymous.pop("oneOf")
    schemas["anonymousEventsRequest"] = anonymous
    for path, where in _ONE_OF_AS_ANY_OF:
        schema = spec["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
        for key in where:
            schema = schema[key]
        schema["anyOf"] = schema.pop("oneOf")
    return Registry().with_resource(_BASE, Resource.from_contents(spec, default_specification=DRAFT202012))


def _pointer(path: str) -> str:
    escaped = path.replace("~", "~0").replace("/", "~1")
    return f"{_BASE}#/paths/{escaped}/post/requestBody/content/application~1json/schema"


@functools.cache
def validator_for(path: str) -> jsonschema.Draft202012Validator:
    """The request-body validator of `POST <path>` in the Track API spec (KeyError for unknown paths)."""
    spec = json.loads(SPEC_PATH.read_text())
    if "requestBody" not in spec["paths"].get(path, {}).get("post", {}):
        raise KeyError(f"the Track API spec has no POST {path} with a request body")
    return jsonschema.Draft202012Validator({"$ref": _pointer(path)}, registry=_registry())


def errors_for(path: str, body: Any) -> list[str]:
    """Human-readable schema violations of `body` sent to `POST <path>`; [] when valid."""
    return [f"{'/'.join(map(str, e.absolute_path)) or '<body>'}: {e.message[:300]}"
            for e in validator_for(path).iter_errors(body)]


def response_errors(path: str, status: int, body: Any) -> list[str]:
    """Why a response to `POST <path>` breaks the file: a status it does not list for the path (a 400 or
    401 is judged by the file's shared 400/401 responses, which most Track paths list), or a JSON body that
    breaks the documented schema. [] when it conforms."""
    spec = json.loads(SPEC_PATH.read_text())
    listed = spec["paths"][path]["post"].get("responses", {})
    response = listed.get(str(status))
    if response is None and status in (400, 401):
        response = {"$ref": f"#/components/responses/{status}"}
    if response is None:
        return [f"status {status} is not a documented response of POST {path} (documented: {sorted(listed)})"]
    while "$ref" in response:
        response = spec["components"]["responses"][response["$ref"].rsplit("/", 1)[-1]]
    schema = response.get("content", {}).get("application/json", {}).get("schema")
    if schema is None:
        return []
    validator = jsonschema.Draft202012Validator(schema, registry=_registry())
    return [f"{'/'.join(map(str, e.absolute_path)) or '<body>'}: {e.message[:300]}"
            for e in validator.iter_errors(body)]
