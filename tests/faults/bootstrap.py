"""Build a fault test's pipeline in the private database, through the same services the UI uses.

Run as `python -m tests.faults.bootstrap '<json spec>'` with the stack's environment; prints one JSON
line: {"write_key", "workspace", "destinations": {name: id}}. Spec: {"destinations": {name: settings}}
(webhook settings).
"""

from __future__ import annotations

import json
import secrets
import sys

import django


def main(spec: dict) -> dict:
    django.setup()
    from connections import services
    from pipelines.models import Workspace

    slug = "faults-" + secrets.token_hex(4)
    workspace = Workspace.objects.create(name=slug, slug=slug)
    source, _ = services.create_source(workspace, name="Fault client", kind="python")
    ids = {}
    for name, settings in spec["destinations"].items():
        destination = services.create_destination(workspace, name=name, kind="webhook", settings=settings,
                                                  sources=[source])
        ids[name] = destination.id
    return {"write_key": source.write_key, "workspace": slug, "destinations": ids}


if __name__ == "__main__":
    print(json.dumps(main(json.loads(sys.argv[1]))))
