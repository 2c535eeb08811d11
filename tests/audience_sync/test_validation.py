"""Sync validation against a Meta stand-in: what Meta answered (received / invalid and its reasons),
its approximate size fetched on a schedule, the match rate, and the drift warning that waits for Meta's
24 h delay. A real Celery worker runs the syncs and deliveries."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from pytest_httpserver import HTTPServer

from audience_sync import validation
from audience_sync.models import AudienceDestination
from audiences.models import MembershipEvent
from connections import services as connection_services
from tests.helpers import wait_for

from .conftest import make_audience
from .test_facebook import SETTINGS

pytestmark = pytest.mark.usefixtures("celery_worker")


def h(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def connected_to_meta(settings: Any, workspace: Any, person: Any, httpserver: HTTPServer, owner_api: Any,
                      *, lower: int, upper: int) -> AudienceDestination:
    """Three members synced to a Meta stand-in that says one email was invalid and reports the given size."""
    settings.DESTINATION_ENDPOINTS = {"facebook": httpserver.url_for("/")}
    httpserver.expect_request("/v24.0/act_1234567890/customaudiences").respond_with_json({"id": "6001"})
    httpserver.expect_request("/v24.0/6001/users").respond_with_json({
        "audience_id": "6001", "session_id": 7, "num_received": 3, "num_invalid_entries": 1,
        "invalid_entry_samples": {h("bob@example.con"): "Invalid email format"}})
    httpserver.expect_request("/v24.0/6001", query_string=(
        "fields=approximate_count_lower_bound%2Capproximate_count_upper_bound")).respond_with_json(
        {"approximate_count_lower_bound": lower, "approximate_count_upper_bound": upper, "id": "6001"})
    httpserver.expect_request("/v24.0/6001/sessions", query_string="session_id=7").respond_with_json(
        {"data": [{"session_id": "7", "num_received": 3, "num_matched": 2, "num_invalid_entries": 1}]})
    for i, email in enumerate(("ada@example.com", "bob@example.con", "cy@example.com")):
        person(user_id=f"user-{i}", email=email, plan="pro")
    audience = make_audience(workspace, worker=True)
    meta = connection_services.create_destination(workspace, name="Meta ads", kind="facebook_custom_audiences",
                                                  settings=SETTINGS)
    response = owner_api.post(f"/api/workspaces/{workspace.slug}/audiences/{audience.pk}/destinations/",
                              {"destination_id": meta.pk, "interval_minutes": 60}, format="json")
    assert response.status_code == 201
    link = AudienceDestination.objects.get(audience=audience)

    def settled() -> bool:
        link.refresh_from_db()
        return bool(link.platform.get("size")) and owner_api.get(sync_url(link)).json()["adds"]["acknowledged"] == 3

    wait_for(settled, what="the backfill acknowledged and Meta's size fetched")
    validation.refresh_platform_size(link)  # what the next sync does: the answered session's status
    return link


def sync_url(link: AudienceDestination) -> str:
    return (f"/api/workspaces/{link.workspace.slug}/audiences/{link.audience_id}/destinations/"
            f"{link.destination_id}/sync/")


def age(link: AudienceDestination, hours: float) -> None:
    """Pretend the backfill and every change happened `hours` ago."""
    then = timezone.now() - timedelta(hours=hours)
    AudienceDestination.objects.filter(pk=link.pk).update(backfilled_at=then)
    MembershipEvent.objects.filter(audience_id=link.audience_id).update(at=then)


def test_the_report_has_meta_figures_and_waits_for_its_delay_before_warning(
        settings: Any, workspace: Any, person: Any, httpserver: HTTPServer, owner_api: Any) -> None:
    link = connected_to_meta(settings, workspace, person, httpserver, owner_api, lower=1000, upper=1200)
    report = owner_api.get(sync_url(link)).json()
    assert report["audience_size"] == 3
    assert report["adds"] == {"sent": 3, "acknowledged": 3, "failed": 0, "not_sent": 0, "waiting": 0}
    assert report["at_destination"] == 3
    assert report["platform"]["received"] == 3 and report["platform"]["invalid"] == 1
    assert report["platform"]["invalid_reasons"] == {"Invalid email format": 1}
    assert report["platform"]["valid_share"] == pytest.approx(0.667, abs=0.001)
    assert (report["platform"]["approximate_lower"], report["platform"]["approximate_upper"]) == (1000, 1200)
    assert report["match_rate"] is None  # Meta holds more than we have: drift, not a match rate
    assert report["platform"]["last_session"] == {"session_id": 7, "num_received": 3, "num_matched": 2,
                                                  "num_invalid_entries": 1}
    assert report["platform"]["last_upload_match_rate"] == pytest.approx(0.667, abs=0.001)
    assert report["platform_delay_hours"] == 24
    assert report["warnings"] == []  # within Meta's delay: a note, not a warning
    assert "up to 24 h" in report["note"]

    age(link, 30)
    (warning,) = owner_api.get(sync_url(link)).json()["warnings"]
    assert warning.startswith("Meta reports about 1000–1200 people but the audience has 3")
    assert "more than 24 h ago" in warning


def test_matching_sizes_raise_no_warning_and_give_a_match_rate(
        settings: Any, workspace: Any, person: Any, httpserver: HTTPServer, owner_api: Any) -> None:
    link = connected_to_meta(settings, workspace, person, httpserver, owner_api, lower=1, upper=2)
    age(link, 30)
    report = owner_api.get(sync_url(link)).json()
    assert report["warnings"] == [] and report["match_rate"] == {"low": 0.333, "high": 0.667}


def test_an_expired_token_shows_as_a_reconnect_warning_not_silent_retries(
        settings: Any, workspace: Any, person: Any, httpserver: HTTPServer, owner_api: Any) -> None:
    settings.DESTINATION_ENDPOINTS = {"facebook": httpserver.url_for("/")}
    httpserver.expect_request("/v24.0/6001/users").respond_with_json(
        {"error": {"message": "Error validating access token: Session has expired", "code": 190}}, status=400)
    person(user_id="user-1", email="ada@example.com", plan="pro")
    audience = make_audience(workspace, worker=True)
    meta = connection_services.create_destination(workspace, name="Meta ads", kind="facebook_custom_audiences",
                                                  settings=SETTINGS)
    owner_api.post(f"/api/workspaces/{workspace.slug}/audiences/{audience.pk}/destinations/",
                   {"destination_id": meta.pk, "external_audience_id": "6001"}, format="json")
    link = AudienceDestination.objects.get(audience=audience)
    report = wait_for(lambda: (r if (r := owner_api.get(sync_url(link)).json())["adds"]["failed"] else None),
                      what="the failed add")
    assert report["adds"]["failed"] == 1 and report["adds"]["waiting"] == 0
    (warning,) = report["warnings"]
    assert "1 change failed to reach Meta ads" in warning and "reconnect" in warning
    assert len([r for r, _ in httpserver.log if r.path == "/v24.0/6001/users"]) == 1  # not retried
