"""Signal receivers that turn saves and deletes of the audited models into AuditEntry rows.

Audited: Source (including write key and Track API key rotation), Destination (settings per key; secret
settings only as "changed"), Connection, Action, Membership, Invitation and a webhook source's
WebhookSettings (its shared secret only as "changed"). `pre_save` reads the stored row so
`post_save` can record what changed; an update that changes nothing audited records nothing. The entry
is written in the same transaction as the change, so a rolled-back change leaves no entry.

Deletes that are a consequence of deleting something else are not recorded one by one: deleting a
destination records the destination, not each of its actions and connections, and deleting a workspace
records nothing here (its entries go with it): retention.workspace_deletion records the deletion itself
with `record_workspace_deletion`, in entries that name no workspace.

To audit another model: add a `_Spec` to `_specs()`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from django.contrib.auth import get_user_model
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models.signals import post_delete, post_save, pre_save

from .context import current_actor
from .models import SECRET_CHANGED, AuditEntry

ObjectType = AuditEntry.ObjectType
# Longer values (a big mapping, say) are cut: the log says what changed, it is not a backup.
MAX_VALUE_CHARS = 500


@dataclass(frozen=True)
class _Spec:
    object_type: str
    plain: tuple[str, ...]  # fields recorded with their before/after values
    workspace_id: Callable[[Any], int]
    name: Callable[[Any], str]
    # Secret fields: recorded as "changed" under the given label; a change to one is a key rotation.
    keys: dict[str, str] = field(default_factory=dict)
    # Destination settings: `config` per key, `secrets_encrypted` per key as "changed".
    settings: bool = False

    @property
    def fields(self) -> tuple[str, ...]:
        extra = ("config", "secrets_encrypted") if self.settings else ()
        return self.plain + tuple(self.keys) + extra


def _specs() -> dict[type[models.Model], _Spec]:
    from connections.models import Action, Connection, Destination, Source, WebhookSettings
    from destinations.models import DestinationFilters
    from pipelines.models import Invitation, Membership

    return {
        Source: _Spec(
            ObjectType.SOURCE, plain=("name", "kind", "enabled", "site_id"),
            keys={"write_key": "write_key", "api_key_hash": "api_key"},
            workspace_id=lambda s: s.workspace_id, name=lambda s: s.display_name,
        ),
        Destination: _Spec(
            ObjectType.DESTINATION, plain=("name", "kind", "mode", "enabled"), settings=True,
            workspace_id=lambda d: d.workspace_id, name=lambda d: d.name,
        ),
        Connection: _Spec(
            ObjectType.CONNECTION, plain=("enabled",),
            workspace_id=lambda c: c.destination.workspace_id,
            name=lambda c: f"{c.source.display_name} → {c.destination.name}",
        ),
        Action: _Spec(
            ObjectType.ACTION, plain=("kind", "name", "trigger", "mapping", "enabled", "position"),
            workspace_id=lambda a: a.destination.workspace_id,
            name=lambda a: f"{a.destination.name}: {a.name}",
        ),
        WebhookSettings: _Spec(
            ObjectType.WEBHOOK, plain=("array_path", "mapping", "signature_scheme", "signature_header",
                                       "signature_encoding", "signature_prefix"),
            keys={"secret_encrypted": "webhook_secret"},
            workspace_id=lambda w: w.source.workspace_id, name=lambda w: f"{w.source.display_name}: webhook",
        ),
        DestinationFilters: _Spec(
            ObjectType.FILTERS, plain=("keep_if", "drop_if", "sample_percent", "fields_mode", "fields"),
            workspace_id=lambda f: f.destination.workspace_id, name=lambda f: f"{f.destination.name}: filters",
        ),
        Membership: _Spec(
            ObjectType.MEMBERSHIP, plain=("role",),
            workspace_id=lambda m: m.workspace_id, name=lambda m: m.user.get_username(),
        ),
        # Who invited whom with which role, and revocations (accepting shows as the membership created).
        Invitation: _Spec(
            ObjectType.INVITATION, plain=("email", "role"),
            workspace_id=lambda i: i.workspace_id, name=lambda i: i.email,
        ),
    }


_SPECS: dict[type[models.Model], _Spec] = {}


def connect() -> None:
    """Connect the receivers (AuditConfig.ready)."""
    _SPECS.update(_specs())
    for model in _SPECS:
        uid = f"audit:{model._meta.label}"
        pre_save.connect(_before_save, sender=model, dispatch_uid=uid)
        post_save.connect(_after_save, sender=model, dispatch_uid=uid)
        post_delete.connect(_after_delete, sender=model, dispatch_uid=uid)


# --- receivers ----------------------------------------------------------------------------------------


def _before_save(sender: type[models.Model], instance: Any, raw: bool = False,
                 update_fields: frozenset[str] | None = None, **kwargs: Any) -> None:
    instance.__dict__.pop("_audit_before", None)
    if raw or instance._state.adding or instance.pk is None:
        return
    spec = _SPECS[sender]
    fields = [f for f in spec.fields if update_fields is None or f in update_fields]
    if not fields:
        return
    stored = sender._default_manager.filter(pk=instance.pk).values(*fields).first()
    if stored is not None:
        instance.__dict__["_audit_before"] = stored


def _after_save(sender: type[models.Model], instance: Any, created: bool = False, raw: bool = False,
                **kwargs: Any) -> None:
    if raw:
        return
    spec = _SPECS[sender]
    before = instance.__dict__.pop("_audit_before", None)
    if created:
        _record(spec, instance, AuditEntry.Action.CREATED, _diff(spec, None, _values(instance, spec.fields)))
        return
    if before is None:
        return
    changes = _diff(spec, before, _values(instance, list(before)))
    if not changes:
        return
    rotated = any(label in changes for label in spec.keys.values())
    _record(spec, instance, AuditEntry.Action.ROTATED if rotated else AuditEntry.Action.UPDATED, changes)


def _after_delete(sender: type[models.Model], instance: Any, origin: Any = None, **kwargs: Any) -> None:
    if _is_cascade(instance, origin):
        return
    _record(_SPECS[sender], instance, AuditEntry.Action.DELETED, {}, deleting=origin)


def _is_cascade(instance: Any, origin: Any) -> bool:
    """Whether this delete follows from deleting a workspace, or another audited object."""
    from pipelines.models import Workspace

    if origin is None:
        return False
    origin_model = origin.model if isinstance(origin, models.QuerySet) else type(origin)
    if issubclass(origin_model, Workspace):
        return True
    return origin_model in _SPECS and origin_model is not type(instance)


def _record(spec: _Spec, instance: Any, action: str, changes: dict[str, Any], deleting: Any = None) -> None:
    actor = current_actor()
    actor_id = actor.user.pk if actor.user is not None else None
    if actor_id is not None and isinstance(deleting, get_user_model()) and deleting.pk == actor_id:
        actor_id = None  # users deleting their own account: the row is going, the label stays
    AuditEntry.objects.create(
        workspace_id=spec.workspace_id(instance),
        actor_id=actor_id,
        actor_label=actor.label,
        channel=actor.channel,
        action=action,
        object_type=spec.object_type,
        object_id=instance.pk,
        object_name=spec.name(instance)[:300],
        changes=changes,
    )


def record_workspace_deletion(workspace: Any, changes: dict[str, Any] | None = None) -> AuditEntry:
    """Record that `workspace` is deleted (by the current actor) or, with `changes`, that its data is gone.
    The entry names no workspace (so it outlives it): object_id and object_name say which it was."""
    actor = current_actor()
    return AuditEntry.objects.create(
        workspace=None,
        actor_id=actor.user.pk if actor.user is not None else None,
        actor_label=actor.label,
        channel=actor.channel,
        action=AuditEntry.Action.DELETED,
        object_type=ObjectType.WORKSPACE,
        object_id=workspace.pk,
        object_name=f"{workspace.name} ({workspace.slug})"[:300],
        changes=changes or {},
    )


# --- what changed -------------------------------------------------------------------------------------


def _values(instance: Any, fields: list[str] | tuple[str, ...]) -> dict[str, Any]:
    return {f: getattr(instance, f) for f in fields}


def _diff(spec: _Spec, before: dict[str, Any] | None, after: dict[str, Any]) -> dict[str, Any]:
    """The changes from `before` (None: the object is new) to `after`, by field label.

    Plain fields give {"before", "after"}; secret fields only SECRET_CHANGED; a new object lists its
    non-empty plain fields and which secret settings it was given (its generated keys are not news)."""
    creating = before is None
    old = before or {}
    changes: dict[str, Any] = {}
    for f in spec.plain:
        if f not in after:
            continue
        if creating:
            if after[f] not in (None, "", {}, []):
                changes[f] = {"before": None, "after": _clip(after[f])}
        elif old.get(f) != after[f]:
            changes[f] = {"before": _clip(old.get(f)), "after": _clip(after[f])}
    if not creating:
        for f, label in spec.keys.items():
            if f in after and old.get(f) != after[f]:
                changes[label] = SECRET_CHANGED
    if spec.settings:
        changes.update(_settings_diff(after, old, creating))
    return changes


def _settings_diff(after: dict[str, Any], old: dict[str, Any], creating: bool) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    secret_keys = _secret_setting_keys(after.get("kind") or old.get("kind"))
    if "config" in after:
        old_config, new_config = old.get("config") or {}, after["config"] or {}
        for key in sorted(old_config.keys() | new_config.keys()):
            before_value, after_value = old_config.get(key), new_config.get(key)
            if before_value == after_value or (creating and after_value in (None, "")):
                continue
            if key in secret_keys:  # defensive: a secret never belongs in config, but never show one
                changes[f"settings.{key}"] = SECRET_CHANGED
            else:
                changes[f"settings.{key}"] = {"before": _clip(before_value), "after": _clip(after_value)}
    if "secrets_encrypted" in after and old.get("secrets_encrypted", "") != after["secrets_encrypted"]:
        for key in _changed_secret_keys(old.get("secrets_encrypted", ""), after["secrets_encrypted"]):
            changes[f"settings.{key}"] = SECRET_CHANGED
    return changes


def _secret_setting_keys(kind: str | None) -> set[str]:
    from destinations.catalog import get_definition

    try:
        return {f.key for f in get_definition(kind or "").settings if f.secret}
    except KeyError:
        return set()


def _changed_secret_keys(old_token: str, new_token: str) -> list[str]:
    """Which secret settings differ. Fernet tokens differ on every encryption, so both are decrypted and
    compared here, in memory; only the key names leave this function."""
    old, new = _decrypt(old_token), _decrypt(new_token)
    if old is None or new is None:
        return ["secrets"]  # unreadable under the current keys: say that the secrets changed, not which
    return sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))


def _decrypt(token: str) -> dict[str, Any] | None:
    from pipelines import crypto

    if not token:
        return {}
    try:
        return orjson.loads(crypto.decrypt(token))
    except ValueError:
        return None


def _clip(value: Any) -> Any:
    """The value as stored in an entry: JSON-safe, and cut to MAX_VALUE_CHARS when longer."""
    text = json.dumps(value, cls=DjangoJSONEncoder, ensure_ascii=False)
    if len(text) <= MAX_VALUE_CHARS:
        return json.loads(text)
    return text[:MAX_VALUE_CHARS] + "…"
