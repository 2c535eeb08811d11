"""CORS for the tracking API.

Browser libraries post from any page, and newer ones send `Authorization: Basic ...`, so every event is
preceded by a preflight. Every /v1 response (errors included) carries Access-Control-Allow-Origin: without
it the browser reports the POST as failed and retries, which duplicates events.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

MAX_AGE = "86400"
DEFAULT_ALLOWED_HEADERS = "Content-Type, Authorization, Content-Encoding"


def add_headers(response: HttpResponse) -> HttpResponse:
    """Mark a response readable from any origin (no cookies are involved: credentials are in headers)."""
    response["Access-Control-Allow-Origin"] = "*"
    return response


def preflight(request: HttpRequest, methods: str = "POST, OPTIONS") -> HttpResponse:
    """The answer to an OPTIONS preflight: allow `methods` and whatever headers the browser asks for."""
    response = HttpResponse(status=204)
    response["Access-Control-Allow-Origin"] = "*"
    response["Access-Control-Allow-Methods"] = methods
    response["Access-Control-Allow-Headers"] = (
        request.META.get("HTTP_ACCESS_CONTROL_REQUEST_HEADERS") or DEFAULT_ALLOWED_HEADERS
    )
    response["Access-Control-Max-Age"] = MAX_AGE
    response["Vary"] = "Access-Control-Request-Headers"
    return response
