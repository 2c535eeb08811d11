"""Previewing an action: the trigger verdict, the mapped payload and the exact request for one event.

`preview_action` is what the "Test action" panel of the UI and the management API's
`POST .../actions/{id}/test/` call. It runs the same code as a real delivery (trigger, mapping, field
validation, the catalog entry's perform / perform_batch, the outbound HTTP module) with outbound requests
captured: with send=False nothing leaves the machine, with send=True the request really goes out and the
response is returned. It never raises for bad user input; problems come back in "error".
"""

from __future__ import annotations

from typing import Any

import orjson

from connections.models import Action

from . import http
from .delivery import batch_size, send_chunk
from .errors import DeliveryError, PayloadError
from .mapping import MappingError, apply_fields
from .triggers import TriggerSyntaxError, parse


def _request(exchange: http.Exchange) -> dict[str, Any]:
    return {
        "method": exchange.method,
        "url": exchange.url,
        "headers": exchange.request_headers,
        "body": exchange.request_body,
    }


def _response(exchange: http.Exchange) -> dict[str, Any] | None:
    if exchange.status is None:
        return None
    return {"status": exchange.status, "headers": exchange.response_headers, "body": exchange.response_body}


def preview_action(action: Action, event: dict[str, Any], *, send: bool = False) -> dict[str, Any]:
    """Run `action` on `event` and describe the outcome.

    Returns {"matched": bool, "payload": dict | None, "error": str | None,
             "request": {method, url, headers (secrets redacted), body} | None,
             "response": {status, headers, body} | None (only with send=True and an answer),
             "requests": [every request made, same shape as "request"]}.
    The payload is built even when the trigger does not match, so a mapping can be tried on any event.
    """
    result: dict[str, Any] = {
        "matched": False, "payload": None, "error": None, "request": None, "response": None, "requests": [],
    }
    if not isinstance(event, dict):
        result["error"] = "The event must be a JSON object."
        return result
    try:
        result["matched"] = parse(action.trigger).matches(event)
    except TriggerSyntaxError as exc:
        result["error"] = f"Trigger: {exc}"
        return result

    destination = action.destination
    try:
        action_def = destination.definition.action(action.kind)
    except KeyError:
        result["error"] = f"{destination.definition.name} has no action {action.kind!r}."
        return result
    try:
        payload = apply_fields(action_def, action.mapping, event)
    except MappingError as exc:
        result["error"] = f"Mapping: {exc}"
        return result
    except PayloadError as exc:
        result["error"] = f"filtered: {exc}"
        return result
    # JSON round trip: the payload as it is stored on a Delivery row and sent later.
    result["payload"] = payload = orjson.loads(orjson.dumps(payload, option=orjson.OPT_NON_STR_KEYS))
    if destination.mode == "direct":
        # Run by the plugin in the visitor's browser (destinations/browser.py): this payload is what it hands
        # the vendor's script; no request is ours to show or send.
        return result

    settings = destination.settings
    with http.capture(dry_run=not send) as captured:
        outcome = send_chunk(action_def, settings, [payload], size=batch_size(action_def, settings))[0]
    if outcome.error is not None:
        error = outcome.error
        result["error"] = error.message if isinstance(error, DeliveryError) else str(error)
    result["requests"] = [_request(e) for e in captured.exchanges]
    if captured.exchanges:
        result["request"] = result["requests"][0]
        if send:
            # the answer to the last request made is the one that decided the outcome
            result["response"] = _response(captured.exchanges[-1])
    return result
