from django.apps import AppConfig


class AudiencesConfig(AppConfig):
    name = "audiences"

    def ready(self) -> None:
        import importlib

        from profiles import state
        from profiles.signals import person_changed

        from . import people, receivers

        person_changed.connect(receivers.on_person_changed, dispatch_uid="audiences.person_changed")
        # The profile store keeps per-day history as long as our longest window, and shows memberships.
        try:
            importlib.import_module("profiles.history").register_window(people.window_days)
        except ImportError:
            pass
        if hasattr(state, "register_memberships"):
            state.register_memberships(people.memberships_of)
