"""Fixtures for the Customer.io destination: a local HTTP server standing in for the Track API (wired in
through DESTINATION_ENDPOINTS), destination settings, and a check, after every test, that each request
body the destination sent is valid against Customer.io's OpenAPI file."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from .openapi import errors_for

SITE_ID = "site-7f3a"
API_KEY = "key-9c1e55aa0b"
BASIC_AUTH = "Basic " + base64.b64encode(f"{SITE_ID}:{API_KEY}".encode()).decode()


@pytest.fixture
def cio_settings() -> dict[str, Any]:
    """Cleaned destination settings as the engine hands them to perform / perform_batch."""
    return {"site_id": SITE_ID, "api_key": API_KEY, "region": "us", "convert_timestamps": True,
            "batch_size": 50}


@pytest.fixture
def track_api(httpserver: HTTPServer, settings: Any) -> Iterator[HTTPServer]:
    """The local Track API. Every POST it received is validated against the OpenAPI spec at teardown."""
    settings.DESTINATION_ENDPOINTS = {"customerio": httpserver.url_for("/").rstrip("/")}
    yield httpserver
    problems = []
    for request, _ in httpserver.log:
        if request.method != "POST":
            continue
        body = json.loads(request.get_data())
        problems += [f"{request.path}: {p}" for p in errors_for(request.path, body)]
    assert not problems, "requests that break Customer.io's OpenAPI:\n" + "\n".join(problems)


def received(server: HTTPServer) -> list[dict[str, Any]]:
    """What the server received, in order: method, path, Authorization header and JSON body."""
    out = []
    for request, _ in server.log:
        data = request.get_data()
        out.append({
            "method": request.method, "path": request.path, "auth": request.headers.get("Authorization"),
            "content_type": request.headers.get("Content-Type"), "json": json.loads(data) if data else None,
        })
    return out
