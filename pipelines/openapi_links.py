"""OpenAPI links from each create operation to the operations on what it created (a drf-spectacular
postprocessing hook, SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"]).

`POST /api/workspaces/{slug}/destinations/` answers 201 with the destination's `id`; the operations under
`/api/workspaces/{slug}/destinations/{id}/` and `/api/workspaces/{slug}/destinations/{destination_id}/...`
take that id as their one new path parameter. Declaring the links lets clients (and stateful fuzzers such as
schemathesis) follow a create to the read, update and delete of the same object instead of guessing ids.
The rule is derived from the paths, so a new nested route gets its links without being listed here.
"""

from __future__ import annotations

import re
from typing import Any

_PARAM = re.compile(r"\{([^}]+)\}")
_METHODS = ("get", "put", "patch", "delete", "post")


def _created_body_field(param: str) -> str:
    # Workspaces are addressed by slug; every other object by its id.
    return "slug" if param == "slug" else "id"


def add_create_links(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = result.get("paths", {})
    for create_path, operations in paths.items():
        create = operations.get("post")
        if not create or "201" not in create.get("responses", {}):
            continue
        known = _PARAM.findall(create_path)
        links: dict[str, Any] = {}
        for path, targets in paths.items():
            rest = path[len(create_path):] if path.startswith(create_path) else ""
            added = _PARAM.findall(rest)
            # Only paths whose one new parameter comes first: /{id}/, /{id}/rotate-key/, /{destination_id}/actions/
            if len(added) != 1 or not rest.startswith("{" + added[0] + "}/"):
                continue
            parameters = {name: f"$request.path.{name}" for name in known}
            parameters[added[0]] = f"$response.body#/{_created_body_field(added[0])}"
            for method, operation in targets.items():
                if method in _METHODS and "operationId" in operation:
                    links[operation["operationId"]] = {"operationId": operation["operationId"],
                                                       "parameters": dict(parameters)}
        if links:
            create["responses"]["201"]["links"] = links
    return result
