"""Who is making the current change: the request being handled, if any.

`AuditRequestMiddleware` keeps the current request in a context variable for the duration of the request;
the signal receivers in audit.recording read the actor from it when a change is saved, not when the
request arrived. That matters for the management API: DRF authenticates a token inside the view and then
sets `request.user` (and `request.auth`) on the underlying Django request, so by the time a serializer
saves, the Django request carries the token's user. Outside a request (management commands, Celery
tasks, a shell) the actor is "system".
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest, HttpResponse

from .models import AuditEntry

_current_request: contextvars.ContextVar[HttpRequest | None] = contextvars.ContextVar(
    "audit_current_request", default=None
)

Channel = AuditEntry.Channel


class AuditRequestMiddleware:
    """Makes the request visible to audit.recording while it is handled. Place after AuthenticationMiddleware."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = _current_request.set(request)
        try:
            return self.get_response(request)
        finally:
            _current_request.reset(token)


@dataclass(frozen=True)
class Actor:
    user: Any  # a User, or None for the system and anonymous requests
    label: str
    channel: str


SYSTEM = Actor(user=None, label="system", channel=Channel.SYSTEM)


def current_actor() -> Actor:
    """The actor of the change being made now, read from the current request (SYSTEM without one)."""
    request = _current_request.get()
    if request is None:
        return SYSTEM
    user = getattr(request, "user", None)
    channel = _channel(request)
    if user is None or not user.is_authenticated:
        return Actor(user=None, label="anonymous", channel=channel)
    name = user.get_username()
    if channel == Channel.ADMIN:
        return Actor(user=user, label=f"admin:{name}", channel=channel)
    if channel == Channel.API and getattr(request, "auth", None) is not None:
        return Actor(user=user, label=f"{name} (api token)", channel=channel)
    return Actor(user=user, label=name, channel=channel)


def _channel(request: HttpRequest) -> str:
    match = getattr(request, "resolver_match", None)
    if match is not None and "admin" in match.namespaces:
        return Channel.ADMIN
    if request.path_info.startswith("/api/"):
        return Channel.API
    return Channel.UI
