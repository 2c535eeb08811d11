"""State changes for sources, destinations, connections and actions.

Views, DRF viewsets, admin actions and the bootstrap command all call these; none of them saves these
models on its own. Every function takes objects already scoped to a workspace the caller may use.
Validation problems raise django.core.exceptions.ValidationError (with a field dict where it helps).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from destinations.catalog import get_definition
from destinations.catalog.base import ActionDefinition
from destinations.errors import SettingsError
from destinations.mapping import MappingError, parse_path, validate_mapping
from destinations.triggers import TriggerSyntaxError, parse
from pipelines.models import Workspace

from .models import (
    SYSTEM_KINDS,
    Action,
    Connection,
    Destination,
    Source,
    SourceKind,
    WebhookEncoding,
    WebhookSettings,
    WebhookSignature,
    check_connectable,
)


def create_source(workspace: Workspace, *, name: str, kind: str) -> tuple[Source, str | None]:
    """Create a source. Returns it and, for Journeys Track API sources, the API key (shown once)."""
    if kind not in SourceKind.values:
        raise ValidationError({"kind": f"Unknown source kind {kind!r}."})
    if kind in SYSTEM_KINDS:
        raise ValidationError({"kind": "Audience sync sources are created by connecting an audience to a "
                                       "destination (on the audience's page)."})
    source = Source(workspace=workspace, name=name.strip(), kind=kind)
    api_key = source.issue_track_api_key() if kind == SourceKind.JOURNEYS_TRACK_API else None
    source.save()
    return source, api_key


def update_source(source: Source, *, name: str | None = None, enabled: bool | None = None) -> Source:
    """Rename or enable/disable a source. Its kind and credentials never change here."""
    if name is not None:
        if not name.strip():
            raise ValidationError({"name": "A source needs a name."})
        source.name = name.strip()
    if enabled is not None:
        source.enabled = enabled
    source.save()
    return source


def delete_source(source: Source) -> None:
    """Delete a source with its connections and stored events (and their delivery records)."""
    source.delete()


def rotate_source_key(source: Source) -> str:
    """Rotate the credential of a source: its write key, or for Track API sources its API key.
    Returns the new secret."""
    if source.kind == SourceKind.JOURNEYS_TRACK_API:
        api_key = source.issue_track_api_key()
        source.save(update_fields=["site_id", "api_key_hash", "updated_at"])
        return api_key
    return source.rotate_write_key()


def _definition(kind: str) -> Any:
    try:
        return get_definition(kind)
    except KeyError:
        raise ValidationError({"kind": f"Unknown destination type {kind!r}."}) from None


def _clean_settings(definition: Any, settings: dict[str, Any], existing: dict[str, Any] | None = None) -> dict[str, Any]:
    try:
        return definition.clean_settings(settings, existing=existing)
    except SettingsError as exc:
        raise ValidationError({f"settings.{k}" if k != "settings" else k: v for k, v in exc.errors.items()}) from None


@transaction.atomic
def create_destination(
    workspace: Workspace,
    *,
    name: str,
    kind: str,
    settings: dict[str, Any],
    enabled: bool = True,
    sources: Iterable[Source] = (),
) -> Destination:
    """Create a destination with the catalog's default actions, connected to `sources`."""
    definition = _definition(kind)
    cleaned = _clean_settings(definition, settings)
    destination = Destination(workspace=workspace, name=name.strip() or definition.name, kind=kind,
                              mode=definition.mode, enabled=enabled)
    destination.settings = cleaned
    destination.save()
    for position, action_def in enumerate(a for a in definition.actions if a.default_enabled):
        Action.objects.create(
            destination=destination, kind=action_def.key, name=action_def.title,
            trigger=action_def.default_trigger, mapping=action_def.default_mapping(), position=position,
        )
    set_sources(destination, sources)
    return destination


