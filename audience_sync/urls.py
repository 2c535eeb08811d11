"""The audience page's Destinations section: its forms post here (namespace "audience-sync")."""

from django.urls import path

from . import views

app_name = "audience-sync"

urlpatterns = [
    path("w/<slug:slug>/audiences/<int:pk>/destinations/", views.connect, name="connect"),
    path("w/<slug:slug>/audiences/<int:pk>/destinations/<int:destination_id>/", views.change, name="change"),
]
