"""The Audiences pages (namespace "audiences")."""

from django.urls import path

from . import views

app_name = "audiences"

urlpatterns = [
    path("w/<slug:slug>/audiences/", views.audience_list, name="list"),
    path("w/<slug:slug>/audiences/new/", views.audience_new, name="new"),
    path("w/<slug:slug>/audiences/<int:pk>/", views.audience_detail, name="detail"),
    path("w/<slug:slug>/audiences/<int:pk>/delete/", views.audience_delete, name="delete"),
]
