"""Who may do what: admins and owners delete and suppress; members and viewers only list (403 on POST);
non-members get 404. The Privacy page renders for every member and offers its forms to admins only."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from ingest.models import Event
from privacy.models import PrivacyRequest, Suppression

ROUTES = ["delete", "suppress", "unsuppress"]


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("persona", ["viewer_api", "teammate_api"])
def test_below_admin_gets_403_on_post(route: str, persona: str, request: pytest.FixtureRequest) -> None:
    api = request.getfixturevalue(persona)
    response = api.post(f"/api/workspaces/acme/privacy/{route}/", {"user_id": "u-42"}, format="json")
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert "admin role" in response.json()["message"]
    assert not PrivacyRequest.objects.exists() and not Suppression.objects.exists()


@pytest.mark.parametrize("route", ROUTES)
def test_admin_may_post(route: str, admin_api: Any) -> None:
    response = admin_api.post(f"/api/workspaces/acme/privacy/{route}/", {"user_id": "u-42"}, format="json")
    assert response.status_code == (202 if route == "delete" else 200)
    assert PrivacyRequest.objects.get().requested_by.username == "adam"


@pytest.mark.parametrize("listing", ["requests", "suppressions"])
def test_a_viewer_may_list(listing: str, viewer_api: Any, owner_api: Any) -> None:
    owner_api.post("/api/workspaces/acme/privacy/suppress/", {"email": "ada@example.com"}, format="json")
    response = viewer_api.get(f"/api/workspaces/acme/privacy/{listing}/")
    assert response.status_code == 200
    assert response.json()["count"] == 1


@pytest.mark.parametrize("route", ROUTES + ["requests", "suppressions"])
def test_a_non_member_gets_404(route: str, outsider_api: Any, owner: Any) -> None:
    response = (outsider_api.get if route in ("requests", "suppressions") else outsider_api.post)(
        f"/api/workspaces/acme/privacy/{route}/", {"user_id": "u-42"}, format="json")
    assert response.status_code == 404 and response.json()["code"] == "not_found"


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_page_lists_requests_and_suppressions_with_forms_for_admins(owner: Any, owner_api: Any) -> None:
    owner_api.post("/api/workspaces/acme/privacy/delete/", {"email": "Ada@Example.com"}, format="json")
    page = _client(owner).get("/w/acme/privacy/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Delete this person&#x27;s data" in html or "Delete this person's data" in html
    assert 'name="action" value="suppress"' in html
    assert "ada@example.com" in html and "alice" in html and "Pending" in html
    assert 'href="/w/acme/privacy/" aria-current="page"' in html  # the nav link


def test_a_viewer_sees_the_lists_but_no_forms(viewer: Any, owner_api: Any) -> None:
    owner_api.post("/api/workspaces/acme/privacy/suppress/", {"user_id": "u-42"}, format="json")
    client = _client(viewer)
    page = client.get("/w/acme/privacy/")
    assert page.status_code == 200
    assert b"u-42" in page.content and b'value="suppress"' not in page.content
    assert client.post("/w/acme/privacy/", {"action": "suppress", "user_id": "u-9"}).status_code == 403
    assert not Suppression.objects.filter(value="u-9").exists()


def test_the_page_form_deletes_and_suppresses(owner: Any, store: Any) -> None:
    hers = store({"userId": "u-42"})
    client = _client(owner)
    response = client.post("/w/acme/privacy/", {"action": "delete", "user_id": "u-42"})
    assert response.status_code == 302 and response["Location"] == "/w/acme/privacy/"
    request = PrivacyRequest.objects.get()
    assert request.kind == "delete" and request.user_id == "u-42" and request.requested_by == owner
    from privacy import services

    services.run_deletion(request.id)
    assert not Event.objects.filter(id=hers[0].id).exists()
    page = client.get("/w/acme/privacy/")
    assert b"Deletion requested for user id u-42" in page.content
    assert b"ingest.Event: 1" in page.content

    client.post("/w/acme/privacy/", {"action": "suppress", "anonymous_id": "anon-3"})
    assert Suppression.objects.filter(kind="anonymous_id", value="anon-3").exists()
    client.post("/w/acme/privacy/", {"action": "unsuppress", "anonymous_id": "anon-3"})
    assert not Suppression.objects.filter(kind="anonymous_id", value="anon-3").exists()


@pytest.mark.parametrize(("data", "message"), [
    ({"action": "delete"}, b"Give at least one of user_id, email or anonymous_id."),
    ({"action": "suppress", "email": "nope"}, b"Enter an email address."),
    ({"action": "erase", "user_id": "u-1"}, b"Choose what to do"),
])
def test_the_page_form_shows_errors(owner: Any, data: dict[str, str], message: bytes) -> None:
    response = _client(owner).post("/w/acme/privacy/", data)
    assert response.status_code == 400
    assert message in response.content
    assert not PrivacyRequest.objects.exists() and not Suppression.objects.exists()


def test_admin_lists_requests_and_suppressions_read_only(db: Any, owner_api: Any) -> None:
    from django.contrib.auth.models import User

    owner_api.post("/api/workspaces/acme/privacy/delete/", {"user_id": "u-42"}, format="json")
    staff = User.objects.create_superuser("root", "root@example.com", "root-password-1")
    client = _client(staff)
    for path in ("/admin/privacy/privacyrequest/", "/admin/privacy/suppression/"):
        page = client.get(path)
        assert page.status_code == 200 and b"u-42" in page.content, path
    assert client.get("/admin/privacy/suppression/add/").status_code == 403
