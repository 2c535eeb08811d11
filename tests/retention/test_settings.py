"""The retention settings: GET/PATCH /api/workspaces/{slug}/retention/ and the workspace settings page."""

from __future__ import annotations

import pytest
import yaml

from retention.models import RetentionPolicy

pytestmark = pytest.mark.django_db

URL = "/api/workspaces/acme/retention/"
DEFAULTS = {"events_days": 30, "deliveries_days": 14, "counts_days": 90, "counts_rollup_days": 7}


def test_a_viewer_reads_the_defaults(viewer, api_for):
    response = api_for(viewer).get(URL)
    assert response.status_code == 200
    assert {k: response.json()[k] for k in DEFAULTS} == DEFAULTS
    assert response.json()["dedupe_window_hours"] == 30 * 24
    assert not RetentionPolicy.objects.exists()  # reading writes nothing


def test_an_admin_changes_some_windows(workspace, admin_user, api_for):
    response = api_for(admin_user).patch(URL, {"events_days": 60, "counts_days": 120}, format="json")
    assert response.status_code == 200
    assert response.json()["events_days"] == 60 and response.json()["deliveries_days"] == 14
    policy = RetentionPolicy.objects.get(workspace=workspace)
    assert (policy.events_days, policy.counts_days, policy.counts_rollup_days) == (60, 120, 7)


def test_an_owner_may_change_it_too(owner_api):
    assert owner_api.patch(URL, {"deliveries_days": 3}, format="json").status_code == 200


@pytest.mark.parametrize("body, field", [
    ({"events_days": 0}, "events_days"),
    ({"events_days": "soon"}, "events_days"),
    ({"deliveries_days": 4000}, "deliveries_days"),
    ({"events_days": 10, "deliveries_days": 20}, "deliveries_days"),
    ({"deliveries_days": 31}, "deliveries_days"),  # longer than the stored 30-day events window
    ({"counts_rollup_days": 100}, "counts_rollup_days"),
])
def test_bad_values_get_400_with_code_and_message(workspace, owner_api, body, field):
    response = owner_api.patch(URL, body, format="json")
    assert response.status_code == 400
    data = response.json()
    assert data["code"] == "invalid_request" and field in data["message"] and field in data["errors"]
    assert not RetentionPolicy.objects.exists()


def test_members_and_viewers_cannot_change_it(teammate_api, viewer, api_for):
    for client in (teammate_api, api_for(viewer)):
        response = client.patch(URL, {"events_days": 2}, format="json")
        assert response.status_code == 403
        assert response.json()["code"] == "permission_denied" and "admin" in response.json()["message"]
    assert not RetentionPolicy.objects.exists()


def test_another_workspace_is_not_found(outsider_api, workspace):
    assert outsider_api.get(URL).status_code == 404
    response = outsider_api.patch(URL, {"events_days": 2}, format="json")
    assert response.status_code == 404 and response.json()["code"] == "not_found"


def test_the_schema_describes_it(client):
    schema = yaml.safe_load(client.get("/api/schema/").content)
    operations = schema["paths"]["/api/workspaces/{slug}/retention/"]
    assert {"get", "patch"} <= set(operations) and "put" not in operations


# --- the page ---------------------------------------------------------------------------------------------

PAGE = "/w/acme/settings/"


def test_the_page_shows_the_policy_and_the_nav_links_to_it(client, viewer):
    client.force_login(viewer)
    response = client.get(PAGE)
    html = response.content.decode()
    assert response.status_code == 200
    assert 'name="events_days"' in html and 'value="30"' in html and "disabled" in html
    assert "Only admins and owners" in html and "Save changes" not in html
    assert f'href="{PAGE}"' in client.get("/w/acme/connections/").content.decode()


def test_an_admin_saves_the_form(client, workspace, admin_user):
    client.force_login(admin_user)
    response = client.post(PAGE, {"events_days": 45, "deliveries_days": 10, "counts_days": 90,
                                  "counts_rollup_days": 7}, follow=True)
    assert response.status_code == 200 and "Retention settings saved." in response.content.decode()
    assert RetentionPolicy.objects.get(workspace=workspace).events_days == 45


def test_bad_input_shows_form_errors(client, owner):
    client.force_login(owner)
    response = client.post(PAGE, {"events_days": 0, "deliveries_days": 10, "counts_days": 90,
                                  "counts_rollup_days": 7})
    html = response.content.decode()
    assert response.status_code == 400 and 'class="error"' in html and "greater than or equal to 1" in html
    response = client.post(PAGE, {"events_days": 5, "deliveries_days": 10, "counts_days": 90,
                                  "counts_rollup_days": 7})
    assert response.status_code == 400 and "cannot be kept longer than events" in response.content.decode()
    assert not RetentionPolicy.objects.exists()


def test_a_member_cannot_post_and_an_outsider_sees_nothing(client, teammate, outsider):
    client.force_login(teammate)
    assert client.post(PAGE, {"events_days": 2}).status_code == 403
    client.force_login(outsider)
    assert client.get(PAGE).status_code == 404
    assert not RetentionPolicy.objects.exists()
