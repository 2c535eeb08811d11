"""Mobile sources and web-only direct-mode destinations: direct mode runs a plugin inside the client, and
ours exist for websites only. Connecting an iOS/Android/React Native/Flutter source to one is refused with
the reason, like a server source: in the services, the management API (400) and the UI (form error)."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from connections import services
from connections.models import MOBILE_TO_WEB_DIRECT_MESSAGE, Connection, Destination, Source
from pipelines.models import Workspace

MOBILE = ["ios", "android", "react_native", "flutter"]
API = "/api/workspaces/acme/destinations/"
WIZARD = "/w/acme/destinations/new"


@pytest.fixture
def ga4(workspace: Workspace, js_source: Source) -> Destination:
    return services.create_destination(workspace, name="GA4", kind="ga4", sources=[js_source],
                                       settings={"measurement_id": "G-MOBILE1"})


@pytest.mark.parametrize("kind", MOBILE)
def test_services_refuse_a_mobile_source_for_a_web_only_direct_destination(
    workspace: Workspace, ga4: Destination, webhook: Destination, kind: str
) -> None:
    app = services.create_source(workspace, name=f"App {kind}", kind=kind)[0]
    with pytest.raises(ValidationError) as exc:
        services.connect(app, ga4)
    assert exc.value.message_dict["source_ids"] == [MOBILE_TO_WEB_DIRECT_MESSAGE]
    with pytest.raises(ValidationError):
        services.create_destination(workspace, name="In-app", kind="customerio_in_app", sources=[app],
                                    settings={"site_id": "site1"})
    assert not Connection.objects.filter(source=app).exists()
    # a cloud destination takes the same source
    services.connect(app, webhook)
    assert Connection.objects.filter(source=app, destination=webhook).exists()


def test_api_answers_400_with_the_reason(owner_api: Any, workspace: Workspace, js_source: Source) -> None:
    app = services.create_source(workspace, name="iPhone app", kind="ios")[0]
    refused = owner_api.post(API, {"kind": "ga4", "settings": {"measurement_id": "G-MOBILE2"},
                                   "source_ids": [app.id]}, format="json")
    assert refused.status_code == 400
    assert refused.json()["code"] and MOBILE_TO_WEB_DIRECT_MESSAGE in refused.json()["message"]
    assert not Destination.objects.filter(kind="ga4").exists()

    created = owner_api.post(API, {"kind": "ga4", "settings": {"measurement_id": "G-MOBILE2"},
                                   "source_ids": [js_source.id]}, format="json")
    assert created.status_code == 201
    adding = owner_api.patch(f"{API}{created.json()['id']}/", {"source_ids": [js_source.id, app.id]}, format="json")
    assert adding.status_code == 400
    assert MOBILE_TO_WEB_DIRECT_MESSAGE in adding.json()["message"]
    assert list(Connection.objects.filter(destination_id=created.json()["id"]).values_list("source_id", flat=True)) \
        == [js_source.id]


def test_wizard_shows_the_reason_and_refuses_a_forged_post(owner_client: Client, workspace: Workspace,
                                                           js_source: Source) -> None:
    app = services.create_source(workspace, name="Android app", kind="android")[0]
    owner_client.post(f"{WIZARD}/select/", {"kind": "ga4"})
    body = owner_client.get(f"{WIZARD}/sources/").content.decode()
    assert "Mobile SDKs can&#x27;t send data directly to this direct-mode destination" in body
    assert f'value="{app.id}" id="src-{app.id}"  disabled' in body
    assert f'value="{js_source.id}" id="src-{js_source.id}"  disabled' not in body
    response = owner_client.post(f"{WIZARD}/sources/", {"source_ids": [str(app.id)]})
    assert response.status_code == 400


def test_destination_page_refuses_connecting_a_mobile_source(owner_client: Client, workspace: Workspace,
                                                             ga4: Destination) -> None:
    app = services.create_source(workspace, name="Flutter app", kind="flutter")[0]
    response = owner_client.post(f"/w/acme/destinations/{ga4.id}/sources/add/", {"source_id": str(app.id)})
    assert response.status_code == 400
    assert "Mobile SDKs can&#x27;t send data directly to this direct-mode destination" in response.content.decode()
    assert not Connection.objects.filter(source=app).exists()
