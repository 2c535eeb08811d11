"""The Privacy page (namespace "privacy")."""

from django.urls import path

from . import views

app_name = "privacy"

urlpatterns = [
    path("w/<slug:slug>/privacy/", views.privacy_page, name="privacy"),
]
