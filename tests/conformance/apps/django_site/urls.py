from __future__ import annotations

from django.urls import include, path

from . import views

urlpatterns = [
    path("auth/", include("cleanexit.integrations.django.urls")),
    path("me", views.Me.as_view()),
    path("me/plain", views.me_plain),
    path("me/async", views.me_async),
    path("orders", views.Orders.as_view()),
    path("healthz", views.healthz),
]
