from typing import Any

from django.apps import AppConfig


class AudienceSyncConfig(AppConfig):
    name = "audience_sync"
    verbose_name = "Audience sync"

    def ready(self) -> None:
        from django.db.models.signals import post_delete

        from .models import AudienceDestination

        post_delete.connect(_drop_source, sender=AudienceDestination, dispatch_uid="audience_sync.drop_source")


def _drop_source(sender: Any, instance: Any, **_: Any) -> None:
    """A connection gone (disconnected, or its audience or destination deleted): its internal source, the
    source's events and their delivery records go too, so nothing is left feeding anything."""
    from connections.models import Source

    Source.objects.filter(pk=instance.source_id).delete()
