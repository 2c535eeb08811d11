"""Shared fixtures: the personas, their workspaces, API clients (`*_api`) and logged-in browsers
(`*_client`), and an in-process Celery worker on the real broker.

Personas: in the workspace "acme", alice the owner, adam the admin, bob the teammate (role member) and
vera the viewer; charlie, the outsider, owns "globex". The admin's browser is `workspace_admin_client`:
`admin_client` is pytest-django's (a Django superuser, for admin pages)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from rest_framework.test import APIClient

from pipelines.models import Membership, Workspace

from .helpers import api_client_for, browser_for


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


def _member(workspace: Workspace, username: str, role: str) -> User:
    user = User.objects.create_user(username, f"{username}@example.com", f"{username}-password-1")
    Membership.objects.create(user=user, workspace=workspace, role=role)
    return user


@pytest.fixture
def owner(workspace: Workspace) -> User:
    return _member(workspace, "alice", Membership.Role.OWNER)


@pytest.fixture
def admin(workspace: Workspace) -> User:
    return _member(workspace, "adam", Membership.Role.ADMIN)


@pytest.fixture
def teammate(workspace: Workspace) -> User:
    return _member(workspace, "bob", Membership.Role.MEMBER)


@pytest.fixture
def viewer(workspace: Workspace) -> User:
    return _member(workspace, "vera", Membership.Role.VIEWER)


@pytest.fixture
def outsider(other_workspace: Workspace) -> User:
    return _member(other_workspace, "charlie", Membership.Role.OWNER)


@pytest.fixture
def owner_api(owner: User) -> APIClient:
    return api_client_for(owner)


@pytest.fixture
def admin_api(admin: User) -> APIClient:
    return api_client_for(admin)


@pytest.fixture
def teammate_api(teammate: User) -> APIClient:
    return api_client_for(teammate)


@pytest.fixture
def viewer_api(viewer: User) -> APIClient:
    return api_client_for(viewer)


@pytest.fixture
def outsider_api(outsider: User) -> APIClient:
    return api_client_for(outsider)


@pytest.fixture
def owner_client(owner: User) -> Client:
    return browser_for(owner)


@pytest.fixture
def workspace_admin_client(admin: User) -> Client:
    return browser_for(admin)


@pytest.fixture
def teammate_client(teammate: User) -> Client:
    return browser_for(teammate)


@pytest.fixture
def viewer_client(viewer: User) -> Client:
    return browser_for(viewer)


@pytest.fixture
def outsider_client(outsider: User) -> Client:
    return browser_for(outsider)


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
