"""The Connections web UI (namespace "connections"), plus the login/logout pages it needs."""

from django.contrib.auth import views as auth_views
from django.urls import include, path

from .views import destination_filters, overview, source_pages, webhook_pages, wizard
from .views import destination_pages as dest

ui_patterns = [
    path("", overview.home, name="home"),
    path("w/<slug:slug>/connections/", overview.connections_page, name="connections"),
    # Add Destination wizard
    path("w/<slug:slug>/destinations/new/", wizard.start, name="add-destination-start"),
    path("w/<slug:slug>/destinations/new/cancel/", wizard.cancel, name="add-destination-cancel"),
    path("w/<slug:slug>/destinations/new/<str:step>/", wizard.step_view, name="add-destination"),
    # Destination pages
    path("w/<slug:slug>/destinations/<int:pk>/", dest.overview, name="destination"),
    path("w/<slug:slug>/destinations/<int:pk>/toggle/", dest.toggle_destination, name="destination-toggle"),
    path("w/<slug:slug>/destinations/<int:pk>/sources/add/", dest.add_source, name="destination-add-source"),
    path("w/<slug:slug>/destinations/<int:pk>/sources/<int:source_id>/remove/", dest.remove_source,
         name="destination-remove-source"),
    path("w/<slug:slug>/destinations/<int:pk>/delete/", dest.delete_destination, name="destination-delete"),
    path("w/<slug:slug>/destinations/<int:pk>/settings/", dest.settings_tab, name="destination-settings"),
    path("w/<slug:slug>/destinations/<int:pk>/actions/", dest.actions_tab, name="destination-actions"),
    path("w/<slug:slug>/destinations/<int:pk>/actions/<int:action_id>/", dest.action_page, name="action"),
    path("w/<slug:slug>/destinations/<int:pk>/actions/<int:action_id>/toggle/", dest.toggle_action,
         name="action-toggle"),
    path("w/<slug:slug>/destinations/<int:pk>/actions/<int:action_id>/delete/", dest.delete_action,
         name="action-delete"),
    path("w/<slug:slug>/destinations/<int:pk>/delivery/", dest.delivery_tab, name="destination-delivery"),
    path("w/<slug:slug>/destinations/<int:pk>/filters/", destination_filters.filters_tab, name="destination-filters"),
    # Sources
    path("w/<slug:slug>/sources/new/", source_pages.add_source, name="add-source"),
    path("w/<slug:slug>/sources/new/<str:kind>/", source_pages.name_source, name="add-source-name"),
    path("w/<slug:slug>/sources/<int:pk>/", source_pages.source_page, name="source"),
    path("w/<slug:slug>/sources/<int:pk>/setup/", source_pages.setup, name="source-setup"),
    path("w/<slug:slug>/sources/<int:pk>/rotate/", source_pages.rotate_key, name="source-rotate"),
    path("w/<slug:slug>/sources/<int:pk>/rename/", source_pages.rename_source, name="source-rename"),
    path("w/<slug:slug>/sources/<int:pk>/toggle/", source_pages.toggle_source, name="source-toggle"),
    path("w/<slug:slug>/sources/<int:pk>/delete/", source_pages.delete_source, name="source-delete"),
    path("w/<slug:slug>/sources/<int:pk>/webhook/", webhook_pages.webhook_tab, name="source-webhook"),
    path("w/<slug:slug>/sources/<int:pk>/webhook/signature/", webhook_pages.webhook_signature,
         name="source-webhook-signature"),
    path("w/<slug:slug>/sources/<int:pk>/webhook/reprocess/", webhook_pages.webhook_reprocess,
         name="source-webhook-reprocess"),
    path("w/<slug:slug>/sources/<int:pk>/events.json", source_pages.events_feed, name="source-events"),
]

# Login and logout keep the un-namespaced names ("login", "logout") that settings.LOGIN_URL uses; the
# pages themselves live under the "connections" namespace.
urlpatterns = [
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", include((ui_patterns, "connections"))),
]
