"""Template filters of the Connections UI: JSON shown readably in request/response panels."""

from __future__ import annotations

import json
from typing import Any

from django import template

register = template.Library()


@register.filter
def pretty_json(value: Any) -> str:
    """Indented JSON of a value (escaped by the template as usual)."""
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


@register.filter
def pretty_body(body: Any) -> str:
    """An HTTP body: indented when it is JSON text, unchanged otherwise."""
    if body is None:
        return ""
    if not isinstance(body, str):
        return pretty_json(body)
    try:
        return json.dumps(json.loads(body), indent=2, ensure_ascii=False)
    except ValueError:
        return body
