from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class InfomartConfig(AppConfig):
    name = "infomart"
    verbose_name = "Info Mart"

    def ready(self) -> None:
        post_migrate.connect(deploy_aggregates, sender=self)


def deploy_aggregates(sender: AppConfig, using: str = "default", **kwargs: Any) -> None:
    """After migrate (and after a test flush): the AGT tables and AG2 views exist.

    RAA creates its aggregate objects when they are missing; doing it here as
    well lets reports and the console read the AG2 views before the first
    Job_AggregateGIM. A definition that changed rebuilds its tables (empty;
    the next Job_AggregateGIM re-aggregates them).
    """
    from django.db import DEFAULT_DB_ALIAS, connections, transaction

    from gimmanager import clock
    from infomart import hierarchies, sql

    conn = connections[using]
    with conn.cursor() as cur:
        if "ctl_agg_calendar" not in conn.introspection.table_names(cur):
            return  # the infomart migrations have not run on this database
    if using != DEFAULT_DB_ALIAS:
        return  # the jobs use the default database only
    with transaction.atomic(using=using):
        hierarchies.deploy(sql.epoch(clock.now()))
