"""The Alerts page: admins create, edit and delete rules with the form (errors shown on the form, never a
500); viewers read the rules and the incident history but get no form to change them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from alerts.models import AlertIncident, AlertRule
from connections import services as connections

PAGE = "/w/acme/alerts/"


@pytest.fixture
def destination(workspace: Any) -> Any:
    return connections.create_destination(workspace, name="Warehouse hook", kind="webhook",
                                          settings={"url": "https://8.8.8.8/hook"})


def _form(destination: Any, **values: Any) -> dict[str, Any]:
    return {"name": "Hook failing", "kind": "failure_rate", "destination": destination.id, "window_minutes": 15,
            "threshold_percent": 20, "min_events": 10, "emails": "ops@example.com, oncall@example.com",
            "slack_url": "", "enabled": "on", **values}


def test_an_admin_creates_edits_and_deletes_a_rule(workspace_admin_client: Any, destination: Any) -> None:
    r = workspace_admin_client.post(f"{PAGE}new/", _form(destination))
    assert r.status_code == 302
    rule = AlertRule.objects.get()
    assert (rule.kind, rule.threshold_percent, rule.emails) == ("failure_rate", 20,
                                                                ["ops@example.com", "oncall@example.com"])
    page = workspace_admin_client.get(PAGE).content.decode()
    assert "Failure rate above 20% over 15 min (at least 10 attempts)" in page
    assert "ops@example.com, oncall@example.com" in page
    r = workspace_admin_client.post(f"{PAGE}{rule.id}/", _form(destination, threshold_percent=35))
    assert r.status_code == 302
    assert AlertRule.objects.get().threshold_percent == 35
    assert workspace_admin_client.post(f"{PAGE}{rule.id}/delete/").status_code == 302
    assert not AlertRule.objects.exists()


def test_bad_values_are_form_errors(workspace_admin_client: Any, destination: Any) -> None:
    r = workspace_admin_client.post(f"{PAGE}new/", _form(destination, threshold_percent=0))
    assert r.status_code == 400
    assert "Expected a percentage above 0 and at most 100." in r.content.decode()
    r = workspace_admin_client.post(f"{PAGE}new/", _form(destination, kind="source_volume"))
    assert r.status_code == 400
    assert "A volume rule watches a source: choose one." in r.content.decode()
    r = workspace_admin_client.post(f"{PAGE}new/", _form(destination, emails="nobody"))
    assert "Not an email address: nobody" in r.content.decode()
    assert not AlertRule.objects.exists()


def test_viewers_see_rules_and_incidents_but_no_controls(viewer_client: Any, workspace: Any,
                                                         destination: Any) -> None:
    rule = AlertRule.objects.create(workspace=workspace, name="Circuit", kind="circuit_open",
                                    destination=destination, emails=["ops@example.com"])
    rule.slack_url = "https://8.8.8.8/services/T000/B000/SECRETSECRETSECRET"
    rule.save()
    AlertIncident.objects.create(rule=rule, opened_at=datetime(2026, 3, 2, 12, 0, tzinfo=UTC),
                                 summary="The circuit is open until 12:05 UTC: HTTP 503",
                                 notifications=[{"event": "opened", "channel": "email", "ok": True,
                                                 "to": "ops@example.com", "error": ""}])
    page = viewer_client.get(PAGE).content.decode()
    assert "The circuit is open until 12:05 UTC: HTTP 503" in page
    assert "Firing" in page and "••••••••CRET" in page
    assert "SECRETSECRETSECRET" not in page
    assert "New alert rule" not in page and "Delete" not in page
    detail = viewer_client.get(f"{PAGE}{rule.id}/").content.decode()
    assert "Save rule" not in detail and "SECRETSECRETSECRET" not in detail
    assert viewer_client.post(f"{PAGE}{rule.id}/delete/").status_code == 403
