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
            history = importlib.import_module("profiles.history")
            history.register_window(people.window_days)
            history.register_needs(people.history_needs)
        except ImportError:
            pass
        if hasattr(state, "register_memberships"):
            state.register_memberships(people.memberships_of)
