"""Template filters of the Connections UI: JSON shown readably in request/response panels, and moments as
relative times ("3 min ago") with the exact time on hover."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from django import template
from django.utils import timezone as django_timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

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


def ago(moment: datetime, now: datetime) -> str:
    """A past moment in words: "just now", "1 min ago", "3 h ago", "2 d ago", beyond 30 days the date.
    static/js/app.js (relativeTime) says the same in the browser, where the live debugger keeps it current."""
    seconds = max(0, int((now - moment).total_seconds()))
    if seconds < 45:
        return "just now"
    minutes = max(1, round(seconds / 60))
    if minutes < 60:
        return f"{minutes} min ago"
    hours = minutes // 60
    if hours < 24:
        return f"{hours} h ago"
    days = hours // 24
    if days <= 30:
        return f"{days} d ago"
    return moment.astimezone(UTC).strftime("%-d %b %Y")


def exact_time(moment: datetime) -> str:
    """The exact moment, the way every relative time's hover shows it: "2026-12-04 03:41:07 UTC"."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


@register.filter
def relative_time(value: datetime | str | None) -> SafeString | str:
    """`<time datetime="…" title="exact UTC time" data-relative>3 min ago</time>` for a datetime or an ISO
    8601 string; "—" for none."""
    if not value:
        return "—"
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return format_html('<time datetime="{}" title="{}" data-relative>{}</time>',
                       moment.astimezone(UTC).isoformat(), exact_time(moment),
                       ago(moment, django_timezone.now()))
