"""A short way through Django for the tracking API (/v1/*), the hot path.

Placed first in MIDDLEWARE. Its requests go straight to their view: sessions, CSRF, authentication,
messages, static files and the clickjacking header have nothing to do there (the views are CSRF-exempt,
read no session or user and answer JSON), and walking those layers cost about a sixth of the CPU of a
single-event request under load. What does apply is kept: the Host check (ALLOWED_HOSTS, as
CommonMiddleware does it) and `X-Content-Type-Options: nosniff`. Crashes still become JSON 500s
(Django wraps every middleware in its exception handler). Everything else takes the full stack.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, ResolverMatch, resolve

PREFIX = "/v1/"


@functools.lru_cache(maxsize=512)
def _resolve(path: str) -> ResolverMatch:
    """URL resolution is a fixed function of the path; walking the URLconf for every request cost ~7 % of
    a request here. Misses (Resolver404) are not cached; the projects/{writeKey}/settings paths only ever
    take an entry each, evicted least-recently-used."""
    return resolve(path)


class TrackingAPIShortcut:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path_info
        if not path.startswith(PREFIX):
            return self.get_response(request)
        request.get_host()  # DisallowedHost → 400, as through CommonMiddleware
        try:
            match = _resolve(path)
        except Resolver404:
            return self.get_response(request)  # the full stack answers the JSON 404
        request.resolver_match = match
        response = match.func(request, *match.args, **match.kwargs)
        if "X-Content-Type-Options" not in response:
            response["X-Content-Type-Options"] = "nosniff"
        return response
