"""Admin for sources, destinations, connections and actions.

Every save that changes pipeline state goes through connections.services, exactly like the UI and the
API. Secrets never reach a page: destination secrets are edited through write-only fields generated from
the catalog definition (empty = keep) and displayed masked; Track API keys are shown once, on issue.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Count, QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest
from django.utils.html import format_html

from destinations.catalog import choices as catalog_choices
from destinations.catalog import get_definition
from destinations.catalog.base import ActionDefinition, DestinationDefinition

from . import services
from .forms import clean_setting_values, setting_fields, setting_initial
from .models import Action, Connection, Destination, Source, SourceKind

# --- Connections (inline on both sides, and on their own) ------------------------------------------------


def _save_connection_formset(formset: BaseInlineFormSet) -> None:
    """Apply an inline formset of connections through the services (which enforce the pairing rules)."""
    formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
    for form in formset.deleted_forms:
        if form.instance.pk:
            services.disconnect(form.instance.source, form.instance.destination)
            formset.deleted_objects.append(form.instance)
    for form in formset.forms:
        if form in formset.deleted_forms or not form.has_changed():
            continue
        conn: Connection = form.instance
        if conn.pk is None:
            created = services.connect(conn.source, conn.destination)
            if created.enabled != conn.enabled:
                created.enabled = conn.enabled
                created.save(update_fields=["enabled"])
            formset.new_objects.append(created)
        else:
            conn.save(update_fields=["enabled"])
            formset.changed_objects.append((conn, ["enabled"]))


class SourceConnectionInline(admin.TabularInline):
    model = Connection
    fk_name = "source"
    fields = ["destination", "enabled", "created_at"]
    readonly_fields = ["created_at"]
    extra = 0
    verbose_name = "connected destination"
    verbose_name_plural = "connected destinations"

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        source = getattr(request, "_admin_source", None)
        if db_field.name == "destination" and source is not None:
            kwargs["queryset"] = Destination.objects.filter(workspace_id=source.workspace_id)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class DestinationConnectionInline(admin.TabularInline):
    model = Connection
    fk_name = "destination"
    fields = ["source", "enabled", "created_at"]
    readonly_fields = ["created_at"]
    extra = 0
    verbose_name = "connected source"
    verbose_name_plural = "connected sources"

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        destination = getattr(request, "_admin_destination", None)
        if db_field.name == "source" and destination is not None:
            kwargs["queryset"] = Source.objects.filter(workspace_id=destination.workspace_id)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(Connection)
class ConnectionAdmin(admin.ModelAdmin):
    list_display = ["__str__", "workspace", "enabled", "created_at"]
    list_filter = ["enabled", "destination__kind", "source__kind"]
    search_fields = ["source__name", "destination__name", "source__workspace__slug"]
    list_select_related = ["source__workspace", "destination"]
    autocomplete_fields = ["source", "destination"]
    fields = ["source", "destination", "enabled", "created_at"]
    readonly_fields = ["created_at"]

    @admin.display(ordering="source__workspace__name")
    def workspace(self, conn: Connection) -> Any:
        return conn.source.workspace

    def get_readonly_fields(self, request: HttpRequest, obj: Connection | None = None) -> list[str]:
        return ["source", "destination", "created_at"] if obj else ["created_at"]

    def save_model(self, request: HttpRequest, obj: Connection, form: Any, change: bool) -> None:
        if change:
            obj.save(update_fields=["enabled"])
            return
        created = services.connect(obj.source, obj.destination)
        if created.enabled != obj.enabled:
            created.enabled = obj.enabled
            created.save(update_fields=["enabled"])
        obj.pk = created.pk
        obj._state.adding = False

    def delete_model(self, request: HttpRequest, obj: Connection) -> None:
        services.disconnect(obj.source, obj.destination)


# --- Sources --------------------------------------------------------------------------------------------


@admin.register(Source)
class SourceAdmin(admin.ModelAdmin):
    list_display = ["display_name", "kind", "workspace", "enabled", "client_side", "destination_count", "created_at"]
    list_filter = ["kind", "enabled", "workspace"]
    search_fields = ["name", "workspace__slug", "workspace__name", "=write_key", "=site_id"]
    search_help_text = "Name, workspace, or an exact write key / Track API site id."
    list_select_related = ["workspace"]
    inlines = [SourceConnectionInline]
    actions = ["rotate_keys"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Source]:
        return super().get_queryset(request).annotate(n_destinations=Count("connections", distinct=True))

    @admin.display(boolean=True, description="client-side")
    def client_side(self, source: Source) -> bool:
        return source.is_client_side

    @admin.display(description="destinations", ordering="n_destinations")
    def destination_count(self, source: Source) -> int:
        return source.n_destinations

    def get_fields(self, request: HttpRequest, obj: Source | None = None) -> list[str]:
        fields = ["workspace", "name", "kind", "enabled"]
        if obj:
            fields += ["write_key"] + (["site_id"] if obj.kind == SourceKind.JOURNEYS_TRACK_API else [])
            fields += ["created_at", "updated_at"]
        return fields

    def get_readonly_fields(self, request: HttpRequest, obj: Source | None = None) -> list[str]:
        # A source never moves between workspaces or changes kind; its credentials only rotate.
        return ["workspace", "kind", "write_key", "site_id", "created_at", "updated_at"] if obj else []

    def get_inline_instances(self, request: HttpRequest, obj: Source | None = None) -> list[Any]:
        request._admin_source = obj  # type: ignore[attr-defined]
        return super().get_inline_instances(request, obj) if obj else []

    def save_model(self, request: HttpRequest, obj: Source, form: Any, change: bool) -> None:
        if change:
            services.update_source(obj, name=obj.name, enabled=obj.enabled)
            return
        created, api_key = services.create_source(obj.workspace, name=obj.name, kind=obj.kind)
        if not obj.enabled:
            services.update_source(created, enabled=False)
        obj.pk = created.pk
        obj.refresh_from_db()
        obj._state.adding = False
        if api_key:
            self.message_user(request, _api_key_message(created, api_key), messages.WARNING)

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        _save_connection_formset(formset)

    @admin.action(description="Rotate write key (Track API sources: API key)")
    def rotate_keys(self, request: HttpRequest, queryset: QuerySet[Source]) -> None:
        rotated = 0
        for source in queryset.select_related("workspace"):
            secret = services.rotate_source_key(source)
            if source.kind == SourceKind.JOURNEYS_TRACK_API:
                self.message_user(request, _api_key_message(source, secret), messages.WARNING)
            else:
                rotated += 1
        if rotated:
            self.message_user(request, f"Rotated the write key of {rotated} source(s); the old keys no longer work.")


def _api_key_message(source: Source, api_key: str) -> str:
    return (
        f"Track API credentials of “{source.display_name}”: site id {source.site_id}, API key {api_key}. "
        "Copy the API key now: it is stored hashed and will not be shown again."
    )


# --- Destinations ---------------------------------------------------------------------------------------

SETTING_PREFIX = "setting__"


class DestinationAdminForm(forms.ModelForm):
    """Name, enabled and the settings of one catalog type; subclassed per type by `for_definition`."""

    definition: DestinationDefinition

    class Meta:
        model = Destination
        fields = ["workspace", "name", "kind", "enabled"]

    @classmethod
    def for_definition(cls, definition: DestinationDefinition, masked: dict[str, Any]) -> type:
        """The form class for one type: its setting fields (connections.forms.setting_fields, the factory the
        UI's settings form uses too) declared on the class, so admin's fieldsets can name them."""
        attrs: dict[str, Any] = {"definition": definition, **setting_fields(definition, masked, SETTING_PREFIX)}
        return type(f"DestinationAdminForm_{definition.key}", (cls,), attrs)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "kind" in self.fields:
            self.fields["kind"] = forms.ChoiceField(
                choices=catalog_choices(), initial=self.definition.key,
                help_text="After changing the type, save once: the form then shows that type's settings.",
            )
        stored = self.instance.config if self.instance.pk else {}
        for key, value in setting_initial(self.definition, stored, SETTING_PREFIX).items():
            self.initial.setdefault(key, value)
        # Admin marks required inputs by Django's `required` (bold labels); a stored secret left empty
        # is kept, so it is not required. The message is the catalog's own ("This field is required.").
        kept = self.instance.secret_values if self.instance.pk else {}
        for setting in self.definition.settings:
            if setting.required and setting.type != "boolean" and not kept.get(setting.key):
                self.fields[SETTING_PREFIX + setting.key].required = True

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if "kind" in self.fields and cleaned.get("kind") and cleaned["kind"] != self.definition.key:
            raise ValidationError("The type changed: check its settings below and save again.")
        existing = self.instance.settings if self.instance.pk else None
        settings = clean_setting_values(self, self.definition, existing, SETTING_PREFIX)
        if settings is not None:
            self.cleaned_settings = settings
        return cleaned


class ActionInlineForm(forms.ModelForm):
    class Meta:
        model = Action
        fields = ["kind", "name", "trigger", "mapping", "enabled", "position"]
        widgets = {"trigger": forms.Textarea(attrs={"rows": 2, "cols": 50})}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk and "kind" in self.fields:
            self.fields["kind"].disabled = True  # an action keeps its kind; add another action instead

    def clean(self) -> dict[str, Any]:
        """The trigger and the mapping are checked by services.validate_action, as in the UI and the API;
        a required field left unmapped is reported on the mapping, named by its key."""
        cleaned = super().clean()
        action_def = self._action_definition(cleaned.get("kind") or self.instance.kind)
        mapping = cleaned.get("mapping")
        if mapping in (None, {}) and self.instance.pk is None and action_def is not None:
            mapping = cleaned["mapping"] = action_def.default_mapping()  # a new action: the catalog's mapping
        try:
            services.validate_action(action_def, trigger=cleaned.get("trigger"), mapping=mapping)
        except ValidationError as exc:
            for key, messages_ in exc.message_dict.items():
                if key.startswith("mapping."):
                    self.add_error("mapping", [f"{key[len('mapping.'):]}: {m}" for m in messages_])
                else:
                    self.add_error(key if key in self.fields else None, messages_)
        return cleaned

    def _action_definition(self, kind: str) -> ActionDefinition | None:
        destination = getattr(self.instance, "destination", None) if self.instance.destination_id else None
        if destination is None:
            return None
        try:
            return destination.definition.action(kind)
        except KeyError:
            return None


class ActionInline(admin.StackedInline):
    model = Action
    form = ActionInlineForm
    extra = 0
    fields = [("kind", "name", "enabled", "position"), "trigger", "mapping"]
    show_change_link = True

    def get_formset(self, request: HttpRequest, obj: Destination | None = None, **kwargs: Any) -> Any:
        formset = super().get_formset(request, obj, **kwargs)
        if obj is not None:
            kinds = [(a.key, a.title) for a in obj.definition.actions]
            formset.form.base_fields["kind"] = forms.ChoiceField(choices=kinds, label="Action")
        return formset

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return []


class KindFilter(admin.SimpleListFilter):
    title = "type"
    parameter_name = "kind"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return catalog_choices()

    def queryset(self, request: HttpRequest, queryset: QuerySet[Destination]) -> QuerySet[Destination]:
        return queryset.filter(kind=self.value()) if self.value() else queryset


@admin.register(Destination)
class DestinationAdmin(admin.ModelAdmin):
    list_display = ["name", "type_name", "mode", "workspace", "enabled", "source_count", "action_count", "updated_at"]
    list_filter = [KindFilter, "mode", "enabled", "workspace"]
    search_fields = ["name", "kind", "workspace__slug", "workspace__name"]
    list_select_related = ["workspace"]
    inlines = [DestinationConnectionInline, ActionInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Destination]:
        return super().get_queryset(request).annotate(
            n_sources=Count("connections", distinct=True), n_actions=Count("actions", distinct=True)
        )

    @admin.display(description="type", ordering="kind")
    def type_name(self, destination: Destination) -> str:
        try:
            return destination.definition.name
        except KeyError:
            return f"{destination.kind} (unknown type)"

    @admin.display(description="sources", ordering="n_sources")
    def source_count(self, destination: Destination) -> int:
        return destination.n_sources

    @admin.display(description="actions", ordering="n_actions")
    def action_count(self, destination: Destination) -> int:
        return destination.n_actions

    @admin.display(description="Stored settings (secrets masked)")
    def masked_settings_display(self, destination: Destination) -> str:
        return format_html("<pre>{}</pre>", json.dumps(destination.masked_settings(), indent=2, ensure_ascii=False))

    def _definition(self, request: HttpRequest, obj: Destination | None) -> DestinationDefinition:
        if obj is not None:
            return obj.definition
        wanted = request.POST.get("kind") or request.GET.get("kind") or ""
        try:
            return get_definition(wanted)
        except KeyError:
            keys = [k for k, _ in catalog_choices()]
            return get_definition("webhook" if "webhook" in keys else keys[0])

    def get_form(self, request: HttpRequest, obj: Destination | None = None, change: bool = False,
                 **kwargs: Any) -> Any:
        masked = obj.masked_settings() if obj is not None else {}
        kwargs["form"] = DestinationAdminForm.for_definition(self._definition(request, obj), masked)
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fieldsets(self, request: HttpRequest, obj: Destination | None = None) -> list[Any]:
        definition = self._definition(request, obj)
        setting_fields = [SETTING_PREFIX + f.key for f in definition.settings]
        fieldsets: list[Any] = [
            (None, {"fields": ["workspace", "name", "kind", "mode", "enabled"]}),
            (f"{definition.name} settings", {"fields": setting_fields}),
        ]
        if obj is not None:
            fieldsets.append(("Stored", {"fields": ["masked_settings_display", "created_at", "updated_at"]}))
        else:
            fieldsets[0][1]["description"] = (
                "The type's default actions are added when you save. Other types: "
                + ", ".join(f"<a href='?kind={k}'>{name}</a>" for k, name in catalog_choices())
            )
        return fieldsets

    def get_readonly_fields(self, request: HttpRequest, obj: Destination | None = None) -> list[str]:
        fixed = ["mode", "masked_settings_display", "created_at", "updated_at"]
        return ["workspace", "kind", *fixed] if obj else fixed

    def get_inline_instances(self, request: HttpRequest, obj: Destination | None = None) -> list[Any]:
        request._admin_destination = obj  # type: ignore[attr-defined]
        return super().get_inline_instances(request, obj) if obj else []

    def save_model(self, request: HttpRequest, obj: Destination, form: Any, change: bool) -> None:
        if change:
            services.update_destination(obj, name=obj.name, settings=form.cleaned_settings, enabled=obj.enabled)
            return
        created = services.create_destination(
            form.cleaned_data["workspace"], name=obj.name, kind=form.definition.key,
            settings=form.cleaned_settings, enabled=obj.enabled,
        )
        obj.pk = created.pk
        obj.refresh_from_db()
        obj._state.adding = False

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        if formset.model is Connection:
            _save_connection_formset(formset)
        else:
            _save_action_formset(formset, form.instance)


def _save_action_formset(formset: BaseInlineFormSet, destination: Destination) -> None:
    formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
    for form in formset.deleted_forms:
        if form.instance.pk:
            form.instance.delete()
            formset.deleted_objects.append(form.instance)
    for form in formset.forms:
        if form in formset.deleted_forms or not form.has_changed():
            continue
        data = form.cleaned_data
        if form.instance.pk is None:
            formset.new_objects.append(services.add_action(
                destination, kind=data["kind"], name=data.get("name") or None, trigger=data["trigger"],
                mapping=data.get("mapping"), enabled=data.get("enabled", True),
            ))
        else:
            changed = [f for f in form.changed_data if f in ("name", "trigger", "mapping", "enabled", "position")]
            services.update_action(Action.objects.get(pk=form.instance.pk), **{f: data[f] for f in changed})
            formset.changed_objects.append((form.instance, changed))


# --- Actions on their own ---------------------------------------------------------------------------------


@admin.register(Action)
class ActionAdmin(admin.ModelAdmin):
    form = ActionInlineForm
    list_display = ["name", "kind", "destination", "workspace", "enabled", "position", "updated_at"]
    list_filter = ["enabled", "destination__kind", "destination__workspace"]
    search_fields = ["name", "kind", "trigger", "destination__name", "destination__workspace__slug"]
    list_select_related = ["destination__workspace"]
    fields = ["destination", "kind", "name", "trigger", "mapping", "enabled", "position", "created_at", "updated_at"]
    readonly_fields = ["destination", "kind", "created_at", "updated_at"]

    @admin.display(ordering="destination__workspace__name")
    def workspace(self, action: Action) -> Any:
        return action.destination.workspace

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # actions are added on their destination's page, where the type's actions are known

    def save_model(self, request: HttpRequest, obj: Action, form: Any, change: bool) -> None:
        fields = ("name", "trigger", "mapping", "enabled", "position")
        current = Action.objects.get(pk=obj.pk)
        services.update_action(current, **{f: getattr(obj, f) for f in fields if f in form.changed_data})
