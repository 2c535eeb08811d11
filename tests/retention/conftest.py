"""Fixtures for the retention tests: rows of every table retention touches, written with the age a test
needs (the ORM's auto_now fields are moved back afterwards)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from itertools import count
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from rest_framework.test import APIClient

from connections import services
from connections.models import Destination, Source
from destinations.models import Delivery, DeliveryExchange
from ingest.models import Event
from pipelines.models import Membership, Workspace

_serial = count()


def days_ago(days: float) -> datetime:
    return timezone.now() - timedelta(days=days)


@pytest.fixture(autouse=True)
def _allow_loopback(settings: Any) -> None:
    settings.OUTBOUND_ALLOW_PRIVATE = True  # destinations point at 127.0.0.1 (nothing is sent)


@pytest.fixture
def source(workspace: Workspace) -> Source:
    src, _ = services.create_source(workspace, name="Website", kind="javascript")
    return src


@pytest.fixture
def destination(workspace: Workspace, source: Source) -> Destination:
    return services.create_destination(workspace, name="Hook", kind="webhook",
                                       settings={"url": "http://127.0.0.1:9/in"}, sources=[source])


@pytest.fixture
def make_event(source: Source) -> Callable[..., Event]:
    def make(age_days: float, src: Source | None = None) -> Event:
        src = src or source
        n = next(_serial)
        return Event.objects.create(workspace_id=src.workspace_id, source=src, message_id=f"msg-{n}", type="track",
                                    payload={"type": "track", "event": "Signed Up", "messageId": f"msg-{n}"},
                                    received_at=days_ago(age_days))

    return make


@pytest.fixture
def make_exchange(destination: Destination) -> Callable[..., DeliveryExchange]:
    def make(row_count: int, dest: Destination | None = None) -> DeliveryExchange:
        return DeliveryExchange.objects.create(destination=dest or destination, request={"body": "x"},
                                               response={"status": 200}, created_at=timezone.now(),
                                               row_count=row_count)

    return make


@pytest.fixture
def make_delivery(destination: Destination) -> Callable[..., Delivery]:
    def make(event: Event, status: str, age_days: float, exchange: DeliveryExchange | None = None,
             dest: Destination | None = None) -> Delivery:
        dest = dest or destination
        row = Delivery.objects.create(workspace_id=dest.workspace_id, event=event, destination=dest,
                                      message_id=event.message_id, status=status, attempts=1, exchange=exchange,
                                      payload={"p": 1} if status in ("retrying", "pending") else None)
        Delivery.objects.filter(id=row.id).update(updated_at=days_ago(age_days), created_at=days_ago(age_days))
        return row

    return make


def member(workspace: Workspace, name: str, role: str) -> User:
    user = User.objects.create_user(name, f"{name}@example.com", f"{name}-password-1")
    Membership.objects.create(user=user, workspace=workspace, role=role)
    return user


@pytest.fixture
def viewer(workspace: Workspace) -> User:
    return member(workspace, "victor", Membership.Role.VIEWER)


@pytest.fixture
def admin_user(workspace: Workspace) -> User:
    return member(workspace, "ada", Membership.Role.ADMIN)


@pytest.fixture
def api_for() -> Callable[[User], APIClient]:
    from rest_framework.authtoken.models import Token

    def make(user: User) -> APIClient:
        client = APIClient()
        token, _ = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return client

    return make


def exists(obj: Any) -> bool:
    return type(obj).objects.filter(pk=obj.pk).exists()
