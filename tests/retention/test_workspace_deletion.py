"""Deleting a workspace: owners only, gone at once for every user and key, its data removed in bounded,
resumable batches, and the other workspaces untouched."""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any

import orjson
import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.utils import timezone
from pytest_httpserver import HTTPServer

from audit.models import AuditEntry
from connections import services
from connections.models import Source
from ingest import auth
from ingest.models import Event
from pipelines import members
from pipelines.models import Invitation, Membership, Workspace
from retention import workspace_deletion
from retention.workspace_deletion import request_deletion, run_deletion

from ..helpers import wait_for
from .conftest import member

# Every table holding a workspace's data, with the SQL that counts one workspace's rows in it.
_PER_DESTINATION = "destination_id IN (SELECT id FROM connections_destination WHERE workspace_id = %(w)s)"
_PER_AUDIENCE = "audience_id IN (SELECT id FROM audiences_audience WHERE workspace_id = %(w)s)"
_PER_SOURCE = "source_id IN (SELECT id FROM connections_source WHERE workspace_id = %(w)s)"
TABLES = {
    "ingest_event": "workspace_id = %(w)s",
    "ingest_webhookbody": "workspace_id = %(w)s",
    "destinations_delivery": "workspace_id = %(w)s",
    "destinations_deliverychunk": "workspace_id = %(w)s",
    "destinations_deliveryexchange": _PER_DESTINATION,
    "destinations_deliverycount": _PER_DESTINATION,
    "profiles_person": "workspace_id = %(w)s",
    "profiles_identifier": "workspace_id = %(w)s",
    "profiles_device": "workspace_id = %(w)s",
    "profiles_groupmembership": "workspace_id = %(w)s",
    "profiles_personevent": "workspace_id = %(w)s",
    "profiles_identityconflict": "workspace_id = %(w)s",
    "audiences_audience": "workspace_id = %(w)s",
    "audiences_membership": _PER_AUDIENCE,
    "audiences_duecheck": _PER_AUDIENCE,
    "audiences_membershipevent": _PER_AUDIENCE,
    "audiences_hourlycount": _PER_AUDIENCE,
    "privacy_privacyrequest": "workspace_id = %(w)s",
    "privacy_suppression": "workspace_id = %(w)s",
    "privacy_suppressedevent": "workspace_id = %(w)s",
    "audit_auditentry": "workspace_id = %(w)s",
    "connections_source": "workspace_id = %(w)s",
    "connections_webhooksettings": _PER_SOURCE,
    "connections_destination": "workspace_id = %(w)s",
    "connections_connection": _PER_SOURCE,
    "connections_action": _PER_DESTINATION,
    "pipelines_membership": "workspace_id = %(w)s",
    "pipelines_invitation": "workspace_id = %(w)s",
    "retention_retentionpolicy": "workspace_id = %(w)s",
}


def rows(workspace_id: int) -> dict[str, int]:
    counts = {}
    with connection.cursor() as cursor:
        for table, where in TABLES.items():
            cursor.execute(f"SELECT count(*) FROM {table} WHERE {where}", {"w": workspace_id})
            counts[table] = cursor.fetchone()[0]
    return counts


def basic(key: str) -> str:
    return "Basic " + base64.b64encode(f"{key}:".encode()).decode()


def track(write_key: str, message_id: str = "m-1") -> Any:
    body = {"type": "track", "event": "Signed Up", "userId": "u1", "messageId": message_id}
    return Client().generic("POST", "/v1/track", orjson.dumps(body), content_type="application/json",
                            HTTP_AUTHORIZATION=basic(write_key))


@pytest.fixture(autouse=True)
def _no_cached_keys() -> Any:
    from destinations.fanout import clear_routing_cache

    auth.forget()
    clear_routing_cache()
    yield
    auth.forget()


