"""Forms of the Connections UI.

`DestinationSettingsForm` is generated from a catalog entry's setting fields and serves both the wizard's
Configure step and a destination's Settings tab. Its fields come from `setting_fields`, the one factory
Django admin's destination form uses too, so both render and validate every setting the same way. Values
are validated by the definition itself (`clean_settings`), so the forms, the management API and the
services all agree on what is valid.
Secrets are rendered as empty password inputs: left empty they keep the stored value, typed in they
replace it.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from destinations.catalog.base import DestinationDefinition, SettingField
from destinations.errors import SettingsError
from destinations.mapping import MappingError

from . import services
from .models import Action, SourceKind


def _headers_to_text(headers: dict[str, Any] | None) -> str:
    return "\n".join(f"{k}: {v}" for k, v in (headers or {}).items())


def _text_to_headers(text: str) -> dict[str, str]:
    """Parse "Name: value" lines. Raises ValueError naming the first bad line."""
    headers: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        name, sep, value = line.partition(":")
        if not sep or not name.strip() or any(c.isspace() for c in name.strip()):
            raise ValueError(f"Line {number}: write each header as “Name: value”.")
        headers[name.strip()] = value.strip()
    return headers


# --- Catalog settings: one factory for the UI's settings form and admin's destination form -----------------


def setting_field(setting: SettingField, masked: Any = None) -> forms.Field:
    """The form field of one catalog setting, as the UI and admin both render it.

    Every field is optional for Django: the definition's `clean_settings` checks required-ness (a kept
    secret satisfies it) and types, so both forms give its messages. `show_required` marks the label.
    Secrets are empty password inputs (headers: a textarea) whose placeholder shows the stored value
    masked; left empty they keep it."""
    common: dict[str, Any] = {"label": setting.label, "help_text": setting.help, "required": False}
    field: forms.Field
    if setting.type == "boolean":
        field = forms.BooleanField(**common)
    elif setting.type == "choice":
        choices = list(setting.choices)
        if not setting.required:
            choices = [("", "—"), *choices]
        field = forms.ChoiceField(choices=choices, **common)
    elif setting.type == "headers":
        placeholder = _headers_to_text(masked) if setting.secret and masked else "Authorization: Bearer …"
        hint = " Stored values are hidden: leave empty to keep them, or type all headers to replace them." \
            if setting.secret and masked else ""
        common["help_text"] = (setting.help + hint).strip()
        field = forms.CharField(widget=forms.Textarea(attrs={"rows": 3, "placeholder": placeholder,
                                                             "spellcheck": "false"}), **common)
    elif setting.secret:
        attrs = {"autocomplete": "new-password"}
        if masked:
            attrs["placeholder"] = f"{masked} (leave empty to keep)"
            common["help_text"] = f"{setting.help} Stored: {masked}. Leave empty to keep it.".strip()
        field = forms.CharField(widget=forms.PasswordInput(attrs=attrs, render_value=False), **common)
    elif setting.type == "text":
        field = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), **common)
    elif setting.type == "url":
        field = forms.CharField(widget=forms.URLInput(attrs={"placeholder": "https://"}), **common)
    elif setting.type in ("number", "integer"):
        field = forms.CharField(widget=forms.TextInput(attrs={"inputmode": "numeric"}), **common)
    else:
        field = forms.CharField(**common)
    field.show_required = setting.required  # type: ignore[attr-defined]
    return field


def setting_fields(definition: DestinationDefinition, masked: dict[str, Any] | None = None,
                   prefix: str = "") -> dict[str, forms.Field]:
    """Form name (prefix + key) → field, for every setting of `definition`."""
    masked = masked or {}
    return {prefix + s.key: setting_field(s, masked.get(s.key)) for s in definition.settings}


def setting_initial(definition: DestinationDefinition, stored: dict[str, Any] | None,
                    prefix: str = "") -> dict[str, Any]:
    """Initial values: the stored value, else the declared default; never a secret."""
    stored = stored or {}
    initial: dict[str, Any] = {}
    for setting in definition.settings:
        if setting.secret:
            continue
        value = stored.get(setting.key, setting.default)
        if setting.type == "headers":
            value = _headers_to_text(value)
        if value is not None:
            initial[prefix + setting.key] = value
    return initial


def clean_setting_values(form: forms.BaseForm, definition: DestinationDefinition,
                         existing: dict[str, Any] | None, prefix: str = "") -> dict[str, Any] | None:
    """The settings `form` holds, cleaned by the definition; None when some are wrong (the errors are on
    the form, each on its input). Every field is checked in one pass: a field already in error (headers
    that do not parse) is left out of the definition's checks, which still run for all the others."""
    values: dict[str, Any] = {}
    for setting in definition.settings:
        name = prefix + setting.key
        raw = form.cleaned_data.get(name)
        if setting.type == "boolean":
            values[setting.key] = bool(raw)
            continue
        if raw in (None, ""):
            continue
        if setting.type == "headers":
            try:
                raw = _text_to_headers(raw)
            except ValueError as exc:
                form.add_error(name, str(exc))
                continue
            if not raw:
                continue
        values[setting.key] = raw
    failed = frozenset(s.key for s in definition.settings if prefix + s.key in form.errors)
    try:
        return definition.clean_settings(values, existing=existing or {}, skip=failed)
    except SettingsError as exc:
        for key, message in exc.errors.items():
            if key not in failed:
                form.add_error(prefix + key if prefix + key in form.fields else None, message)
        return None


