"""Console views, one module per page; the URLconf imports them from here."""

from __future__ import annotations

from console.views.audit import audit
from console.views.config import config, config_preview, config_save
from console.views.decisions import decisions
from console.views.detail import run_detail, run_live, run_log_text
from console.views.etl import etl_status
from console.views.history import home
from console.views.run import reaggregate, reaggregate_check, run_job
from console.views.schedule import schedule
from console.views.stop import cancel_run, stop_run, stop_selected

__all__ = [
    "audit", "cancel_run", "config", "config_preview", "config_save", "decisions", "etl_status", "home",
    "reaggregate", "reaggregate_check", "run_detail", "run_job", "run_live", "run_log_text", "schedule",
    "stop_run", "stop_selected",
]
