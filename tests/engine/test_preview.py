"""The action preview: trigger verdict, mapped payload and the exact request, sent or not."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from pytest_httpserver import HTTPServer
from werkzeug import Response

from connections import services
from destinations.preview import preview_action

EVENT = {"type": "track", "event": "Order Completed", "messageId": "abc", "userId": "u1",
         "properties": {"total": 42}}


def test_preview_builds_the_request_without_sending(make_webhook: Callable[..., Any], httpserver: HTTPServer) -> None:
    dest = make_webhook(headers={"Authorization": "Bearer sekrit-token"})
    action = dest.actions.get()
    result = preview_action(action, EVENT)
    assert result["matched"] is True
    assert result["error"] is None
    assert result["payload"] == {"data": EVENT}
    assert result["request"]["method"] == "POST"
    assert result["request"]["url"] == httpserver.url_for("/hook")
    assert json.loads(result["request"]["body"]) == EVENT
    assert result["request"]["headers"]["Authorization"] == "[redacted]"
    assert result["response"] is None
    assert httpserver.log == []


def test_preview_with_send_returns_the_response(make_webhook: Callable[..., Any], httpserver: HTTPServer) -> None:
    httpserver.expect_request("/hook", method="POST").respond_with_json({"ok": True}, status=202)
    action = make_webhook().actions.get()
    result = preview_action(action, EVENT, send=True)
    assert result["error"] is None
    assert result["response"]["status"] == 202
    assert json.loads(result["response"]["body"]) == {"ok": True}
    assert len(httpserver.log) == 1
    assert json.loads(httpserver.log[0][0].data) == EVENT


def test_preview_reports_a_failed_send(make_webhook: Callable[..., Any], httpserver: HTTPServer) -> None:
    httpserver.expect_request("/hook").respond_with_response(Response("nope", status=400))
    action = make_webhook().actions.get()
    result = preview_action(action, EVENT, send=True)
    assert result["error"] == "HTTP 400 from localhost"
    assert result["response"]["status"] == 400
    assert result["response"]["body"] == "nope"


def test_preview_says_when_the_trigger_does_not_match(make_webhook: Callable[..., Any]) -> None:
    action = make_webhook().actions.get()
    services.update_action(action, trigger='type = "identify"')
    result = preview_action(action, EVENT)
    assert result["matched"] is False
    assert result["payload"] == {"data": EVENT}


def test_preview_reports_a_missing_required_field(make_webhook: Callable[..., Any]) -> None:
    # Data is not declared required by the webhook; a mapping error is reported as such instead.
    action = make_webhook().actions.get()
    action.mapping = {"data": {"@nope": 1}}
    result = preview_action(action, EVENT)
    assert result["error"].startswith("Mapping: data: unknown directive @nope")
    assert result["request"] is None


def test_preview_of_a_batching_webhook_shows_the_array(make_webhook: Callable[..., Any]) -> None:
    action = make_webhook(batch_size=10).actions.get()
    result = preview_action(action, EVENT)
    assert json.loads(result["request"]["body"]) == [EVENT]