class DestinationSettingsForm(forms.Form):
    """A destination's name plus one input per catalog setting (`setting_fields`).

    `existing` are the stored settings (secrets decrypted, used only to keep secrets that are left
    empty); `masked` the same settings safe to show. After `is_valid()`, `cleaned_data["settings"]`
    holds the settings as the definition cleaned them.
    """

    name = forms.CharField(label="Destination name", max_length=120,
                           help_text="How this destination appears on the Connections page.")

    def __init__(
        self,
        definition: DestinationDefinition,
        *args: Any,
        existing: dict[str, Any] | None = None,
        masked: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.definition = definition
        self.existing = existing or {}
        self.fields.update(setting_fields(definition, masked))
        for key, value in setting_initial(definition, self.existing).items():
            self.initial.setdefault(key, value)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        settings = clean_setting_values(self, self.definition, self.existing)
        if settings is not None and not self.errors:
            cleaned["settings"] = settings
        return cleaned


class SourceSelectionForm(forms.Form):
    """The sources to connect, limited to ids the view offers as eligible."""

    source_ids = forms.TypedMultipleChoiceField(coerce=int, required=False, widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args: Any, eligible: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["source_ids"].choices = eligible


SOURCE_DESCRIPTIONS: dict[str, str] = {
    SourceKind.JAVASCRIPT: "Identify people and track events on your website; loads direct-mode destinations "
                           "in the browser. Recommended.",
    SourceKind.PYTHON: "Send data from your Python server (segment-analytics-python or "
                       "customerio-cdp-analytics).",
    SourceKind.NODE: "Send data from your Node.js server with @segment/analytics-node.",
    SourceKind.GO: "Send data from your Go server.",
    SourceKind.IOS: "Identify people and track events in your iOS app.",
    SourceKind.ANDROID: "Identify people and track events in your Android app.",
    SourceKind.REACT_NATIVE: "Identify people and track events in your React Native or Expo app.",
    SourceKind.FLUTTER: "Identify people and track events in your Flutter app.",
    SourceKind.HTTP: "Call the HTTP API directly from any language or tool.",
    SourceKind.JOURNEYS_TRACK_API: "Credentials (site id and API key) for the older Journeys Track API and the "
                                   "integrations built on it.",
    SourceKind.WEBHOOK: "Receive data posted by an external service.",
}


class SourceNameForm(forms.Form):
    name = forms.CharField(
        label="Name", max_length=120,
        help_text="Name the medium and what you capture data from, e.g. “Production Javascript” or "
                  "“Test Environment”.",
        widget=forms.TextInput(attrs={"placeholder": "Production Javascript", "autofocus": True}),
    )

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not name:
            raise ValidationError("Give the source a name.")
        return name


class ActionForm(forms.Form):
    """An action's name, trigger and one JSON mapping per field of its catalog definition."""

    name = forms.CharField(label="Name", max_length=200)
    trigger = forms.CharField(
        label="Trigger", widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false", "class": "code"}),
        help_text='Which events run this action, e.g. type = "track" and event = "Order Completed".',
    )
    enabled = forms.BooleanField(label="Enabled", required=False)

    def __init__(self, action: Action, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.action = action
        self.action_definition = action.destination.definition.action(action.kind)
        self.initial.setdefault("name", action.name)
        self.initial.setdefault("trigger", action.trigger)
        self.initial.setdefault("enabled", action.enabled)
        self.mapping_keys: list[str] = []
        self._unparsed: set[str] = set()  # fields whose JSON did not parse
        for field in self.action_definition.fields:
            key = f"map__{field.key}"
            self.mapping_keys.append(key)
            help_text = field.description + (" Required." if field.required else "")
            self.fields[key] = forms.CharField(
                label=field.label, required=False, help_text=help_text,
                widget=forms.Textarea(attrs={"rows": 2, "spellcheck": "false", "class": "code mapping-input",
                                             "data-field-type": field.type}),
            )
            if field.key in action.mapping:
                self.initial.setdefault(key, json.dumps(action.mapping[field.key], indent=None))

    def mapping_fields(self) -> list[forms.BoundField]:
        return [self[key] for key in self.mapping_keys]

    def clean(self) -> dict[str, Any]:
        """JSON is read here; the trigger and the mapping are checked by services.validate_action, the
        check the API and admin make, so every error shows in one round with the same words."""
        cleaned = super().clean() or {}
        mapping: dict[str, Any] = {}
        self._unparsed = set()
        for field in self.action_definition.fields:
            key = f"map__{field.key}"
            raw = (cleaned.get(key) or "").strip()
            if not raw:
                continue
            try:
                mapping[field.key] = json.loads(raw)
            except json.JSONDecodeError as exc:
                self._unparsed.add(field.key)
                self.add_error(key, f"Not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno}). "
                                    'Write a path as {"@path": "$.userId"} and text in double quotes.')
        try:
            services.validate_action(self.action_definition, trigger=cleaned.get("trigger"), mapping=mapping)
        except ValidationError as exc:
            self.add_service_errors(exc)
        cleaned["mapping"] = mapping
        return cleaned

    def add_service_errors(self, exc: ValidationError) -> None:
        """Put the errors of services.validate_action (or update_action) on the inputs they are about."""
        for key, messages in exc.message_dict.items():
            if key.startswith("mapping."):
                if key[len("mapping."):] not in self._unparsed:  # its JSON error is already shown
                    self.add_error(f"map__{key[len('mapping.'):]}", messages)
            elif key == "mapping":
                if not self._unparsed:
                    self.add_error(None, [f"Mapping: {m}" for m in messages])
            else:
                self.add_error(key if key in self.fields else None, messages)


WEBHOOK_FIELD_HELP = {
    "type": 'track (the default), identify, page, screen, group or alias, e.g. "track".',
    "event": 'The event name (track), e.g. {"@path": "$.body.type"}.',
    "name": "The page or screen name.",
    "userId": 'Who did it, e.g. {"@path": "$.body.data.object.customer"}.',
    "anonymousId": "Needed when there is no userId.",
    "groupId": "The group or account (group calls).",
    "previousId": "The earlier id (alias calls).",
    "properties": 'An object, e.g. {"amount": {"@path": "$.body.amount"}} or {"@path": "$.body"}.',
    "traits": "An object of traits (identify and group).",
    "context": "Extra context; context.library is always {\"name\": \"webhook\"}.",
    "timestamp": "When it happened: ISO-8601 text, or seconds / milliseconds since 1970.",
    "messageId": "A unique id from the body (retries of the same body then store nothing twice); "
                 "without one a hash of the body is used.",
}


class WebhookMappingForm(forms.Form):
    """A webhook source's mapping: an optional array path and one JSON mapping per event field."""

    array_path = forms.CharField(
        label="Array path", required=False, max_length=500,
        widget=forms.TextInput(attrs={"spellcheck": "false", "class": "code", "placeholder": "$.body.line_items"}),
        help_text="Optional: one event per element of this array, available as $.item (and $.index).",
    )

    def __init__(self, *args: Any, mapping: dict[str, Any] | None = None, array_path: str = "",
                 **kwargs: Any) -> None:
        from ingest.webhook_mapping import EVENT_FIELDS

        super().__init__(*args, **kwargs)
        self.event_fields = EVENT_FIELDS
        self.initial.setdefault("array_path", array_path)
        for name in EVENT_FIELDS:
            key = f"map__{name}"
            self.fields[key] = forms.CharField(
                label=name, required=False, help_text=WEBHOOK_FIELD_HELP.get(name, ""),
                widget=forms.Textarea(attrs={"rows": 2, "spellcheck": "false", "class": "code mapping-input"}),
            )
            if mapping and name in mapping:
                self.initial.setdefault(key, json.dumps(mapping[name], indent=None))

    def mapping_fields(self) -> list[forms.BoundField]:
        return [self[f"map__{name}"] for name in self.event_fields]

    def clean(self) -> dict[str, Any]:
        from ingest.webhook_mapping import validate_config

        cleaned = super().clean() or {}
        mapping: dict[str, Any] = {}
        for name in self.event_fields:
            key = f"map__{name}"
            raw = (cleaned.get(key) or "").strip()
            if not raw:
                continue
            try:
                mapping[name] = json.loads(raw)
            except json.JSONDecodeError as exc:
                self.add_error(key, f"Not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno}). "
                                    'Write a path as {"@path": "$.body.id"} and text in double quotes.')
        if not self.errors:
            try:
                validate_config(mapping, cleaned.get("array_path", ""))
            except MappingError as exc:
                self.add_error(None, f"Mapping: {exc}")
        cleaned["mapping"] = mapping
        return cleaned


class WebhookSignatureForm(forms.Form):
    """How the sender's signature is checked. The secret is a password input: empty keeps it."""

    signature_scheme = forms.ChoiceField(label="Signature check", choices=())
    signature_header = forms.CharField(label="Header", required=False, max_length=100,
                                       help_text="The header carrying the signature, e.g. X-Hub-Signature-256.")
    signature_encoding = forms.ChoiceField(label="Encoding", choices=())
    signature_prefix = forms.CharField(label="Prefix", required=False, max_length=40,
                                       help_text="Text before the signature, e.g. sha256= (optional).")
    secret = forms.CharField(label="Shared secret", required=False, max_length=500,
                             widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
                             help_text="Leave empty to keep the stored secret.")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from .models import WebhookEncoding, WebhookSignature

        super().__init__(*args, **kwargs)
        self.fields["signature_scheme"].choices = WebhookSignature.choices
        self.fields["signature_encoding"].choices = WebhookEncoding.choices
