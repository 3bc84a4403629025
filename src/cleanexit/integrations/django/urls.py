"""``path("auth/", include("cleanexit.integrations.django.urls"))``: the ``/auth/*`` routes."""

from __future__ import annotations

from django.urls import path

from . import views

__all__ = ["app_name", "urlpatterns"]

app_name = "cleanexit"
urlpatterns = [
    path("login", views.login, name="login"),
    path("refresh", views.refresh, name="refresh"),
    path("logout", views.logout, name="logout"),
    path("sessions", views.sessions, name="sessions"),
    path("sessions/<str:session_id>", views.end_session, name="end-session"),
    path("revoke", views.revoke, name="revoke"),
    path("introspect", views.introspect, name="introspect"),
    path("backchannel-logout", views.backchannel, name="backchannel-logout"),  # issue 11
]
