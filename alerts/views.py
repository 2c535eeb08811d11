"""The Alerts page (/w/<slug>/alerts/): the rules and the incident history; the rule form (new and edit)
and delete. Viewers read; admins change. The form calls the same services as the API."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST

from connections.models import Destination, Source
from connections.views.access import render_page
from pipelines.models import Membership, Workspace
from pipelines.tenancy import get_workspace

from . import services
from .models import AlertIncident, AlertRule, RuleKind

ADMIN = Membership.Role.ADMIN


class AlertRuleForm(forms.Form):
    name = forms.CharField(max_length=200, widget=forms.TextInput(attrs={"placeholder": "Warehouse failing"}))
    kind = forms.ChoiceField(label="Alert when", choices=RuleKind.choices)
    destination = forms.ModelChoiceField(queryset=Destination.objects.none(), required=False,
                                         help_text="For the destination rules.")
    source = forms.ModelChoiceField(queryset=Source.objects.none(), required=False,
                                    help_text="For the volume rule.")
    window_minutes = forms.IntegerField(label="Window (minutes)", initial=15, min_value=1,
                                        max_value=services.MAX_WINDOW_MINUTES,
                                        help_text="How far back each check looks (not used by the circuit rule).")
    threshold_percent = forms.FloatField(label="Failure rate above (%)", required=False, initial=10,
                                         help_text="Failure rate rule: failed or retrying attempts, as a share.")
    min_events = forms.IntegerField(label="Minimum attempts", initial=10, min_value=1, required=False,
                                    help_text="Failure rate rule: fewer attempts in the window never fire.")
    min_volume = forms.IntegerField(label="At least (events)", required=False, min_value=0,
                                    help_text="Volume rule: fire below this many events in the window.")
    max_volume = forms.IntegerField(label="At most (events)", required=False, min_value=0,
                                    help_text="Volume rule: fire above this many events in the window.")
    emails = forms.CharField(label="Email", required=False,
                             help_text="Addresses to notify, separated by commas.")
    slack_url = forms.CharField(label="Slack webhook URL", required=False, max_length=2000,
                                help_text="A Slack-compatible incoming webhook. Stored encrypted; shown masked.")
    enabled = forms.BooleanField(required=False, initial=True)

    def __init__(self, workspace: Workspace, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["destination"].queryset = Destination.objects.filter(workspace=workspace)  # type: ignore[attr-defined]
        self.fields["source"].queryset = Source.objects.filter(workspace=workspace)  # type: ignore[attr-defined]

    def clean_emails(self) -> list[str]:
        return [e.strip() for e in self.cleaned_data["emails"].split(",") if e.strip()]

    def values(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        if data["min_events"] is None:
            data["min_events"] = 10
        return data


def _apply_errors(form: forms.Form, exc: ValidationError) -> None:
    for field, errors in exc.message_dict.items():
        form.add_error(field if field in form.fields else None, errors)


@login_required
def alerts_page(request: HttpRequest, slug: str) -> HttpResponse:
    workspace = get_workspace(request.user, slug)
    rules = AlertRule.objects.filter(workspace=workspace).select_related("destination", "source")
    open_ids = set(AlertIncident.objects.filter(rule__workspace=workspace, recovered_at__isnull=True)
                   .values_list("rule_id", flat=True))
    incidents = AlertIncident.objects.filter(rule__workspace=workspace).select_related("rule")[:100]
    return render_page(request, workspace, "alerts/alerts.html", {
        "nav": "alerts", "rules": rules, "open_ids": open_ids, "incidents": incidents,
        "can_edit": workspace.role.includes(ADMIN)})


@login_required
def rule_edit(request: HttpRequest, slug: str, pk: int | None = None) -> HttpResponse:
    """GET shows the form (new, or a rule's: read-only for viewers); POST saves (admin)."""
    workspace = get_workspace(request.user, slug, at_least=ADMIN if request.method == "POST" or pk is None
                              else Membership.Role.VIEWER)
    rule = get_object_or_404(AlertRule, workspace=workspace, pk=pk) if pk is not None else None
    initial: dict[str, Any] = {}
    if rule is not None:
        initial = {f: getattr(rule, f) for f in services.FIELDS if f not in ("slack_url", "emails")}
        initial["emails"] = ", ".join(rule.emails)
        initial["slack_url"] = rule.masked_slack_url
    form = AlertRuleForm(workspace, request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            if rule is None:
                rule = services.create_rule(workspace, form.values())
            else:
                services.update_rule(rule, form.values())
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, f"Alert rule “{rule.name}” saved.")
            return redirect("alerts:alerts", slug=workspace.slug)
    can_edit = workspace.role.includes(ADMIN)
    if not can_edit:
        for field in form.fields.values():
            field.disabled = True
    return render_page(request, workspace, "alerts/rule.html", {
        "nav": "alerts", "form": form, "rule": rule, "can_edit": can_edit,
    }, status=400 if form.errors else 200)


@login_required
@require_POST
def rule_delete(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    workspace = get_workspace(request.user, slug, at_least=ADMIN)
    rule = get_object_or_404(AlertRule, workspace=workspace, pk=pk)
    services.delete_rule(rule)
    messages.success(request, f"Alert rule “{rule.name}” deleted.")
    return redirect("alerts:alerts", slug=workspace.slug)
