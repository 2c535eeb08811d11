from django.apps import AppConfig


class AudiencesConfig(AppConfig):
    name = "audiences"

    def ready(self) -> None:
        from profiles.signals import person_changed

        from . import receivers

        person_changed.connect(receivers.on_person_changed, dispatch_uid="audiences.person_changed")
