"""Shared set-up for the benchmark scripts: a throwaway PostgreSQL database of their own."""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def use_database(name: str) -> None:
    """Point Django at a fresh database `name` on the server of DATABASE_URL (default: local PostgreSQL),
    dropped again when the script exits (a million-row history is half a gigabyte)."""
    import atexit

    import psycopg

    base = urlparse(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres"))

    def admin(*statements: str) -> None:
        with psycopg.connect(host=base.hostname, port=base.port or 5432, user=base.username or "postgres",
                             dbname="postgres", autocommit=True) as conn:
            for statement in statements:
                conn.execute(statement)

    def drop() -> None:
        from django.db import connections

        connections.close_all()
        admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"')
    atexit.register(drop)
    os.environ["DATABASE_URL"] = base._replace(path=f"/{name}").geturl()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gimmanager.settings")
    os.environ.setdefault("CELERY_BROKER_URL", "memory://")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def machine() -> str:
    cpus = os.cpu_count()
    mem = ""
    try:
        kb = int(next(line for line in open("/proc/meminfo") if line.startswith("MemTotal")).split()[1])
        mem = f", {kb / 1024 / 1024:.0f} GiB"
    except (OSError, StopIteration):
        pass
    return f"{platform.processor() or platform.machine()}, {cpus} cores{mem}, Python {platform.python_version()}"


def summary(what: str, figure: str, aim: str = "") -> None:
    """One line of the report's summary table; bench/run_all.py collects these lines."""
    print(f"SUMMARY\t{what}\t{figure}\t{aim}", flush=True)
