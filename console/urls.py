from __future__ import annotations

from django.urls import path

from console import views

app_name = "console"
urlpatterns = [
    path("", views.home, name="home"),
    path("run/", views.run_job, name="run-job"),
    path("reaggregate/", views.reaggregate, name="reaggregate"),
    path("reaggregate/check/", views.reaggregate_check, name="reaggregate-check"),
    path("stop/", views.stop_selected, name="stop-selected"),
    path("runs/<int:pk>/", views.run_detail, name="run-detail"),
    path("runs/<int:pk>/live/", views.run_live, name="run-live"),
    path("runs/<int:pk>/log.txt", views.run_log_text, name="run-log"),
    path("runs/<int:pk>/stop/", views.stop_run, name="stop-run"),
    path("runs/<int:pk>/cancel/", views.cancel_run, name="cancel-run"),
    path("schedule/", views.schedule, name="schedule"),
    path("etl/", views.etl_status, name="etl-status"),
    path("decisions/", views.decisions, name="decisions"),
    path("config/", views.config, name="config"),
    path("config/save/", views.config_save, name="config-save"),
    path("config/preview/", views.config_preview, name="config-preview"),
    path("audit/", views.audit, name="audit"),
]
