"""The management API of webhook sources: settings, bodies, re-process, preview; roles and isolation."""

from __future__ import annotations

from typing import Any

import yaml
from django.contrib.auth.models import User
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from connections.models import Source, WebhookSettings
from connections.services import create_source
from ingest.models import Event, WebhookBody
from pipelines.models import Membership, Workspace

from .conftest import STRIPE_EVENT, STRIPE_MAPPING, HookClient


def _base(source: Source) -> str:
    return f"/api/workspaces/{source.workspace.slug}/sources/{source.id}/webhook/"


def _viewer_api(workspace: Workspace) -> APIClient:
    user = User.objects.create_user("vera", "vera@example.com", "vera-password-1")
    Membership.objects.create(user=user, workspace=workspace, role=Membership.Role.VIEWER)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


def test_owner_sets_mapping_and_secret_which_is_shown_masked(owner_api: APIClient, hook: Source) -> None:
    response = owner_api.patch(_base(hook), {
        "mapping": STRIPE_MAPPING, "signature_scheme": "hmac_sha256", "signature_header": "X-Sig",
        "signature_encoding": "base64", "secret": "a-long-shared-secret-42",
    }, format="json")
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["mapping"] == STRIPE_MAPPING
    assert data["url"].endswith(f"/v1/webhooks/{hook.write_key}")
    assert data["secret_masked"] == "••••••••t-42"
    assert "a-long-shared-secret-42" not in response.content.decode()
    assert "a-long-shared-secret-42" not in WebhookSettings.objects.get(source=hook).secret_encrypted
    # Leaving the secret out keeps it.
    again = owner_api.patch(_base(hook), {"signature_prefix": "v1="}, format="json")
    assert again.json()["secret_masked"] == "••••••••t-42"
    assert owner_api.get(_base(hook)).json()["signature_prefix"] == "v1="


def test_bad_mapping_is_a_400_naming_the_problem(owner_api: APIClient, hook: Source) -> None:
    response = owner_api.patch(_base(hook), {"mapping": {"userId": {"@nope": 1}}}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_request" and "@nope" in response.json()["message"]
    unknown = owner_api.patch(_base(hook), {"mapping": {"user": "x"}}, format="json")
    assert unknown.status_code == 400 and "does not know user" in unknown.json()["message"]
    no_secret = owner_api.patch(_base(hook), {"signature_scheme": "stripe"}, format="json")
    assert no_secret.status_code == 400 and "secret" in no_secret.json()["message"]
    bad_path = owner_api.patch(_base(hook), {"array_path": "$.body[["}, format="json")
    assert bad_path.status_code == 400 and bad_path.json()["message"].startswith("array_path")


def test_editing_needs_admin_reading_needs_viewer(workspace: Workspace, teammate_api: APIClient,
                                                  hook: Source) -> None:
    viewer = _viewer_api(workspace)
    assert viewer.get(_base(hook)).status_code == 200
    assert viewer.get(_base(hook) + "bodies/").status_code == 200
    assert viewer.patch(_base(hook), {"array_path": ""}, format="json").status_code == 403
    assert teammate_api.patch(_base(hook), {"array_path": ""}, format="json").status_code == 403
    assert teammate_api.post(_base(hook) + "reprocess/").status_code == 403


def test_other_workspace_and_other_kinds_answer_404(owner_api: APIClient, outsider_api: APIClient,
                                                    hook: Source, workspace: Workspace) -> None:
    HookClient(hook).post(STRIPE_EVENT)
    body = WebhookBody.objects.get(source=hook)
    for path in ("", "bodies/", f"bodies/{body.id}/"):
        response = outsider_api.get(_base(hook) + path)
        assert response.status_code == 404, path
        assert response.json()["code"] == "not_found"
    assert outsider_api.post(_base(hook) + f"bodies/{body.id}/reprocess/").status_code == 404
    assert outsider_api.patch(_base(hook), {"array_path": ""}, format="json").status_code == 404
    python = create_source(workspace, name="Backend", kind="python")[0]
    assert owner_api.get(_base(python)).status_code == 404


def test_bodies_list_reasons_and_reprocess_after_fixing(owner_api: APIClient, hook: Source) -> None:
    post = HookClient(hook)
    assert post.post(STRIPE_EVENT).status_code == 202  # no mapping yet
    assert post.post({**STRIPE_EVENT, "id": "evt_2"}).status_code == 202
    listing = owner_api.get(_base(hook) + "bodies/?status=failed").json()
    assert len(listing) == 2 and "no mapping yet" in listing[0]["reason"]
    assert '"evt_2"' in listing[0]["body"]

    owner_api.patch(_base(hook), {"mapping": STRIPE_MAPPING}, format="json")
    one = owner_api.post(_base(hook) + f"bodies/{listing[1]['id']}/reprocess/").json()
    assert one["processed"] == 1 and one["bodies"][0]["event_count"] == 1
    rest = owner_api.post(_base(hook) + "reprocess/").json()
    assert (rest["processed"], rest["failed"]) == (1, 0)
    assert sorted(Event.objects.filter(source=hook).values_list("message_id", flat=True)) == [
        "evt_1PqR2sT3uV4wX5yZ", "evt_2"]
    assert owner_api.get(_base(hook) + "bodies/?status=failed").json() == []
    assert owner_api.get(_base(hook) + "bodies/?status=bogus").status_code == 400


def test_preview_tries_a_mapping_on_the_newest_body_without_storing(owner_api: APIClient, hook: Source) -> None:
    HookClient(hook).post(STRIPE_EVENT)
    response = owner_api.post(_base(hook) + "preview/", {"mapping": STRIPE_MAPPING}, format="json")
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["ok"] is True
    assert data["events"][0]["event"] == "charge.succeeded"
    assert not Event.objects.exists()
    broken = owner_api.post(_base(hook) + "preview/", {"mapping": {"event": "x"}}, format="json").json()
    assert broken["ok"] is False and "userId or anonymousId" in broken["reason"]
    given = owner_api.post(_base(hook) + "preview/", {"mapping": {"event": "x", "userId": {"@path": "$.body.u"}},
                                                       "body": {"u": "me"}}, format="json").json()
    assert given["ok"] is True and given["events"][0]["userId"] == "me"


def test_schema_lists_the_webhook_routes(client: Any, db: Any) -> None:
    schema = yaml.safe_load(client.get("/api/schema/").content)
    base = "/api/workspaces/{slug}/sources/{id}/webhook/"
    for path in ("", "bodies/", "bodies/{body_id}/", "bodies/{body_id}/reprocess/", "reprocess/", "preview/"):
        assert base + path in schema["paths"], path
    assert {"get", "patch"} <= set(schema["paths"][base])


def test_viewers_get_the_url_with_the_write_key_masked(workspace: Workspace, hook: Source,
                                                       teammate_api: APIClient) -> None:
    viewer = _viewer_api(workspace)
    url = viewer.get(_base(hook)).json()["url"]
    assert hook.write_key not in url and url.endswith(hook.write_key[-4:])
    assert teammate_api.get(_base(hook)).json()["url"].endswith(f"/v1/webhooks/{hook.write_key}")
