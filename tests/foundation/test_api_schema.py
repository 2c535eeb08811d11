"""The OpenAPI schema and the self-contained documentation page."""

from __future__ import annotations

import re

import yaml


def test_openapi_schema_describes_the_management_api(client, db):
    response = client.get("/api/schema/")
    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    assert schema["openapi"].startswith("3.")
    for path in ("/api/workspaces/", "/api/workspaces/{slug}/sources/{id}/rotate-key/",
                 "/api/workspaces/{slug}/destinations/{destination_id}/actions/{id}/",
                 "/api/workspaces/{slug}/events/", "/api/catalog/destinations/",
                 "/api/workspaces/{slug}/privacy/delete/", "/api/workspaces/{slug}/privacy/suppressions/"):
        assert path in schema["paths"], path
    detail = schema["paths"]["/api/workspaces/{slug}/sources/{id}/"]
    assert {"get", "patch", "delete"} <= set(detail) and "put" not in detail


def test_docs_page_lists_operations_without_loading_anything_from_elsewhere(client, db):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert '<span class="method method-POST">POST</span> <code>/api/workspaces/{slug}/destinations/</code>' in html
    assert "/api/workspaces/{slug}/sources/{id}/rotate-key/" in html
    assert not re.search(r"""(src|href)=["'](https?:)?//""", html)
    assert all(src.startswith("/static/") for src in re.findall(r"""<script[^>]+src=["']([^"']+)""", html))


def test_docs_page_is_inside_the_layout_and_linked_from_the_navigation(client, db):
    from django.contrib.auth.models import User

    from pipelines.models import Membership, Workspace

    workspace = Workspace.objects.create(name="Acme", slug="acme")
    user = User.objects.create_user("alice", "alice@example.com", "pw-alice-123")
    Membership.objects.create(user=user, workspace=workspace, role=Membership.Role.OWNER)
    client.force_login(user)
    page = client.get("/w/acme/people/").content.decode()
    assert '<a class="topbar-link" href="/api/docs/?workspace=acme" >API docs</a>' in page
    docs = client.get("/api/docs/?workspace=acme").content.decode()
    assert '<nav class="mainnav" aria-label="Main">' in docs and 'href="/w/acme/people/"' in docs
    assert 'href="/api/docs/?workspace=acme" aria-current="page">API docs</a>' in docs
    assert "/api/workspaces/acme/" in docs  # the curl example names the user's workspace
    # another workspace's slug does not show its navigation: the user's own first workspace is used
    assert 'href="/w/globex/' not in client.get("/api/docs/?workspace=globex").content.decode()


def test_openapi_schema_describes_deleting_a_workspace(client, db):
    schema = yaml.safe_load(client.get("/api/schema/").content)
    delete = schema["paths"]["/api/workspaces/{slug}/"]["delete"]
    assert set(delete["responses"]) == {"202"}
    assert "owners only" in delete["description"]
    body = schema["components"]["schemas"]["WorkspaceDeletion"]
    assert {"slug", "status", "deleting_at", "message"} <= set(body["properties"])
