"""Alert rules: each kind fires once per incident and recovers (the clock frozen with ALERTS_FROZEN_NOW,
delivery counts written with destinations.counts.add_counts as the engine writes them, events stored as
ingest stores them); email lands in django.core.mail.outbox and the Slack message at a real local HTTP
server; failed notifications are recorded on the incident; the API validates and masks the Slack URL."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest
from django.core import mail

from alerts import tasks
from alerts.models import AlertIncident, AlertRule
from connections import services as connections
from destinations.counts import add_counts
from destinations.models import DestinationCircuit
from ingest.models import Event

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
RULES = "/api/workspaces/acme/alerts/rules/"
INCIDENTS = "/api/workspaces/acme/alerts/incidents/"


@pytest.fixture
def clock(settings: Any) -> Any:
    """clock(minutes): move the alerts clock to NOW + minutes."""
    settings.OUTBOUND_ALLOW_PRIVATE = True  # the Slack hook is the local HTTP server

    def move(minutes: float) -> datetime:
        settings.ALERTS_FROZEN_NOW = NOW + timedelta(minutes=minutes)
        return settings.ALERTS_FROZEN_NOW

    move(0)
    return move


@pytest.fixture
def pipeline(workspace: Any) -> dict[str, Any]:
    source, _ = connections.create_source(workspace, name="Web app", kind="javascript")
    destination = connections.create_destination(workspace, name="Warehouse hook", kind="webhook",
                                                 settings={"url": "https://8.8.8.8/hook"}, sources=[source])
    return {"source": source, "destination": destination}


@pytest.fixture
def slack(httpserver: Any) -> Any:
    httpserver.expect_request("/services/T000/B000/XXXX", method="POST").respond_with_data("ok")
    return httpserver


def _events(source: Any, at: datetime, n: int) -> None:
    Event.objects.bulk_create([
        Event(workspace=source.workspace, source=source, message_id=str(uuid4()), type="track",
              payload={"type": "track", "event": "Signed Up"}, received_at=at) for _ in range(n)])


def _minute(at: datetime) -> datetime:
    return at.replace(second=0, microsecond=0)


def _create(api: Any, **values: Any) -> dict[str, Any]:
    r = api.post(RULES, values, format="json")
    assert r.status_code == 201, r.json()
    return r.json()


def _slack_texts(server: Any) -> list[str]:
    return [json.loads(request.get_data())["text"] for request, _ in server.log]


def test_failure_rate_fires_once_and_recovers(owner_api: Any, pipeline: dict[str, Any], clock: Any,
                                              slack: Any) -> None:
    destination = pipeline["destination"]
    rule = _create(owner_api, name="Hook failing", kind="failure_rate", destination=destination.id,
                   window_minutes=15, threshold_percent=50, min_events=5, emails=["ops@example.com"],
                   slack_url=slack.url_for("/services/T000/B000/XXXX"))
    # Too few attempts to judge: 3 of 3 failed, but the minimum is 5.
    add_counts({(destination.id, _minute(clock(-5))): {"failed": 3}})
    clock(0)
    assert tasks.evaluate() == {"opened": 0, "recovered": 0}
    add_counts({(destination.id, _minute(clock(-2))): {"failed": 4, "retrying": 1, "delivered": 2}})
    clock(0)
    assert tasks.evaluate() == {"opened": 1, "recovered": 0}
    assert [m.subject for m in mail.outbox] == ["[Alert] Hook failing (Acme · Warehouse hook)"]
    assert mail.outbox[0].to == ["ops@example.com"]
    assert "80.0% of 10 attempts failed in the last 15 min" in mail.outbox[0].body
    assert len(_slack_texts(slack)) == 1 and "Hook failing" in _slack_texts(slack)[0]

    # Still failing a minute later: no second message.
    clock(1)
    assert tasks.evaluate() == {"opened": 0, "recovered": 0}
    assert len(mail.outbox) == 1 and len(slack.log) == 1

    # The failures leave the window; deliveries succeed.
    add_counts({(destination.id, _minute(clock(19))): {"delivered": 40}})
    clock(20)
    assert tasks.evaluate() == {"opened": 0, "recovered": 1}
    assert mail.outbox[1].subject == "[Recovered] Hook failing (Acme · Warehouse hook)"
    assert _slack_texts(slack)[1].startswith("Recovered: “Hook failing”")
    incident = owner_api.get(INCIDENTS).json()[0]
    assert incident["rule"] == rule["id"]
    assert incident["opened_at"].startswith("2026-03-02T12:00")
    assert incident["recovered_at"].startswith("2026-03-02T12:20")
    assert [(n["event"], n["channel"], n["ok"]) for n in incident["notifications"]] == [
        ("opened", "email", True), ("opened", "slack", True), ("recovered", "email", True),
        ("recovered", "slack", True)]


def test_no_delivery_while_events_arrive_fires_and_recovers(owner_api: Any, pipeline: dict[str, Any],
                                                            clock: Any) -> None:
    source, destination = pipeline["source"], pipeline["destination"]
    _create(owner_api, name="Nothing delivered", kind="no_delivery", destination=destination.id,
            window_minutes=10, emails=["ops@example.com"])
    assert tasks.evaluate() == {"opened": 0, "recovered": 0}  # no events: nothing is expected
    _events(source, clock(-3), 5)
    clock(0)
    assert tasks.evaluate() == {"opened": 1, "recovered": 0}
    assert "Nothing was delivered in the last 10 min" in mail.outbox[0].body
    clock(2)
    assert tasks.evaluate() == {"opened": 0, "recovered": 0}
    add_counts({(destination.id, _minute(clock(3))): {"delivered": 5}})
    clock(4)
    assert tasks.evaluate() == {"opened": 0, "recovered": 1}
    assert mail.outbox[1].subject.startswith("[Recovered] Nothing delivered")
    assert len(mail.outbox) == 2


def test_no_delivery_expects_nothing_of_a_disabled_destination(owner_api: Any, pipeline: dict[str, Any],
                                                                clock: Any) -> None:
    source, destination = pipeline["source"], pipeline["destination"]
    _create(owner_api, name="Nothing delivered", kind="no_delivery", destination=destination.id, window_minutes=10)
    destination.enabled = False
    destination.save()
    _events(source, clock(-3), 5)
    clock(0)
    assert tasks.evaluate() == {"opened": 0, "recovered": 0}
    assert not AlertIncident.objects.exists()


def test_circuit_open_fires_and_recovers(owner_api: Any, pipeline: dict[str, Any], clock: Any) -> None:
    destination = pipeline["destination"]
    _create(owner_api, name="Circuit", kind="circuit_open", destination=destination.id, emails=["ops@example.com"])
    DestinationCircuit.objects.create(destination=destination, open_until=NOW + timedelta(minutes=5),
                                      reason="HTTP 503 from 8.8.8.8")
    assert tasks.evaluate() == {"opened": 1, "recovered": 0}
    assert "The circuit is open until 12:05 UTC: HTTP 503 from 8.8.8.8" in mail.outbox[0].body
    clock(1)
    assert tasks.evaluate() == {"opened": 0, "recovered": 0}
    DestinationCircuit.objects.filter(destination=destination).delete()  # the first success deletes it
    clock(2)
    assert tasks.evaluate() == {"opened": 0, "recovered": 1}
    assert len(mail.outbox) == 2


def test_disabling_a_rule_ends_its_incident_quietly(owner_api: Any, pipeline: dict[str, Any], clock: Any) -> None:
    destination = pipeline["destination"]
    rule = _create(owner_api, name="Circuit", kind="circuit_open", destination=destination.id,
                   emails=["ops@example.com"])
    DestinationCircuit.objects.create(destination=destination, open_until=NOW + timedelta(minutes=5))
    assert tasks.evaluate() == {"opened": 1, "recovered": 0}
    assert owner_api.patch(f"{RULES}{rule['id']}/", {"enabled": False}, format="json").status_code == 200
    incident = owner_api.get(INCIDENTS).json()[0]
    assert incident["recovered_at"] and incident["recovery_summary"] == "The rule was disabled."
    clock(1)
    assert tasks.evaluate() == {"opened": 0, "recovered": 0}
    assert len(mail.outbox) == 1


def test_source_volume_below_and_above_the_band(owner_api: Any, pipeline: dict[str, Any], clock: Any) -> None:
    source = pipeline["source"]
    _create(owner_api, name="Web volume", kind="source_volume", source=source.id, window_minutes=60,
            min_volume=3, max_volume=5, emails=["ops@example.com"])
    _events(source, clock(-10), 1)
    clock(0)
    assert tasks.evaluate() == {"opened": 1, "recovered": 0}
    assert "1 events in the last 60 min, below the band 3–5." in mail.outbox[0].body
    _events(source, clock(1), 3)
    clock(2)
    assert tasks.evaluate() == {"opened": 0, "recovered": 1}
    _events(source, clock(3), 3)
    clock(4)
    assert tasks.evaluate() == {"opened": 1, "recovered": 0}
    assert "more than 5 events in the last 60 min, above the band 3–5." in mail.outbox[2].body
    assert AlertIncident.objects.count() == 2


def test_a_failed_notification_is_recorded_and_the_task_goes_on(owner_api: Any, pipeline: dict[str, Any],
                                                                 clock: Any, httpserver: Any, settings: Any) -> None:
    httpserver.expect_request("/hook").respond_with_data("down", status=500)
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", 9  # nothing listens there
    destination = pipeline["destination"]
    _create(owner_api, name="Circuit", kind="circuit_open", destination=destination.id,
            emails=["ops@example.com"], slack_url=httpserver.url_for("/hook"))
    _create(owner_api, name="Also circuit", kind="circuit_open", destination=destination.id)
    DestinationCircuit.objects.create(destination=destination, open_until=NOW + timedelta(minutes=5))
    assert tasks.evaluate() == {"opened": 2, "recovered": 0}
    incident = AlertIncident.objects.get(rule__name="Circuit")
    assert [(n["channel"], n["ok"]) for n in incident.notifications] == [("email", False), ("slack", False)]
    assert "HTTP 500" in incident.notifications[1]["error"]
    assert httpserver.url_for("/hook") not in json.dumps(incident.notifications)
    assert len(httpserver.log) == 1  # sent once, not retried every minute
    page = owner_api.get(INCIDENTS).json()
    assert {i["rule_name"] for i in page} == {"Circuit", "Also circuit"}


def test_the_slack_url_is_encrypted_masked_and_ssrf_checked(owner_api: Any, pipeline: dict[str, Any],
                                                           settings: Any) -> None:
    settings.OUTBOUND_ALLOW_PRIVATE = False
    destination = pipeline["destination"]
    r = owner_api.post(RULES, {"name": "x", "kind": "circuit_open", "destination": destination.id,
                               "slack_url": "http://127.0.0.1:8000/hook"}, format="json")
    assert r.status_code == 400
    assert r.json()["code"] == "invalid_request"
    assert r.json()["message"].startswith("slack_url: The host 127.0.0.1 resolves to 127.0.0.1")
    url = "https://8.8.8.8/services/T000/B000/SECRETSECRETSECRET"
    body = _create(owner_api, name="x", kind="circuit_open", destination=destination.id, slack_url=url)
    assert "slack_url" not in body
    assert body["slack_url_masked"] == "••••••••CRET"
    stored = AlertRule.objects.get(pk=body["id"])
    assert url not in stored.slack_url_encrypted and stored.slack_url == url
    # Sending the masked value back keeps the URL; null clears it.
    r = owner_api.patch(f"{RULES}{body['id']}/", {"slack_url": "••••••••CRET", "name": "y"}, format="json")
    assert r.status_code == 200 and AlertRule.objects.get(pk=body["id"]).slack_url == url
    assert url not in json.dumps(owner_api.get(RULES).json())
    owner_api.patch(f"{RULES}{body['id']}/", {"slack_url": None}, format="json")
    assert AlertRule.objects.get(pk=body["id"]).slack_url == ""


@pytest.mark.parametrize(("values", "field"), [
    ({"kind": "sometimes"}, "kind"),
    ({"kind": "failure_rate", "destination": "DESTINATION", "threshold_percent": 150}, "threshold_percent"),
    ({"kind": "failure_rate", "destination": "DESTINATION", "threshold_percent": 0}, "threshold_percent"),
    ({"kind": "failure_rate", "destination": "DESTINATION"}, "threshold_percent"),
    ({"kind": "failure_rate", "destination": "DESTINATION", "threshold_percent": 10, "min_events": 0}, "min_events"),
    ({"kind": "no_delivery", "destination": "DESTINATION", "window_minutes": 0}, "window_minutes"),
    ({"kind": "no_delivery", "destination": "DESTINATION", "window_minutes": "soon"}, "window_minutes"),
    ({"kind": "source_volume"}, "source"),
    ({"kind": "source_volume", "source": "SOURCE"}, "min_volume"),
    ({"kind": "source_volume", "source": "SOURCE", "min_volume": 10, "max_volume": 5}, "max_volume"),
    ({"kind": "circuit_open"}, "destination"),
    ({"kind": "circuit_open", "destination": "DESTINATION", "emails": ["not an address"]}, "emails"),
    ({"kind": "circuit_open", "destination": "DESTINATION", "name": "  "}, "name"),
])
def test_bad_values_are_400_with_code_and_message(owner_api: Any, pipeline: dict[str, Any], values: dict[str, Any],
                                                  field: str) -> None:
    ids = {"SOURCE": pipeline["source"].id, "DESTINATION": pipeline["destination"].id}
    body = {"name": "Rule", **{k: ids.get(v, v) if isinstance(v, str) else v for k, v in values.items()}}
    r = owner_api.post(RULES, body, format="json")
    assert r.status_code == 400, r.json()
    assert r.json()["code"] == "invalid_request"
    assert r.json()["message"].startswith(f"{field}:"), r.json()
    assert not AlertRule.objects.exists()


def test_another_workspaces_destination_cannot_be_named(owner_api: Any, outsider: Any,
                                                        other_workspace: Any) -> None:
    theirs = connections.create_destination(other_workspace, name="Theirs", kind="webhook",
                                            settings={"url": "https://1.1.1.1/hook"})
    r = owner_api.post(RULES, {"name": "x", "kind": "circuit_open", "destination": theirs.id}, format="json")
    assert r.status_code == 400
    assert r.json()["message"].startswith("destination:")


def test_viewers_read_admins_change(owner_api: Any, viewer_api: Any, admin_api: Any,
                                    pipeline: dict[str, Any], outsider_api: Any) -> None:
    rule = _create(admin_api, name="Circuit", kind="circuit_open", destination=pipeline["destination"].id)
    assert [r["name"] for r in viewer_api.get(RULES).json()] == ["Circuit"]
    r = viewer_api.patch(f"{RULES}{rule['id']}/", {"name": "Mine"}, format="json")
    assert r.status_code == 403 and r.json()["code"] == "permission_denied"
    assert viewer_api.delete(f"{RULES}{rule['id']}/").status_code == 403
    assert outsider_api.get(f"{RULES}{rule['id']}/").status_code == 404
    assert admin_api.patch(f"{RULES}{rule['id']}/", {"window_minutes": 30}, format="json").json()[
        "window_minutes"] == 30
    assert admin_api.delete(f"{RULES}{rule['id']}/").status_code == 204
    assert not AlertRule.objects.exists()


def test_the_beat_schedule_runs_the_evaluator_every_minute(settings: Any) -> None:
    entry = settings.CELERY_BEAT_SCHEDULE["alerts-evaluate"]
    assert entry["task"] == tasks.evaluate.name == "alerts.evaluate"
    assert entry["schedule"] == 60.0
