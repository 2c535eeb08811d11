from django.apps import AppConfig


class PipelinesConfig(AppConfig):
    name = "pipelines"
    verbose_name = "Workspaces"

    def ready(self) -> None:
        from . import security_checks  # noqa: F401 - registers the deployment checks
