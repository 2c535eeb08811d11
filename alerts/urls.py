"""The Alerts page (namespace "alerts")."""

from django.urls import path

from . import views

app_name = "alerts"

urlpatterns = [
    path("w/<slug:slug>/alerts/", views.alerts_page, name="alerts"),
    path("w/<slug:slug>/alerts/new/", views.rule_edit, name="new"),
    path("w/<slug:slug>/alerts/<int:pk>/", views.rule_edit, name="edit"),
    path("w/<slug:slug>/alerts/<int:pk>/delete/", views.rule_delete, name="delete"),
]