def fill(workspace: Workspace, httpserver: HTTPServer, owner: User) -> None:
    """Rows in every table of TABLES, made the way the product makes them where that is short."""
    from audiences.models import Audience, DueCheck, HourlyCount, MembershipEvent
    from audiences.models import Membership as AudienceMembership
    from destinations import fanout
    from ingest import webhooks
    from ingest.models import WebhookBody
    from ingest.services import store_events
    from privacy import services as privacy
    from privacy.models import SuppressedEvent
    from profiles.models import IdentityConflict, Person
    from retention.models import policy_for
    from tests.helpers import send_queued

    httpserver.expect_request(f"/ok/{workspace.slug}").respond_with_json({"ok": True})
    httpserver.expect_request(f"/down/{workspace.slug}").respond_with_data("down", status=503)
    source = services.create_source(workspace, name="Backend", kind="python")[0]
    hook = services.create_source(workspace, name="Hook in", kind="webhook")[0]
    services.create_destination(workspace, name="Profiles", kind="profiles", settings={}, sources=[source])
    services.create_destination(workspace, name="OK", kind="webhook",
                                settings={"url": httpserver.url_for(f"/ok/{workspace.slug}")}, sources=[source])
    services.create_destination(workspace, name="Down", kind="webhook",
                                settings={"url": httpserver.url_for(f"/down/{workspace.slug}")}, sources=[source])
    now = timezone.now()
    sent = store_events(source, [
        {"type": "identify", "userId": "u1", "messageId": "i1", "traits": {"email": "u1@example.com"}},
        {"type": "group", "userId": "u1", "groupId": "g1", "messageId": "g1"},
        {"type": "track", "userId": "u1", "event": "Application Opened", "messageId": "t1",
         "context": {"device": {"id": "d1", "type": "ios"}}},
    ], now)
    fanout.fan_out(sent)
    send_queued(workspace_id=workspace.id)  # delivered rows, exchanges, counts, the person; retrying rows for "Down"
    fanout.fan_out(store_events(source, [{"type": "track", "userId": "u2", "event": "Later", "messageId": "t2"}],
                                now))  # first attempts left queued: delivery chunks
    person = Person.objects.filter(workspace=workspace).first()
    assert person is not None
    IdentityConflict.objects.create(workspace=workspace, user_id="u1", email="x@example.com", user_person=person)
    webhooks.settings_for(hook).save()
    WebhookBody.objects.create(workspace=workspace, source=hook, received_at=now, raw=b"{}", status="processed",
                               processed_at=now)
    audience = Audience.objects.create(workspace=workspace, name="All", key="all", definition={})
    AudienceMembership.objects.create(audience=audience, person_id=person.id, entered_at=now)
    DueCheck.objects.create(audience=audience, person_id=person.id, due_at=now)
    MembershipEvent.objects.create(audience=audience, person_id=person.id, kind="enter", at=now)
    HourlyCount.objects.create(audience=audience, hour=now.replace(minute=0, second=0, microsecond=0), entered=1)
    privacy.suppress(workspace, owner, email="gone@example.com")
    SuppressedEvent.objects.create(workspace=workspace, source=source, message_id="s1", type="track",
                                   identity_kind="email", received_at=now)
    Invitation.objects.create(workspace=workspace, email=f"new@{workspace.slug}.example", invited_by=owner)
    policy_for(workspace).save()
    empty = [table for table, n in rows(workspace.id).items() if not n]
    assert not empty, f"the test world has no rows in {empty}"


# --- Who may delete, and what they see --------------------------------------------------------------------


def test_an_owner_deletes_a_workspace_through_the_api(workspace, other_workspace, owner, api_for):
    teammate = member(workspace, "tom", Membership.Role.MEMBER)
    Membership.objects.create(user=owner, workspace=other_workspace, role=Membership.Role.VIEWER)
    response = api_for(owner).delete("/api/workspaces/acme/")
    assert response.status_code == 202
    body = response.json()
    assert body["slug"] == "acme" and body["status"] == "deleting" and body["deleting_at"]
    assert "removed in the background" in body["message"]
    # Gone for everybody, at once; the other workspace stays.
    for user in (owner, teammate):
        api = api_for(user)
        assert api.get("/api/workspaces/acme/").status_code == 404
        assert api.get("/api/workspaces/acme/sources/").status_code == 404
        assert [w["slug"] for w in api.get("/api/workspaces/").json()["results"]] == (
            ["globex"] if user == owner else [])
    assert api_for(owner).get("/api/workspaces/globex/").status_code == 200
    assert api_for(owner).delete("/api/workspaces/acme/").status_code == 404  # deleted once


@pytest.mark.parametrize("role", [Membership.Role.ADMIN, Membership.Role.MEMBER, Membership.Role.VIEWER])
def test_only_owners_may_delete(workspace, owner, api_for, role):
    response = api_for(member(workspace, f"user-{role}", role)).delete("/api/workspaces/acme/")
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert "needs the owner role" in response.json()["message"]
    assert Workspace.objects.get(slug="acme").deleting_at is None
    assert api_for(owner).get("/api/workspaces/acme/").status_code == 200


def test_an_outsider_gets_404(workspace, owner, outsider, api_for):
    assert api_for(outsider).delete("/api/workspaces/acme/").status_code == 404
    assert Workspace.objects.get(slug="acme").deleting_at is None


