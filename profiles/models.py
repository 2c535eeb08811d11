"""STAND-IN: one row per person, the compact state as JSON (the real app has its own tables)."""

from django.db import models

from pipelines.models import Workspace


class Person(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="people")
    state = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)
