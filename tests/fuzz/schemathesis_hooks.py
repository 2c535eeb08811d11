"""Checks of ours that schemathesis runs beside its own (loaded with SCHEMATHESIS_HOOKS by test_live_schema)."""

from __future__ import annotations

import json
from typing import Any

import schemathesis


@schemathesis.check
def error_has_code_and_message(ctx: Any, response: Any, case: Any) -> None:
    """Every 4xx of the management API is JSON with a `code` and a `message`, as the README promises."""
    if not 400 <= response.status_code < 500:
        return
    try:
        body = json.loads(response.content)
    except ValueError:
        raise AssertionError(f"{response.status_code} with a body that is not JSON: {response.text[:200]!r}") from None
    if not (isinstance(body, dict) and body.get("code") and body.get("message")):
        raise AssertionError(f"{response.status_code} without code and message: {response.text[:200]!r}")
    return