def test_the_deletion_is_recorded_and_outlives_the_workspace(workspace, owner, api_for):
    api_for(owner).delete("/api/workspaces/acme/")
    entry = AuditEntry.objects.get(object_type="workspace")
    assert entry.workspace_id is None and entry.object_id == workspace.id
    assert entry.object_name == "Acme (acme)" and entry.actor_id == owner.id
    assert entry.actor_label == "alice (api token)" and entry.action == "deleted"
    run_deletion(workspace.id, max_seconds=60)
    entries = list(AuditEntry.objects.filter(object_type="workspace", object_id=workspace.id).order_by("id"))
    assert [(e.actor_label, e.workspace_id) for e in entries] == [("alice (api token)", None), ("system", None)]


def test_invitation_links_of_a_deleted_workspace_stop_working(workspace, owner):
    invitation = Invitation.objects.create(workspace=workspace, email="new@example.com", invited_by=owner)
    token = members.invitation_token(invitation)
    assert members.invitation_for(token) == invitation
    request_deletion(workspace)
    with pytest.raises(members.ValidationError):
        members.invitation_for(token)


# --- Keys stop working -----------------------------------------------------------------------------------


def test_its_write_keys_and_track_api_credentials_are_refused(workspace, owner, django_capture_on_commit_callbacks):
    source = services.create_source(workspace, name="Backend", kind="python")[0]
    track_source, api_key = services.create_source(workspace, name="Track", kind="journeys_track_api")
    track_auth = "Basic " + base64.b64encode(f"{track_source.site_id}:{api_key}".encode()).decode()
    hook = services.create_source(workspace, name="Hook in", kind="webhook")[0]
    webhook_url = f"/v1/webhooks/{hook.write_key}"
    assert track(source.write_key).status_code == 200  # and now the key is in this process's cache
    assert Client().post(webhook_url, {"a": 1}, content_type="application/json").status_code < 300
    assert Client().put("/api/v1/customers/u1", data=b"{}", content_type="application/json",
                        HTTP_AUTHORIZATION=track_auth).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        request_deletion(workspace)
    refused = track(source.write_key, "m-2")
    assert refused.status_code == 401
    assert Client().put("/api/v1/customers/u1", data=b"{}", content_type="application/json",
                        HTTP_AUTHORIZATION=track_auth).status_code == 401
    assert Client().post(webhook_url, {"a": 2}, content_type="application/json").status_code == 401
    assert not Event.objects.filter(message_id="m-2").exists()
    assert not Source.objects.filter(workspace=workspace, enabled=True).exists()


def test_another_process_refuses_the_key_once_its_cache_interval_has_passed(workspace, owner, settings):
    """A process that did not delete the workspace remembers the key for INGEST_KEY_CACHE_SECONDS: the
    documented interval. With an interval of 0 it asks the database on the next request."""
    settings.INGEST_KEY_CACHE_SECONDS = 0
    source = services.create_source(workspace, name="Backend", kind="python")[0]
    assert track(source.write_key).status_code == 200
    request_deletion(workspace)  # no on-commit here: this process's cache is not told
    assert track(source.write_key, "m-2").status_code == 401


def test_the_task_waits_for_the_key_caches(settings):
    settings.INGEST_KEY_CACHE_SECONDS = 30.0
    assert workspace_deletion.deletion_delay() > 30.0


# --- The data goes ---------------------------------------------------------------------------------------


def test_the_task_deletes_every_row_of_the_workspace_and_nothing_else(workspace, other_workspace, owner,
                                                                      outsider, httpserver, settings):
    settings.OUTBOUND_ALLOW_PRIVATE = True
    fill(workspace, httpserver, owner)
    fill(other_workspace, httpserver, outsider)
    others_before = rows(other_workspace.id)
    request_deletion(workspace)
    run = run_deletion(workspace.id, max_seconds=60)
    assert run.complete and not run.busy
    assert run.deleted["ingest.Event"] == 4 and run.deleted["destinations.DeliveryChunk"] >= 1
    assert rows(workspace.id) == dict.fromkeys(TABLES, 0)
    assert not Workspace.objects.filter(id=workspace.id).exists()
    assert rows(other_workspace.id) == others_before
    assert AuditEntry.objects.filter(workspace=other_workspace).exists()


def test_it_goes_in_bounded_runs_that_continue_where_the_last_stopped(workspace, owner, httpserver, settings):
    settings.OUTBOUND_ALLOW_PRIVATE = True
    fill(workspace, httpserver, owner)
    request_deletion(workspace)
    stopped = run_deletion(workspace.id, batch=1, max_seconds=0)  # the time budget is spent at once
    assert not stopped.complete and Workspace.objects.filter(id=workspace.id).exists()
    assert Workspace.objects.get(id=workspace.id).deletion_locked_until is None  # lease given back
    runs = 1
    while not run_deletion(workspace.id, batch=2, max_seconds=0.2).complete:
        runs += 1
        assert runs < 500
    assert rows(workspace.id) == dict.fromkeys(TABLES, 0)
    again = run_deletion(workspace.id)  # safe to run twice
    assert again.complete and not again.deleted


