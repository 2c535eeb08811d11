"""Shared fixtures: three personas (owner, teammate, outsider), their workspaces and API clients,
and an in-process Celery worker on the real broker."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import User
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from pipelines.models import Membership, Workspace


@pytest.fixture(autouse=True)
def _fresh_auth_failure_counters() -> Iterator[None]:
    """Each test starts with no failed-authentication counts (ingest.authguard), whatever ran before."""
    from ingest import authguard

    authguard.reset()
    yield


@pytest.fixture
def workspace(db: Any) -> Workspace:
    return Workspace.objects.create(name="Acme", slug="acme")


@pytest.fixture
def other_workspace(db: Any) -> Workspace:
    return Workspace.objects.create(name="Globex", slug="globex")


@pytest.fixture
def owner(workspace: Workspace) -> User:
    user = User.objects.create_user("alice", "alice@example.com", "alice-password-1")
    Membership.objects.create(user=user, workspace=workspace, role=Membership.Role.OWNER)
    return user


@pytest.fixture
def teammate(workspace: Workspace) -> User:
    user = User.objects.create_user("bob", "bob@example.com", "bob-password-1")
    Membership.objects.create(user=user, workspace=workspace, role=Membership.Role.MEMBER)
    return user


@pytest.fixture
def outsider(other_workspace: Workspace) -> User:
    user = User.objects.create_user("charlie", "charlie@example.com", "charlie-password-1")
    Membership.objects.create(user=user, workspace=other_workspace, role=Membership.Role.OWNER)
    return user


def _api_client(user: User) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def owner_api(owner: User) -> APIClient:
    return _api_client(owner)


@pytest.fixture
def teammate_api(teammate: User) -> APIClient:
    return _api_client(teammate)


@pytest.fixture
def outsider_api(outsider: User) -> APIClient:
    return _api_client(outsider)


@pytest.fixture
def celery_worker(transactional_db: Any) -> Iterator[Any]:
    """A real Celery worker (threads) consuming from the real broker, inside the test process.

    Tasks travel through the broker serialized as JSON, exactly as in production. Use with
    `transactional_db` (implied here) so the worker's own DB connections see committed rows.
    """
    from celery.contrib.testing.worker import start_worker
    from django.db import connections

    from pipelines.celery import app

    # The worker threads' connections are recycled after each task (pipelines/celery.py); with a max age
    # of 0 they are closed then, so none is left open when the test database is dropped.
    db_settings = connections.settings["default"]
    max_age = db_settings.get("CONN_MAX_AGE", 0)
    db_settings["CONN_MAX_AGE"] = 0
    app.control.purge()
    try:
        with start_worker(app, pool="threads", concurrency=4, perform_ping_check=False,
                          shutdown_timeout=10) as worker:
            yield worker
    finally:
        db_settings["CONN_MAX_AGE"] = max_age
