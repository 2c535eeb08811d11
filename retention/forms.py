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