def test_a_second_run_leaves_the_work_to_the_one_holding_the_lease(workspace, owner):
    request_deletion(workspace)
    Workspace.objects.filter(id=workspace.id).update(deletion_locked_until=timezone.now() + timedelta(minutes=5))
    busy = run_deletion(workspace.id)
    assert busy.busy and Workspace.objects.filter(id=workspace.id).exists()
    # The lease of a worker that died runs out; then the work is taken up.
    Workspace.objects.filter(id=workspace.id).update(deletion_locked_until=timezone.now() - timedelta(seconds=1))
    assert run_deletion(workspace.id).complete
    assert not Workspace.objects.filter(id=workspace.id).exists()


def test_a_workspace_nobody_deleted_is_left_alone(workspace, owner):
    run = run_deletion(workspace.id)
    assert not run.complete and not run.deleted
    assert Workspace.objects.filter(id=workspace.id, deletion_locked_until=None).exists()


@pytest.mark.django_db(transaction=True)
def test_beat_takes_up_a_deletion_whose_run_was_lost(celery_worker, workspace, other_workspace, owner, outsider):
    """Through the real broker and a worker: the sweep enqueues the deletions no live run holds."""
    from retention.tasks import sweep_deletions

    request_deletion(workspace)
    request_deletion(other_workspace)
    long_ago = timezone.now() - timedelta(hours=1)
    # acme: its run was lost long ago (no lease); globex: a run is working on it (a live lease)
    Workspace.objects.filter(id=workspace.id).update(deleting_at=long_ago, deletion_locked_until=None)
    Workspace.objects.filter(id=other_workspace.id).update(
        deleting_at=long_ago, deletion_locked_until=timezone.now() + timedelta(minutes=10))
    sweep_deletions.delay()
    wait_for(lambda: not Workspace.objects.filter(id=workspace.id).exists(), what="the workspace to be deleted")
    assert Workspace.objects.filter(id=other_workspace.id).exists()


def test_beat_schedules_the_sweep_on_the_retries_queue():
    entry = settings.CELERY_BEAT_SCHEDULE["retention-sweep-deletions"]
    assert entry["task"] == "retention.sweep_deletions" and entry["options"]["queue"] == "retries"
    assert settings.CELERY_TASK_ROUTES["retention.delete_workspace"] == {"queue": "retries"}


# --- The settings page's danger zone ------------------------------------------------------------------------


def _browser(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_only_owners_see_the_danger_zone(workspace, owner):
    assert b"Delete workspace" in _browser(owner).get("/w/acme/settings/").content
    for role in (Membership.Role.ADMIN, Membership.Role.MEMBER, Membership.Role.VIEWER):
        page = _browser(member(workspace, f"user-{role}", role)).get("/w/acme/settings/")
        assert page.status_code == 200 and b"Delete workspace" not in page.content


def test_an_admin_posting_the_delete_form_is_refused(workspace, owner):
    admin = member(workspace, "ada", Membership.Role.ADMIN)
    refused = _browser(admin).post("/w/acme/settings/", {"op": "delete", "confirm_slug": "acme"})
    assert refused.status_code == 403 and b"needs the owner role" in refused.content
    assert Workspace.objects.get(slug="acme").deleting_at is None


def test_a_wrong_slug_is_a_form_error(workspace, owner):
    page = _browser(owner).post("/w/acme/settings/", {"op": "delete", "confirm_slug": "Acme"})
    assert page.status_code == 400
    assert b"That is not this workspace&#x27;s slug. Type acme to delete it." in page.content
    assert Workspace.objects.get(slug="acme").deleting_at is None


def test_the_right_slug_deletes_and_lands_on_the_remaining_workspaces(workspace, other_workspace, owner):
    Membership.objects.create(user=owner, workspace=other_workspace, role=Membership.Role.ADMIN)
    client = _browser(owner)
    response = client.post("/w/acme/settings/", {"op": "delete", "confirm_slug": "acme"}, follow=True)
    assert response.redirect_chain[-1][0] == "/w/globex/connections/"
    assert b"The workspace Acme is deleted." in response.content
    assert b">Acme</option>" not in response.content and b">Globex</option>" in response.content
    assert client.get("/w/acme/settings/").status_code == 404
    assert Workspace.objects.get(slug="acme").deleting_at is not None
