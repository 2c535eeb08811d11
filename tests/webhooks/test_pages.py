"""The Webhook tab of a webhook source: mapping with preview, signature settings, bodies, re-process."""

from __future__ import annotations

import json

from django.contrib.auth.models import User
from django.test import Client

from connections.models import Source, WebhookSettings
from connections.services import create_source
from ingest.models import Event, WebhookBody
from pipelines.models import Workspace

from .conftest import STRIPE_EVENT, STRIPE_MAPPING, HookClient


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _url(source: Source, tail: str = "") -> str:
    return f"/w/{source.workspace.slug}/sources/{source.id}/webhook/{tail}"


def _mapping_post(mapping: dict, op: str, **extra: str) -> dict[str, str]:
    data = {"op": op, "array_path": "", **extra}
    data.update({f"map__{k}": json.dumps(v) for k, v in mapping.items()})
    return data


def test_tab_shows_url_bodies_and_reasons(owner: User, hook: Source) -> None:
    HookClient(hook).post(STRIPE_EVENT)
    page = _client(owner).get(_url(hook))
    assert page.status_code == 200
    html = page.content.decode()
    assert f"/v1/webhooks/{hook.write_key}" in html
    assert "no mapping yet" in html
    assert "charge.succeeded" in html  # the body itself, for building the mapping
    assert "$.body.data.object.customer" in html  # the path picker offers the body's paths
    detail = _client(owner).get(f"/w/{hook.workspace.slug}/sources/{hook.id}/").content.decode()
    assert _url(hook) in detail  # the Webhook tab


def test_preview_then_save_then_reprocess(owner: User, hook: Source) -> None:
    HookClient(hook).post(STRIPE_EVENT)
    client = _client(owner)
    previewed = client.post(_url(hook), _mapping_post(STRIPE_MAPPING, "preview"))
    assert previewed.status_code == 200
    assert "OK: 1 event" in previewed.content.decode()
    assert not WebhookSettings.objects.filter(source=hook).exclude(mapping={}).exists()  # a preview saves nothing
    saved = client.post(_url(hook), _mapping_post(STRIPE_MAPPING, "save"))
    assert saved.status_code == 302
    assert WebhookSettings.objects.get(source=hook).mapping == STRIPE_MAPPING
    assert "1 received bodies are not mapped yet" in client.get(_url(hook)).content.decode()
    done = client.post(_url(hook, "reprocess/"), follow=True)
    assert "Re-processed 1 bodies" in done.content.decode()
    assert Event.objects.filter(source=hook, message_id=STRIPE_EVENT["id"]).exists()
    assert WebhookBody.objects.get(source=hook).status == "processed"


def test_bad_mapping_is_a_form_error(owner: User, hook: Source) -> None:
    response = _client(owner).post(_url(hook), {"op": "save", "map__userId": "{not json"})
    assert response.status_code == 400
    assert "Not valid JSON" in response.content.decode()
    directive = _client(owner).post(_url(hook), {"op": "save", "map__userId": '{"@nope": 1}'})
    assert directive.status_code == 400 and "unknown directive @nope" in directive.content.decode()


def test_signature_settings_keep_the_secret_masked(owner: User, hook: Source) -> None:
    client = _client(owner)
    response = client.post(_url(hook, "signature/"), {
        "signature_scheme": "hmac_sha256", "signature_header": "X-Hub-Signature-256", "signature_encoding": "hex",
        "signature_prefix": "sha256=", "secret": "page-shared-secret-77"})
    assert response.status_code == 302
    html = client.get(_url(hook)).content.decode()
    assert "page-shared-secret-77" not in html and "••••••••t-77" in html
    missing = client.post(_url(hook, "signature/"), {"signature_scheme": "stripe", "signature_encoding": "hex"})
    assert missing.status_code == 302  # the stored secret is kept
    other = create_source(hook.workspace, name="Other", kind="webhook")[0]
    refused = client.post(_url(other, "signature/"), {"signature_scheme": "stripe", "signature_encoding": "hex"})
    assert refused.status_code == 400 and "shared secret" in refused.content.decode()


def test_members_below_admin_can_look_but_not_change(teammate: User, hook: Source) -> None:
    HookClient(hook).post(STRIPE_EVENT)
    client = _client(teammate)
    page = client.get(_url(hook))
    assert page.status_code == 200 and "Saving needs the admin role" in page.content.decode()
    assert client.post(_url(hook), _mapping_post(STRIPE_MAPPING, "save")).status_code == 403
    assert client.post(_url(hook, "reprocess/")).status_code == 403
    assert client.post(_url(hook, "signature/"), {"signature_scheme": "none"}).status_code == 403
    assert WebhookBody.objects.get(source=hook).status == "failed"


def test_other_workspace_gets_404(outsider: User, hook: Source, workspace: Workspace) -> None:
    client = _client(outsider)
    assert client.get(_url(hook)).status_code == 404
    assert client.post(_url(hook, "reprocess/")).status_code == 404
    python = create_source(workspace, name="Backend", kind="python")[0]
    assert client.get(_url(python)).status_code == 404


def test_viewers_see_the_tab_without_the_write_key(workspace: Workspace, hook: Source) -> None:
    from pipelines.models import Membership

    viewer = User.objects.create_user("vera", "vera@example.com", "vera-password-1")
    Membership.objects.create(user=viewer, workspace=workspace, role=Membership.Role.VIEWER)
    page = _client(viewer).get(_url(hook))
    assert page.status_code == 200
    assert hook.write_key.encode() not in page.content and b"data-secret-toggle" not in page.content


def test_installation_instructions_give_the_webhook_url(owner: User, hook: Source) -> None:
    page = _client(owner).get(f"/w/{hook.workspace.slug}/sources/{hook.id}/setup/").content.decode()
    assert f"/v1/webhooks/{hook.write_key}" in page


def test_odd_body_ids_are_not_errors(owner: User, hook: Source) -> None:
    HookClient(hook).post(STRIPE_EVENT)
    client = _client(owner)
    huge = "9" * 30
    assert client.get(_url(hook) + f"?body={huge}").status_code == 200
    assert client.get(_url(hook) + "?body=abc").status_code == 200
    assert client.post(_url(hook, "reprocess/"), {"body": huge}).status_code == 302
    assert client.post(_url(hook), {"op": "preview", "body": huge}).status_code == 200
