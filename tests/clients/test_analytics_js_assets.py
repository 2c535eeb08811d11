"""The browser library's files as our server serves them: /analytics.js/v1/<key>/analytics.min.js and
/analytics-next/bundles/<name>, from the pinned npm build (js/), and nothing else from the disk."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from connections.models import Source
from connections.snippets import instructions

REPO = Path(__file__).resolve().parent.parent.parent


@pytest.fixture
def build(analytics_js_build: Path, settings: Any) -> Path:
    settings.ANALYTICS_JS_DIR = analytics_js_build
    settings.ANALYTICS_JS_URL = ""
    return analytics_js_build


def _hashed_chunk(build: Path, prefix: str) -> str:
    (name,) = [p.name for p in build.glob(f"{prefix}.bundle.*.js")]
    return name


def test_analytics_min_js_is_the_standalone_build_for_any_write_key(client: Client, build: Path) -> None:
    for key in ("WRITE_KEY", "pk_us_123abc"):
        response = client.get(f"/analytics.js/v1/{key}/analytics.min.js")
        assert response.status_code == 200
        assert response["Content-Type"].startswith("application/javascript")
        assert response.content == (build / "standalone.js").read_bytes()
        assert response["Access-Control-Allow-Origin"] == "*"
        # Same name across versions, so browsers must come back soon to pick up an upgrade.
        assert response["Cache-Control"] == "public, max-age=300"
        assert response["X-Content-Type-Options"] == "nosniff"


def test_analytics_min_js_is_sent_gzipped_to_browsers_that_accept_it(client: Client, build: Path) -> None:
    response = client.get("/analytics.js/v1/WRITE_KEY/analytics.min.js", HTTP_ACCEPT_ENCODING="gzip, br")
    assert response.status_code == 200
    assert response["Content-Encoding"] == "gzip" and response["Vary"] == "Accept-Encoding"
    assert gzip.decompress(response.content) == (build / "standalone.js").read_bytes()
    assert int(response["Content-Length"]) == len(response.content)


def test_an_unchanged_file_answers_304_to_a_revalidation(client: Client, build: Path) -> None:
    first = client.get("/analytics.js/v1/WRITE_KEY/analytics.min.js")
    again = client.get("/analytics.js/v1/WRITE_KEY/analytics.min.js", HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304 and again.content == b""
    other = client.get("/analytics.js/v1/WRITE_KEY/analytics.min.js", HTTP_IF_NONE_MATCH='"stale"')
    assert other.status_code == 200


@pytest.mark.parametrize("prefix", ["ajs-destination", "schemaFilter"])
def test_hashed_bundles_are_served_with_a_long_cache(client: Client, build: Path, prefix: str) -> None:
    name = _hashed_chunk(build, prefix)
    response = client.get(f"/analytics-next/bundles/{name}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/javascript")
    assert response.content == (build / name).read_bytes()
    assert response["Cache-Control"] == "public, max-age=31536000, immutable"
    assert response["Access-Control-Allow-Origin"] == "*"


def test_unhashed_entry_scripts_and_source_maps_are_served(client: Client, build: Path) -> None:
    index = client.get("/analytics-next/bundles/index.js")
    assert index.status_code == 200 and index["Cache-Control"] == "public, max-age=300"
    source_map = client.get(f"/analytics-next/bundles/{_hashed_chunk(build, 'schemaFilter')}.map")
    assert source_map.status_code == 200 and source_map["Content-Type"] == "application/json"
    assert "sources" in json.loads(source_map.content)


@pytest.mark.parametrize("name", [
    "nope.bundle.0123456789abcdef.js",
    "standalone.js.gz",          # exists in the folder, but only scripts and maps are served
    "../../package.json",        # the package's own files, one and two folders up
    "../umd/index.js",
    "..%2F..%2Fpackage.json",
    "%2e%2e/%2e%2e/package.json",
    "..%5C..%5Cpackage.json",
    "index.js/../../../package.json",
    "/etc/passwd",
    "%2Fetc%2Fpasswd",
    "....//....//package.json",
])
def test_unknown_files_and_traversal_attempts_are_404_json(client: Client, build: Path, name: str) -> None:
    response = client.get(f"/analytics-next/bundles/{name}")
    assert response.status_code == 404
    body = response.json()
    assert body["code"] == "not_found" and body["message"]
    assert b"@segment/analytics-next" not in response.content  # nothing of package.json leaked


def test_other_methods_are_refused_with_405_json(client: Client, build: Path) -> None:
    response = client.post("/analytics.js/v1/WRITE_KEY/analytics.min.js")
    assert response.status_code == 405 and response["Allow"] == "GET, HEAD"
    assert response.json()["code"] == "method_not_allowed"
    response = client.delete("/analytics-next/bundles/index.js")
    assert response.status_code == 405 and response.json()["code"] == "method_not_allowed"


def test_not_installed_answers_404_json_telling_the_operator_what_to_do(
    client: Client, settings: Any, tmp_path: Path
) -> None:
    settings.ANALYTICS_JS_DIR = tmp_path / "missing"
    settings.ANALYTICS_JS_URL = ""
    for url in ("/analytics.js/v1/WRITE_KEY/analytics.min.js", "/analytics-next/bundles/index.js"):
        response = client.get(url)
        assert response.status_code == 404
        body = response.json()
        assert body["code"] == "not_installed"
        assert "make analytics-js" in body["message"] and "ANALYTICS_JS_URL" in body["message"]
        assert response["Access-Control-Allow-Origin"] == "*"


def test_with_analytics_js_url_on_a_segment_style_cdn_bundles_are_sent_there(
    client: Client, settings: Any, tmp_path: Path, web_source: Source
) -> None:
    settings.ANALYTICS_JS_DIR = tmp_path / "missing"
    settings.ANALYTICS_JS_URL = "https://cdn.example.com/analytics.js/v1/{writeKey}/analytics.min.js"
    (snippet,) = instructions(web_source, "https://pipelines.example.com")
    assert 'script.src = "https://cdn.example.com/analytics.js/v1/" + key + "/analytics.min.js";' in snippet.code
    assert 'analytics._cdn = "https://pipelines.example.com";' in snippet.code

    response = client.get("/analytics-next/bundles/schemaFilter.bundle.a6a77355d52c20e3a83d.js")
    assert response.status_code == 302
    assert response["Location"] == (
        "https://cdn.example.com/analytics-next/bundles/schemaFilter.bundle.a6a77355d52c20e3a83d.js")
    assert client.get("/analytics-next/bundles/..%2Fx.js").status_code == 404


def test_analytics_js_url_pointing_back_at_this_server_is_not_a_redirect_loop(
    client: Client, settings: Any, tmp_path: Path
) -> None:
    settings.ANALYTICS_JS_DIR = tmp_path / "missing"
    settings.ANALYTICS_JS_URL = "{host}/analytics.js/v1/{writeKey}/analytics.min.js"
    assert client.get("/analytics-next/bundles/index.js").json()["code"] == "not_installed"


def test_the_served_build_is_the_version_the_client_tests_check() -> None:
    served = json.loads((REPO / "js" / "package.json").read_text())["dependencies"]
    checked = json.loads((REPO / "tests" / "clients" / "package.json").read_text())["dependencies"]
    assert served["@segment/analytics-next"] == checked["@segment/analytics-next"]
    lock = json.loads((REPO / "js" / "package-lock.json").read_text())
    assert lock["packages"]["node_modules/@segment/analytics-next"]["version"] == served["@segment/analytics-next"]
