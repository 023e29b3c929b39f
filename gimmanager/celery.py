"""The Celery application. Workers: `celery -A gimmanager.celery worker`."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gimmanager.settings")

app = Celery("gimmanager")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["gimmanager.jobs"])
