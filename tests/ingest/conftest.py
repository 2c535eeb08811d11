"""Fixtures for the tracking API tests: sources with write keys and a small client for /v1 calls."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from django.test import Client

from connections.models import Source
from connections.services import create_source
from ingest import auth
from ingest.services import broker_breaker
from pipelines.models import Workspace


@pytest.fixture(autouse=True)
def _fresh_process_state() -> Iterator[None]:
    """Each test starts with an empty write-key cache and a closed broker breaker."""
    auth.forget()
    broker_breaker.reset()
    yield
    auth.forget()
    broker_breaker.reset()


@pytest.fixture
def source(workspace: Workspace) -> Source:
    return create_source(workspace, name="Backend", kind="python")[0]


@pytest.fixture
def web_source(workspace: Workspace) -> Source:
    return create_source(workspace, name="Website", kind="javascript")[0]


def basic(key: str) -> str:
    return "Basic " + base64.b64encode(f"{key}:".encode()).decode()


class TrackingClient:
    """Posts JSON to /v1 the way the official clients do (Basic auth with the write key)."""

    def __init__(self, write_key: str | None) -> None:
        self.client = Client()
        self.write_key = write_key

    def post(self, path: str, body: Any, *, raw: bytes | None = None, auth_header: str | None = "basic",
             **headers: Any) -> Any:
        data = raw if raw is not None else orjson.dumps(body)
        if auth_header == "basic" and self.write_key:
            headers.setdefault("HTTP_AUTHORIZATION", basic(self.write_key))
        elif auth_header not in (None, "basic"):
            headers["HTTP_AUTHORIZATION"] = auth_header
        content_type = headers.pop("content_type", "application/json")
        return self.client.generic("POST", path, data, content_type=content_type, **headers)


@pytest.fixture
def api(source: Source) -> TrackingClient:
    return TrackingClient(source.write_key)
