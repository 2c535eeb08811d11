"""The Connections UI and Django admin render a destination type's settings from one factory: the same
inputs, the same initial values, the same errors for the same input."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from connections.admin import SETTING_PREFIX, DestinationAdminForm
from connections.forms import DestinationSettingsForm
from destinations.catalog import all_definitions, get_definition

WITH_SETTINGS = [d for d in all_definitions() if d.settings]


def _without_prefix(html: str) -> str:
    """Admin's input as the UI renders it: no name prefix, and no `required` attribute (admin marks required
    inputs the Django way, bold labels; the UI marks the same ones with an asterisk, see below)."""
    return re.sub(r"\srequired(?=[\s/>])", "", html.replace(SETTING_PREFIX, ""))


def _forms(definition: Any, data: dict[str, Any] | None = None, masked: dict[str, Any] | None = None):
    ui = DestinationSettingsForm(definition, data, masked=masked)
    admin_data = None if data is None else {SETTING_PREFIX + k: v for k, v in data.items()}
    admin = DestinationAdminForm.for_definition(definition, masked or {})(admin_data)
    return ui, admin


@pytest.mark.parametrize("definition", WITH_SETTINGS, ids=lambda d: d.key)
def test_every_setting_renders_the_same_input_in_the_ui_and_in_admin(db, definition) -> None:
    ui, admin = _forms(definition)
    for setting in definition.settings:
        ui_field, admin_field = ui[setting.key], admin[SETTING_PREFIX + setting.key]
        assert str(ui_field) == _without_prefix(str(admin_field)), setting.key
        assert (ui_field.label, ui_field.help_text) == (admin_field.label, admin_field.help_text)
        marked = ui_field.field.show_required  # type: ignore[attr-defined]
        assert marked == setting.required and admin_field.field.required == (setting.type != "boolean" and marked)


def test_numbers_and_headers_are_the_same_kind_of_input() -> None:
    ui, admin = _forms(get_definition("webhook"))
    for form, prefix in ((ui, ""), (admin, SETTING_PREFIX)):
        assert 'inputmode="numeric"' in str(form[prefix + "batch_size"])
        assert "<textarea" in str(form[prefix + "headers"]) and "Authorization: Bearer" in str(form[prefix + "headers"])


def test_stored_secrets_show_masked_in_both() -> None:
    ui, admin = _forms(get_definition("webhook"), masked={"shared_secret": "••••••••1234",
                                                          "headers": {"X-Token": "••••••••abcd"}})
    for form, prefix in ((ui, ""), (admin, SETTING_PREFIX)):
        assert "••••••••1234 (leave empty to keep)" in str(form[prefix + "shared_secret"])
        assert "Stored: ••••••••1234. Leave empty to keep it." in form[prefix + "shared_secret"].help_text
        assert "X-Token: ••••••••abcd" in str(form[prefix + "headers"])


BAD_INPUTS = [
    ("webhook", {"url": "ftp://nope", "batch_size": "many", "headers": "no colon here"}),
    ("webhook", {"url": "", "method": "GET"}),
    ("customerio", {"site_id": "s", "batch_size": "1000"}),
    ("mixpanel", {"project_token": "not a token!", "region": "mars"}),
    ("amplitude", {"api_key": "k", "min_id_length": "-3"}),
]


@pytest.mark.parametrize(("key", "data"), BAD_INPUTS, ids=[f"{k}-{i}" for i, (k, _) in enumerate(BAD_INPUTS)])
def test_the_same_input_gets_the_same_errors(db, key: str, data: dict[str, Any]) -> None:
    definition = get_definition(key)
    ui, admin = _forms(definition, {"name": "X", **data})
    assert not ui.is_valid() and not admin.is_valid()
    keys = [s.key for s in definition.settings]
    ui_errors = {k: ui.errors[k] for k in keys if k in ui.errors}
    admin_errors = {k: admin.errors[SETTING_PREFIX + k] for k in keys if SETTING_PREFIX + k in admin.errors}
    assert ui_errors and ui_errors == admin_errors


def _inputs(html: str, names: list[str], prefix: str) -> dict[str, str]:
    found = {}
    for name in names:
        match = re.search(rf'<(input|select|textarea)[^>]*name="{prefix}{name}"[^>]*>', html)
        assert match, name
        found[name] = _without_prefix(match.group(0))
    return found


def test_the_wizard_page_and_the_admin_page_show_the_same_inputs(owner, admin_client: Client) -> None:
    definition = get_definition("webhook")
    names = [s.key for s in definition.settings]
    ui_client = Client()
    ui_client.force_login(owner)
    ui_client.post("/w/acme/destinations/new/select/", {"kind": "webhook"})
    wizard = ui_client.get("/w/acme/destinations/new/configure/").content.decode()
    admin = admin_client.get(reverse("admin:connections_destination_add") + "?kind=webhook").content.decode()
    assert _inputs(wizard, names, "") == _inputs(admin, names, SETTING_PREFIX)
