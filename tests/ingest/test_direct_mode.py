"""Direct mode, server side: the browser settings list each connected direct destination as a remote plugin
in the shape analytics-next loads, our plugin scripts are served with the right headers, and the library is
also served at the path Customer.io's snippet uses. (What the browser then does: tests/e2e/test_direct_mode.py.)"""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import orjson
import pytest
from django.test import Client

from connections import services
from connections.models import Source
from destinations.browser import trigger_tree as to_tree
from destinations.preview import preview_action
from pipelines.models import Workspace


def _settings(source: Source, **headers: Any) -> dict[str, Any]:
    response = Client().get(f"/v1/projects/{source.write_key}/settings", **headers)
    assert response.status_code == 200, response.content
    return orjson.loads(response.content)


@pytest.fixture
def ga4(workspace: Workspace, web_source: Source) -> Any:
    return services.create_destination(workspace, name="GA4", kind="ga4", sources=[web_source],
                                       settings={"measurement_id": "G-TEST1234"})


def test_a_direct_destination_is_listed_as_our_remote_plugin(web_source: Source, ga4: Any, settings: Any) -> None:
    settings.PUBLIC_URL = "https://cdp.example.org"
    body = _settings(web_source)
    (plugin,) = body["remotePlugins"]
    assert plugin["name"] == plugin["creationName"] == "Google Analytics 4 Web"
    assert plugin["libraryName"] == "pipelinesGa4Web"
    assert plugin["url"].startswith("https://cdp.example.org/analytics-plugins/ga4.js?v=")
    assert plugin["settings"]["measurementId"] == "G-TEST1234"
    assert plugin["settings"]["scriptUrl"] == "https://www.googletagmanager.com/gtag/js"
    actions = {a["key"]: a for a in plugin["settings"]["actions"]}
    assert set(actions) == {"page_view", "custom_event", "set_user_properties"}
    assert actions["page_view"]["trigger"] == to_tree('type = "page"')
    assert actions["custom_event"]["required"] == ["name"]
    assert actions["page_view"]["mapping"]["page_location"] == {"@path": "$.context.page.url"}
    # the integrations entry stays (the snippet's own integrations options merge into it), never typed as
    # a classic "browser" integration that the library would look for under /next-integrations/
    assert body["integrations"]["Google Analytics 4 Web"]["measurementId"] == "G-TEST1234"
    assert "type" not in body["integrations"]["Google Analytics 4 Web"]


def test_the_actions_tab_decides_what_the_plugin_runs(web_source: Source, ga4: Any) -> None:
    page_view = ga4.actions.get(kind="page_view")
    services.update_action(page_view, enabled=False)
    custom = ga4.actions.get(kind="custom_event")
    services.update_action(custom, trigger='type = "track" and event = "Signed Up"',
                           mapping={"name": "sign_up", "params": {"method": {"@path": "$.properties.method"}}})
    (plugin,) = _settings(web_source)["remotePlugins"]
    actions = {a["key"]: a for a in plugin["settings"]["actions"]}
    assert set(actions) == {"custom_event", "set_user_properties"}
    assert actions["custom_event"]["trigger"] == to_tree('type = "track" and event = "Signed Up"')
    assert actions["custom_event"]["mapping"] == {"name": "sign_up", "params": {"method": {"@path": "$.properties.method"}}}


def test_disabled_or_disconnected_direct_destinations_are_not_listed(
    workspace: Workspace, web_source: Source, ga4: Any
) -> None:
    services.update_destination(ga4, enabled=False)
    body = _settings(web_source)
    assert body["remotePlugins"] == [] and "Google Analytics 4 Web" not in body["integrations"]
    services.update_destination(ga4, enabled=True)
    assert len(_settings(web_source)["remotePlugins"]) == 1
    services.disconnect(web_source, ga4)
    assert _settings(web_source)["remotePlugins"] == []


def test_customerio_in_app_plugin_takes_the_snippets_name(workspace: Workspace, web_source: Source,
                                                          settings: Any) -> None:
    settings.DIRECT_MODE_SCRIPT_URLS = {"customerio_in_app": "https://static.example.org/gist.min.js"}
    services.create_destination(workspace, name="In-app", kind="customerio_in_app", sources=[web_source],
                                settings={"site_id": "abc123def456", "region": "eu"})
    body = _settings(web_source)
    (plugin,) = body["remotePlugins"]
    # the name Customer.io's snippet uses in its load options, so its siteId reaches the plugin
    assert plugin["name"] == "Customer.io In-App Plugin"
    assert plugin["libraryName"] == "pipelinesCustomerioInApp"
    assert plugin["settings"]["siteId"] == "abc123def456" and plugin["settings"]["region"] == "eu"
    assert plugin["settings"]["scriptUrl"] == "https://static.example.org/gist.min.js"
    assert {a["key"] for a in plugin["settings"]["actions"]} == {"identify_user", "page_route"}
    assert body["integrations"]["Customer.io In-App Plugin"] == {"siteId": "abc123def456", "region": "eu"}


