"""Fixtures for audience syncing: people of the profile store with identifiers and traits, an audience
computed over them, and a webhook destination that is a local HTTP server."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from pytest_httpserver import HTTPServer

from audiences import services as audience_services
from audiences.models import Audience
from connections import services as connection_services
from connections.models import Destination
from pipelines.models import Workspace
from profiles.models import Identifier, Person

PRO = {"trait": "plan", "op": "=", "value": "pro"}


@pytest.fixture
def person(workspace: Workspace) -> Any:
    """person(user_id=..., email=..., anonymous_id=..., **traits): a person with those identifiers."""

    def make(user_id: str | None = None, email: str | None = None, anonymous_id: str | None = None,
             ws: Workspace | None = None, **traits: Any) -> Person:
        ws = ws or workspace
        p = Person.objects.create(workspace=ws, traits={**traits, **({"email": email} if email else {})})
        for kind, value in (("user_id", user_id), ("email", email), ("anonymous_id", anonymous_id)):
            if value:
                Identifier.objects.create(workspace=ws, person=p, kind=kind, value=value)
        return p

    return make


def make_audience(workspace: Workspace, key: str = "cart-abandoners", definition: Any = None, *,
                  worker: bool = False) -> Audience:
    """A computed audience. With a Celery worker running (`worker=True`) its own computation task is
    waited for, rather than computing it here at the same time (two computations racing log entries twice)."""
    audience = audience_services.create_audience(workspace, name=key.replace("-", " ").title(), key=key,
                                                 definition=definition or PRO)
    if worker:
        from tests.helpers import wait_for

        wait_for(lambda: Audience.objects.get(pk=audience.pk).status == Audience.Status.READY,
                 what="the audience computed")
    else:
        audience_services.compute(audience.pk, audience.generation)
    audience.refresh_from_db()
    return audience


def set_plan(p: Person, plan: str) -> None:
    """Change the person's plan trait and re-evaluate their audiences (what the profile store's
    person_changed signal does)."""
    p.traits = {**p.traits, "plan": plan}
    p.save()
    audience_services.evaluate_people(p.workspace_id, [p.pk], trait_keys=["plan"])


@pytest.fixture
def hook(settings: Any, workspace: Workspace, httpserver: HTTPServer) -> Destination:
    """A Webhook destination posting to the local server, connected to no source of its own."""
    settings.OUTBOUND_ALLOW_PRIVATE = True
    httpserver.expect_request("/hook").respond_with_json({"ok": True})
    return connection_services.create_destination(workspace, name="Journeys hook", kind="webhook",
                                                  settings={"url": httpserver.url_for("/hook")})


def bodies(httpserver: HTTPServer, path: str = "/hook") -> list[Any]:
    return [orjson.loads(r.get_data()) for r, _ in httpserver.log if r.path == path]
