"""The People pages (namespace "profiles")."""

from django.urls import path

from . import views

app_name = "profiles"

urlpatterns = [
    path("w/<slug:slug>/people/", views.people, name="people"),
    path("w/<slug:slug>/people/<int:person_id>/", views.person_detail, name="person"),
]
