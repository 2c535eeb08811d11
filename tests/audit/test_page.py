"""The per-workspace audit page: for every member, newest first, paginated, filtered; 404 for others."""

from __future__ import annotations

from django.test import Client

from audit.models import AuditEntry
from connections import services

from .conftest import SECRET


def test_any_member_reads_the_log_newest_first_with_a_nav_link(teammate_client: Client, owner_client: Client,
                                                                  webhook):
    owner_client.post(f"/w/acme/sources/{webhook.sources.get().id}/rename/", {"name": "Shop"})
    response = teammate_client.get("/w/acme/audit/")
    assert response.status_code == 200
    page = response.content.decode()
    assert 'href="/w/acme/audit/"' in page and 'aria-current="page">Audit log' in page
    assert page.index("<strong>Shop</strong>") < page.index("<strong>My webhook</strong>")
    assert "name: Website → Shop" in page and "alice" in page
    assert SECRET not in page


def test_a_viewer_reads_the_log_too(webhook, viewer_client: Client):
    response = viewer_client.get("/w/acme/audit/")
    assert response.status_code == 200 and "My webhook" in response.content.decode()
    assert viewer_client.post("/w/acme/audit/").status_code == 405  # the log is read, never written, from here


def test_the_log_filters_by_object_type(owner_client: Client, webhook):
    page = owner_client.get("/w/acme/audit/?type=action").content.decode()
    assert "My webhook: Send" in page and "<strong>Website</strong>" not in page
    everything = owner_client.get("/w/acme/audit/?type=nonsense").content.decode()
    assert "<strong>Website</strong>" in everything and "My webhook: Send" in everything


def test_the_log_is_paginated(owner_client: Client, workspace):
    for n in range(55):
        services.create_source(workspace, name=f"Source {n:02d}", kind="http")
    first = owner_client.get("/w/acme/audit/").content.decode()
    assert "Source 54" in first and "Source 04" not in first and "Page 1 of 2" in first
    second = owner_client.get("/w/acme/audit/?page=2").content.decode()
    assert "Source 04" in second and "Source 54" not in second


def test_another_workspace_log_is_not_found(outsider_client: Client, client: Client, webhook, owner):
    assert AuditEntry.objects.filter(workspace__slug="acme").exists()
    assert outsider_client.get("/w/acme/audit/").status_code == 404
    assert client.get("/w/acme/audit/").status_code == 302  # anonymous: to the login page
