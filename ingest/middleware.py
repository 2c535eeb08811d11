"""A short way through Django for the tracking API (/v1/*), the hot path.

Placed first in MIDDLEWARE. Its requests go straight to their view: sessions, CSRF, authentication,
messages, static files and the clickjacking header have nothing to do there (the views are CSRF-exempt,
read no session or user and answer JSON), and walking those layers cost about a sixth of the CPU of a
single-event request under load. What does apply is kept: the Host check (ALLOWED_HOSTS, as
CommonMiddleware does it) and `X-Content-Type-Options: nosniff`. A refused Host or a crash still becomes
Django's answer for it (JSON 400 / 500 under /v1, pipelines.api_errors). Everything else takes the full
stack. `TrackingWSGIShortcut` goes one step further for tracking POSTs, before Django's handler.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.core.handlers.exception import response_for_exception
from django.core.handlers.wsgi import WSGIRequest
from django.db import DEFAULT_DB_ALIAS, connections
from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, ResolverMatch, resolve

from . import views

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
        try:
            match = _resolve(path)
        except Resolver404:
            return self.get_response(request)  # the full stack answers the JSON 404
        return _answer(request, match)  # an exception goes to Django's handler (JSON 400/500 under /v1)


class TrackingWSGIShortcut:
    """Wraps the WSGI application (pipelines/wsgi.py): a POST to a /v1 tracking route is answered here,
    before Django's request handler, whose per-request work (request_started / request_finished signals
    and their connection checks over every alias, the middleware chain, response wrapping and closing) was
    about a fifth of such a request's CPU under load. Everything else, and anything unexpected, goes to
    Django as before. What still applies is kept: the Host check, nosniff, this thread's database
    connection recycled as Django would (only when it has one), and any crash answered with the JSON 500.
    """

    def __init__(self, app: Callable[..., Any]) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        path = environ.get("PATH_INFO", "")
        if environ.get("REQUEST_METHOD") != "POST" or not path.startswith(PREFIX):
            return self.app(environ, start_response)
        try:
            match = _resolve(path)
        except Resolver404:
            return self.app(environ, start_response)
        if match.func not in _fast_views():
            return self.app(environ, start_response)
        request = WSGIRequest(environ)
        _recycle_connection()
        try:
            response = _answer(request, match)
        except Exception as exc:  # noqa: BLE001 -- answered as Django would: logged, JSON 400 / 500 under /v1
            response = response_for_exception(request, exc)
        finally:
            _recycle_connection()
        start_response(f"{response.status_code} {response.reason_phrase}", list(response.items()))
        return [response.content]


def _answer(request: HttpRequest, match: ResolverMatch) -> HttpResponse:
    """Call the view as Django would after its middleware, keeping what applies to a JSON API."""
    request.get_host()  # DisallowedHost (ALLOWED_HOSTS), as CommonMiddleware checks it
    request.resolver_match = match
    response = match.func(request, *match.args, **match.kwargs)
    if "X-Content-Type-Options" not in response:
        response["X-Content-Type-Options"] = "nosniff"
    return response


@functools.cache
def _fast_views() -> frozenset[Callable[..., Any]]:
    return frozenset({views.single, views.batch, views.metrics})


def _recycle_connection() -> None:
    """What close_old_connections does around a Django request, for this thread's connection only and
    only when it has one (tracking requests rarely touch the database themselves: cached keys, group
    commit on its own thread)."""
    conn = connections[DEFAULT_DB_ALIAS]
    # Inside an atomic block only when called in-process by a test holding its transaction open (Django's
    # test client disconnects close_old_connections for the same reason); never between real requests.
    if conn.connection is not None and not conn.in_atomic_block:
        conn.close_if_unusable_or_obsolete()
