"""What schemathesis found in the management API, pinned: each input class answers 400 (or 413, or an
empty page) with `code` and `message`, never a 500, and nothing is stored."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from connections.models import Destination, Source
from pipelines.api_input import MAX_JSON_DEPTH, MAX_PAGE_SIZE

BASE = "/api/workspaces/acme"
HUGE = "20798471502950406553600"  # beyond 64 bits


def _error(response: Any, status: int = 400) -> dict[str, Any]:
    assert response.status_code == status, response.content[:300]
    body = response.json()
    assert body["code"] and body["message"], body
    return body


def _nested(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize("path", ["/api/workspaces/", f"{BASE}/sources/", f"{BASE}/destinations/"])
def test_a_limit_beyond_any_integer_is_capped(owner_api: Any, workspace: Any, path: str) -> None:
    response = owner_api.get(path, {"limit": HUGE})
    assert response.status_code == 200
    assert f"limit={MAX_PAGE_SIZE}" in (response.json()["next"] or f"limit={MAX_PAGE_SIZE}")


def test_an_offset_beyond_any_integer_is_an_empty_page(owner_api: Any, workspace: Any) -> None:
    owner_api.post(f"{BASE}/sources/", {"name": "S", "kind": "http"}, format="json")
    response = owner_api.get(f"{BASE}/sources/", {"offset": HUGE})
    assert response.status_code == 200
    assert response.json()["results"] == [] and response.json()["count"] == 1


def test_events_limit_beyond_any_integer_is_capped(owner_api: Any, workspace: Any) -> None:
    assert owner_api.get(f"{BASE}/events/", {"limit": HUGE}).status_code == 200


@pytest.mark.parametrize("fmt", ["json", "multipart"])
def test_source_ids_beyond_64_bits_are_a_400(owner_api: Any, workspace: Any, fmt: str) -> None:
    body = {"name": "x", "kind": "webhook", "enabled": True, "source_ids": [int(HUGE)]}
    response = owner_api.post(f"{BASE}/destinations/", body, format=fmt)
    assert "source_ids" in _error(response)["message"]
    assert not Destination.objects.exists()


def test_ids_in_the_path_beyond_64_bits_are_a_404(owner_api: Any, workspace: Any) -> None:
    _error(owner_api.get(f"{BASE}/sources/{HUGE}/"), 404)
    _error(owner_api.get(f"{BASE}/destinations/{HUGE}/actions/"), 404)


@pytest.mark.parametrize("param", ["message_id", "type"])
def test_a_nul_in_a_query_parameter_is_a_400(owner_api: Any, workspace: Any, param: str) -> None:
    body = _error(owner_api.get(f"{BASE}/events/", {param: "a\x00b"}))
    assert "NUL" in body["message"]


def test_a_nul_in_a_page_query_is_a_400_page(client: Any, owner: Any, workspace: Any) -> None:
    client.force_login(owner)
    response = client.get(f"/w/{workspace.slug}/", {"q": "a\x00b"})
    assert response.status_code == 400


@pytest.mark.parametrize("text", ["a\\u0000b", "a\\ud800b", "\\udc00"])
def test_nul_and_unpaired_surrogates_in_a_json_body_are_a_400(owner_api: Any, workspace: Any, text: str) -> None:
    raw = f'{{"kind": "webhook", "settings": {{"url": "https://8.8.8.8/{text}"}}}}'
    _error(owner_api.generic("POST", f"{BASE}/destinations/", raw, content_type="application/json"))
    raw = f'{{"name": "{text}", "kind": "http"}}'
    _error(owner_api.generic("POST", f"{BASE}/sources/", raw, content_type="application/json"))
    assert not Destination.objects.exists() and not Source.objects.exists()


def test_a_nul_inside_a_json_value_sent_in_a_form_is_a_400(owner_api: Any, workspace: Any) -> None:
    body = {"kind": "webhook", "settings": '{"url": "https://8.8.8.8/\\u0000"}'}
    assert "NUL" in _error(owner_api.post(f"{BASE}/destinations/", body, format="multipart"))["message"]


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 5000])
def test_deeply_nested_json_is_a_400(owner_api: Any, workspace: Any, depth: int) -> None:
    raw = orjson.dumps({"kind": "webhook", "settings": {"url": "https://8.8.8.8/", "x": _nested(depth)}}) \
        if depth < 1000 else (b'{"kind": "webhook", "settings": {"x": ' + b"[" * depth + b"]" * depth + b"}}")
    _error(owner_api.generic("POST", f"{BASE}/destinations/", raw, content_type="application/json"))
    form = {"kind": "webhook", "settings": "[" * depth + "]" * depth}
    _error(owner_api.post(f"{BASE}/destinations/", form, format="multipart"))


def test_json_just_within_the_depth_limit_is_accepted(owner_api: Any, workspace: Any) -> None:
    mapping = {"value": {"@literal": _nested(MAX_JSON_DEPTH - 4)}}
    destination = owner_api.post(f"{BASE}/destinations/", {"kind": "webhook", "settings": {
        "url": "https://8.8.8.8/"}}, format="json")
    assert destination.status_code == 201, destination.content
    response = owner_api.post(f"{BASE}/destinations/{destination.json()['id']}/actions/",
                              {"kind": "send", "mapping": mapping}, format="json")
    assert response.status_code in (201, 400), response.content  # never a 500; a 400 names the mapping
    if response.status_code == 400:
        assert "depth" not in response.json()["message"].lower()


def test_a_body_larger_than_the_limit_is_a_413(owner_api: Any, workspace: Any, settings: Any) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    raw = orjson.dumps({"name": "x" * 20_000, "kind": "http"})
    body = _error(owner_api.generic("POST", f"{BASE}/sources/", raw, content_type="application/json"), 413)
    assert body["code"] == "payload_too_large"
    assert not Source.objects.exists()


def test_the_schema_links_each_create_to_what_it_created(owner_api: Any) -> None:
    schema = owner_api.get("/api/schema/", {"format": "json"}).json()
    created = schema["paths"]["/api/workspaces/{slug}/destinations/"]["post"]["responses"]["201"]
    links = created["links"]
    assert links["workspaces_destinations_retrieve"]["parameters"] == {
        "slug": "$request.path.slug", "id": "$response.body#/id"}
    assert links["workspaces_destinations_actions_create"]["parameters"]["destination_id"] == "$response.body#/id"
    assert {"workspaces_destinations_partial_update", "workspaces_destinations_destroy"} <= set(links)
    sources = schema["paths"]["/api/workspaces/{slug}/sources/"]["post"]["responses"]["201"]["links"]
    assert "workspaces_sources_rotate_key_create" in sources