def test_customerio_in_app_settings_are_validated(workspace: Workspace) -> None:
    with pytest.raises(Exception) as exc:
        services.create_destination(workspace, name="x", kind="customerio_in_app",
                                    settings={"site_id": "has spaces", "region": "eu"})
    assert "settings.site_id" in exc.value.message_dict


def test_plugin_script_is_served_with_cache_headers(web_source: Source, ga4: Any) -> None:
    (plugin,) = _settings(web_source)["remotePlugins"]
    client = Client()
    path = plugin["url"].split("://", 1)[1].split("/", 1)[1]
    response = client.get(f"/{path}")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/javascript; charset=utf-8"
    assert response["Cache-Control"] == "public, max-age=31536000, immutable"  # the versioned URL
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Access-Control-Allow-Origin"] == "*"
    body = response.content.decode()
    assert "window.pipelinesPluginRuntime" in body and "window.pipelinesGa4Web = function" in body
    assert body.index("pipelinesPluginRuntime = {") < body.index("window.pipelinesGa4Web")  # runtime first

    unversioned = client.get("/analytics-plugins/ga4.js")
    assert unversioned["Cache-Control"] == "public, max-age=300"
    assert client.get("/analytics-plugins/ga4.js", HTTP_IF_NONE_MATCH=response["ETag"]).status_code == 304
    zipped = client.get("/analytics-plugins/ga4.js", HTTP_ACCEPT_ENCODING="gzip")
    assert zipped["Content-Encoding"] == "gzip" and gzip.decompress(zipped.content) == response.content


@pytest.mark.parametrize("name", ["runtime", "nope", "webhook", "GA4"])
def test_unknown_plugins_are_404_json(db: Any, name: str) -> None:
    response = Client().get(f"/analytics-plugins/{name}.js")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_plugin_route_takes_only_get(db: Any) -> None:
    response = Client().post("/analytics-plugins/ga4.js")
    assert response.status_code == 405 and response.json()["code"] == "method_not_allowed"


def test_the_seed_snippet_path_serves_the_library_pointed_at_us(tmp_path: Path, settings: Any, db: Any) -> None:
    (tmp_path / "standalone.js").write_text("/* analytics-next */ window.__loaded = true;\n")
    settings.ANALYTICS_JS_DIR = tmp_path
    settings.PUBLIC_URL = "https://cdp.example.org"
    client = Client()
    response = client.get("/v1/analytics-js/snippet/any-key/analytics.min.js")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/javascript; charset=utf-8"
    assert response["Cache-Control"] == "public, max-age=300"
    body = response.content.decode()
    first, rest = body.split("\n", 1)
    assert first == '!function(a){if(a&&!a._cdn)a._cdn="https://cdp.example.org"}(window.analytics);'
    assert rest == "/* analytics-next */ window.__loaded = true;\n"
    zipped = client.get("/v1/analytics-js/snippet/any-key/analytics.min.js", HTTP_ACCEPT_ENCODING="gzip")
    assert gzip.decompress(zipped.content) == response.content
    # the Segment-style path is unchanged: the library as installed
    assert client.get("/analytics.js/v1/any-key/analytics.min.js").content.decode() == rest


def test_the_seed_snippet_path_is_404_json_when_the_library_is_missing(tmp_path: Path, settings: Any, db: Any) -> None:
    settings.ANALYTICS_JS_DIR = tmp_path / "missing"
    response = Client().get("/v1/analytics-js/snippet/k/analytics.min.js")
    assert response.status_code == 404 and response.json()["code"] == "not_installed"


def test_settings_are_revalidated_on_every_page_load(web_source: Source, ga4: Any) -> None:
    client = Client()
    first = client.get(f"/v1/projects/{web_source.write_key}/settings")
    assert first["Cache-Control"] == "no-cache" and first["ETag"]
    again = client.get(f"/v1/projects/{web_source.write_key}/settings", HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304 and again["Access-Control-Allow-Origin"] == "*"
    services.update_destination(ga4, enabled=False)
    changed = client.get(f"/v1/projects/{web_source.write_key}/settings", HTTP_IF_NONE_MATCH=first["ETag"])
    assert changed.status_code == 200 and orjson.loads(changed.content)["remotePlugins"] == []


def test_testing_a_direct_action_shows_the_payload_the_plugin_hands_the_vendor(web_source: Source, ga4: Any) -> None:
    action = ga4.actions.get(kind="custom_event")
    result = preview_action(action, {"type": "track", "event": "Order Completed", "properties": {"total": 3}},
                            send=True)
    assert result["matched"] is True and result["error"] is None
    assert result["payload"] == {"name": "order_completed", "params": {"total": 3}}
    assert result["request"] is None and result["requests"] == []
