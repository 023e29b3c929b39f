"""API routes, under /api/."""

from __future__ import annotations

from django.urls import path
from drf_spectacular.views import SpectacularAPIView

from console import api

app_name = "api"
urlpatterns = [
    path("token/", api.TokenView.as_view(), name="token"),
    path("runs/", api.runs, name="runs"),
    path("runs/<int:pk>/", api.run_detail, name="run"),
    path("runs/<int:pk>/stop/", api.run_stop, name="stop"),
    path("runs/<int:pk>/cancel/", api.run_cancel, name="cancel"),
    path("options/", api.options, name="options"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
]
