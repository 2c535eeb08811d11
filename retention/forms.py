from __future__ import annotations

from typing import Any, ClassVar

from django import forms

from . import services
from .models import RetentionPolicy


class RetentionPolicyForm(forms.ModelForm):
    """The retention windows of the workspace settings page (validated by the model, as the API is)."""

    class Meta:
        model = RetentionPolicy
        fields = services.FIELDS
        labels: ClassVar[dict[str, str]] = {
            "events_days": "Events (days)",
            "deliveries_days": "Delivery records (days)",
            "counts_days": "Delivery counts (days)",
            "counts_rollup_days": "Per-minute counts rolled up to hourly after (days)",
        }
        widgets: ClassVar[dict[str, Any]] = {name: forms.NumberInput(attrs={"min": 1, "max": 3650}) for name in services.FIELDS}


class DeleteWorkspaceForm(forms.Form):
    """The settings page's danger zone: deleting the workspace, confirmed by typing its slug."""

    confirm_slug = forms.CharField(label="Type the workspace's slug to confirm", max_length=60,
                                   widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}))

    def __init__(self, *args: Any, slug: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.slug = slug
        self.fields["confirm_slug"].help_text = f"The slug is {slug}."

    def clean_confirm_slug(self) -> str:
        typed = self.cleaned_data["confirm_slug"].strip()
        if typed != self.slug:
            raise forms.ValidationError(f"That is not this workspace's slug. Type {self.slug} to delete it.")
        return typed