def update_destination(
    destination: Destination,
    *,
    name: str | None = None,
    settings: dict[str, Any] | None = None,
    enabled: bool | None = None,
) -> Destination:
    """Change a destination. Secrets left empty in `settings` keep their stored values."""
    if name is not None:
        destination.name = name.strip() or destination.name
    if enabled is not None:
        destination.enabled = enabled
    if settings is not None:
        destination.settings = _clean_settings(destination.definition, settings, existing=destination.settings)
    destination.save()
    return destination


@transaction.atomic
def set_sources(destination: Destination, sources: Iterable[Source]) -> None:
    """Make `sources` exactly the sources connected to `destination` (system sources, such as an
    audience's, are left as they are)."""
    wanted = {s.id: s for s in sources}
    for source in wanted.values():
        try:
            check_connectable(source, destination)
        except ValidationError as exc:
            raise ValidationError({"source_ids": f"{source.display_name}: {exc.messages[0]}"}) from None
    # Sources Pipelines made itself (an audience's) stay connected: they are managed where they were made.
    (Connection.objects.filter(destination=destination).exclude(source_id__in=wanted)
     .exclude(source__kind__in=SYSTEM_KINDS).delete())
    existing = set(Connection.objects.filter(destination=destination).values_list("source_id", flat=True))
    for source_id, source in wanted.items():
        if source_id not in existing:
            Connection.objects.create(source=source, destination=destination)


def connect(source: Source, destination: Destination) -> Connection:
    try:
        check_connectable(source, destination)
    except ValidationError as exc:
        raise ValidationError({"source_ids": exc.messages[0]}) from None
    connection, _ = Connection.objects.get_or_create(source=source, destination=destination)
    return connection


def disconnect(source: Source, destination: Destination) -> None:
    """Stop `source` feeding `destination`. A system source (an audience's) exists only for that
    connection: it goes, which disconnects the audience (audience_sync)."""
    if source.kind in SYSTEM_KINDS and Connection.objects.filter(source=source, destination=destination).exists():
        delete_source(source)
        return
    Connection.objects.filter(source=source, destination=destination).delete()


def delete_destination(destination: Destination) -> None:
    """Delete a destination with its actions, connections and delivery records."""
    destination.delete()


def delete_action(action: Action) -> None:
    """Remove an action from its destination; its past deliveries stay (their action becomes empty)."""
    action.delete()


def add_action(
    destination: Destination,
    *,
    kind: str,
    name: str | None = None,
    trigger: str | None = None,
    mapping: dict[str, Any] | None = None,
    enabled: bool = True,
) -> Action:
    """Add an action of the destination's type; trigger and mapping default to the catalog's.
    Raises ValidationError as `validate_action` does."""
    try:
        action_def = destination.definition.action(kind)
    except KeyError:
        raise ValidationError({"kind": f"{destination.definition.name} has no action {kind!r}."}) from None
    trigger = action_def.default_trigger if trigger is None else trigger
    mapping = action_def.default_mapping() if mapping is None else mapping
    validate_action(action_def, trigger=trigger, mapping=mapping)
    position = destination.actions.count()
    return Action.objects.create(
        destination=destination, kind=kind, name=(name or action_def.title).strip(), trigger=trigger,
        mapping=mapping, enabled=enabled, position=position,
    )


def update_action(action: Action, **changes: Any) -> Action:
    """Change name, trigger, mapping, enabled or position of an action. The trigger and the mapping that
    change are checked as `validate_action` does."""
    try:
        action_def: ActionDefinition | None = action.destination.definition.action(action.kind)
    except KeyError:  # a kind the catalog no longer has: its trigger and mapping syntax are still checked
        action_def = None
    validate_action(action_def, trigger=changes.get("trigger"), mapping=changes.get("mapping"))
    for field in ("name", "trigger", "mapping", "enabled", "position"):
        if field in changes and changes[field] is not None:
            setattr(action, field, changes[field])
    action.save()
    return action


REQUIRED_FIELD_MESSAGE = "This field is required: map it from the event or give a value."


