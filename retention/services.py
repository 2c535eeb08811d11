"""Changing a workspace's retention policy: the settings page, the API and admin all call this."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from pipelines.models import Workspace

from .models import RetentionPolicy, policy_for

FIELDS = ("events_days", "deliveries_days", "counts_days", "counts_rollup_days")


@transaction.atomic
def update_policy(workspace: Workspace, values: dict[str, Any]) -> RetentionPolicy:
    """Set the given windows (days) of the workspace's policy, creating its row on first change.

    Raises django.core.exceptions.ValidationError (by field) for a value out of range or windows that
    contradict each other; nothing is saved then."""
    policy = policy_for(workspace)
    for name in FIELDS:
        if name in values:
            setattr(policy, name, values[name])
    policy.full_clean(exclude=["workspace"])
    policy.save()
    return policy
