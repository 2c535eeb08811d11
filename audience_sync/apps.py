from django.apps import AppConfig


class AudienceSyncConfig(AppConfig):
    name = "audience_sync"
    verbose_name = "Audience sync"