def validate_action(action_def: ActionDefinition | None, *, trigger: str | None = None, mapping: Any = None) -> None:
    """The one check of an action's trigger and mapping (the UI form, the API and admin all come here).

    Raises ValidationError with every problem at once, keyed by what is wrong: "trigger" (the syntax
    error, naming the column), "mapping.<field>" (a required field of the action left unmapped: missing,
    null or ""), "mapping" (not an object, or a malformed directive). None skips that part."""
    errors: dict[str, str] = {}
    if trigger is not None:
        try:
            validate_trigger(trigger)
        except ValidationError as exc:
            errors.update({k: v[0] for k, v in exc.message_dict.items()})
    if mapping is not None:
        if not isinstance(mapping, dict):
            errors["mapping"] = "The mapping must be a JSON object of field names to directives."
        else:
            for field in action_def.fields if action_def else ():
                if field.required and mapping.get(field.key) in (None, ""):
                    errors[f"mapping.{field.key}"] = REQUIRED_FIELD_MESSAGE
            try:
                validate_mapping(mapping)
            except MappingError as exc:
                errors["mapping"] = str(exc)
    if errors:
        raise ValidationError(errors)


def validate_trigger(trigger: str) -> None:
    """Raise ValidationError({"trigger": message}) when the trigger text does not parse."""
    try:
        parse(trigger)
    except TriggerSyntaxError as exc:
        raise ValidationError({"trigger": str(exc)}) from None


# --- Incoming webhook sources ------------------------------------------------------------------------------

_WEBHOOK_FIELDS = ("mapping", "array_path", "signature_scheme", "signature_header", "signature_encoding",
                   "signature_prefix")


@transaction.atomic
def update_webhook_settings(source: Source, *, secret: str | None = None, **changes: Any) -> WebhookSettings:
    """Change a webhook source's mapping, array path or signature settings (any of _WEBHOOK_FIELDS).

    `secret` None or "" keeps the stored shared secret; a new value replaces it (encrypted at rest).
    Raises ValidationError naming the field: a malformed mapping, an unknown scheme or encoding, or a
    signature check without a secret."""
    from ingest.webhook_mapping import validate_config

    unknown = set(changes) - set(_WEBHOOK_FIELDS)
    if unknown:
        raise ValueError(f"unknown webhook settings {sorted(unknown)}")
    if source.kind != SourceKind.WEBHOOK:
        raise ValidationError({"kind": "Only incoming webhook sources have webhook settings."})
    # The source row's lock orders concurrent changes, the first one included (no settings row to lock
    # yet); saved once, created on the first change: one audit entry per change.
    Source.objects.select_for_update().filter(pk=source.pk).first()
    settings = WebhookSettings.objects.select_for_update().filter(source=source).first() or \
        WebhookSettings(source=source)
    for key, value in changes.items():
        if value is not None:
            setattr(settings, key, value.strip() if isinstance(value, str) else value)
    try:
        validate_config(settings.mapping, "")
    except MappingError as exc:
        raise ValidationError({"mapping": str(exc)}) from None
    try:
        parse_path(settings.array_path)
    except MappingError as exc:
        raise ValidationError({"array_path": str(exc)}) from None
    for key in ("array_path", "signature_header", "signature_prefix"):
        limit = WebhookSettings._meta.get_field(key).max_length
        if len(getattr(settings, key)) > limit:
            raise ValidationError({key: f"At most {limit} characters."})
    if settings.signature_scheme not in WebhookSignature.values:
        raise ValidationError({"signature_scheme": f"Choose one of {', '.join(WebhookSignature.values)}."})
    if settings.signature_encoding not in WebhookEncoding.values:
        raise ValidationError({"signature_encoding": f"Choose one of {', '.join(WebhookEncoding.values)}."})
    if settings.signature_scheme == WebhookSignature.HMAC_SHA256 and not settings.signature_header:
        raise ValidationError({"signature_header": "Name the header that carries the signature."})
    # The masked value sent back (a client echoing what it read) keeps the stored secret.
    if secret and secret.strip() and secret != settings.masked_secret:
        settings.secret = secret.strip()
    if settings.signature_scheme != WebhookSignature.NONE and not settings.secret_encrypted:
        raise ValidationError({"secret": "A signature check needs the shared secret the sender signs with."})
    settings.save()
    return settings
