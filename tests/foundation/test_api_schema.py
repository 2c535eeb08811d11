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
    assert "POST /api/workspaces/{slug}/destinations/" in html
    assert "/api/workspaces/{slug}/sources/{id}/rotate-key/" in html
    assert not re.search(r"<script[^>]+src=", html)
    assert not re.search(r"""(src|href)=["']https?://""", html)


def test_openapi_schema_describes_deleting_a_workspace(client, db):
    schema = yaml.safe_load(client.get("/api/schema/").content)
    delete = schema["paths"]["/api/workspaces/{slug}/"]["delete"]
    assert set(delete["responses"]) == {"202"}
    assert "owners only" in delete["description"]
    body = schema["components"]["schemas"]["WorkspaceDeletion"]
    assert {"slug", "status", "deleting_at", "message"} <= set(body["properties"])


def test_openapi_schema_describes_alerts(client, db):
    schema = yaml.safe_load(client.get("/api/schema/").content)
    rules = schema["paths"]["/api/workspaces/{slug}/alerts/rules/"]
    assert {"get", "post"} <= set(rules)
    assert {"get", "patch", "delete"} <= set(schema["paths"]["/api/workspaces/{slug}/alerts/rules/{id}/"])
    assert "get" in schema["paths"]["/api/workspaces/{slug}/alerts/incidents/"]
    answer = schema["components"]["schemas"]["AlertRule"]["properties"]
    assert "slack_url" not in answer and answer["slack_url_masked"].get("readOnly")  # the URL is never shown
    assert schema["components"]["schemas"]["AlertRuleRequest"]["properties"]["slack_url"].get("writeOnly")
