"""Prepare a database for use: roles, an administrator, and (with --demo) a
demonstration configuration and Interaction Database traffic. Idempotent."""

from __future__ import annotations

import os
import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from gimmanager.config.services import Changer, update_options

# A schedule that shows every job within minutes of `make run`, at any hour:
# a 2-minute ETL cycle from 04:00 to 02:30, maintenance in the 02:30-04:00 gap,
# aggregation outside maintenance, statistics and export on short schedules.
DEMO_OPTIONS = {
    "schedule": {
        "run-scheduler": "true", "etl-start-time": "04:00", "etl-end-time": "02:30", "etl-frequency": "2",
        "run-maintain": "true", "maintain-start-time": "03:00", "run-aggregates": "true",
        "aggregate-schedule": "0 4", "aggregate-duration": "22:00", "run-update-stats": "true",
        "update-stats-schedule": "0/10 *", "run-export": "true", "export-schedule": "0/30 *",
    },
    "gim-etl": {"aggregation-engine-class-name": "GIMAgg.GimInterfaceImpl.AggregationImpl"},
}


class Command(BaseCommand):
    help = "Create the roles and an administrator; with --demo also demo options and data (first time only)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--demo", action="store_true")

    def handle(self, *args: Any, **opts: Any) -> None:
        from console.roles import ensure_roles

        groups = ensure_roles()
        User = get_user_model()
        name = os.environ.get("GIM_ADMIN_USER", "admin")
        if not User.objects.filter(username=name).exists():
            password = os.environ.get("GIM_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
            user = User.objects.create_superuser(name, f"{name}@localhost", password)
            user.groups.add(groups["Administrator"])
            if not os.environ.get("GIM_ADMIN_PASSWORD"):
                path = settings.VAR_DIR / "admin-password"
                path.write_text(password + "\n")
                path.chmod(0o600)
            self.stdout.write(f"Created administrator {name!r}; password: {password}")
        else:
            self.stdout.write(f"Administrator {name!r} exists.")
        marker = settings.VAR_DIR / "demo-initialized"
        if opts["demo"] and not marker.exists():
            update_options(DEMO_OPTIONS, by=Changer(label="gim_bootstrap --demo", via="import"))
            if "idb_generate" in _commands():
                call_command("idb_generate", "--days", "2", "--interactions-per-hour", "120", "--agents", "20",
                             "--queues", "4", "--seed", "1", stdout=self.stdout)
            marker.write_text("done\n")
            self.stdout.write("Demo options set (run-scheduler = true, 2-minute ETL cycles).")


def _commands() -> set[str]:
    from django.core.management import get_commands

    return set(get_commands())
