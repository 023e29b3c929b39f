"""Settings for the test suite: the real PostgreSQL and Redis of this machine.

Each default can be overridden from the environment, so several suites can
run side by side with their own database name and Redis database number.
"""

import os

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/gimmanager")
os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/14")
# A queue of its own per test session: stale messages of an earlier run can't reach this one's worker.
os.environ.setdefault("GIM_CELERY_QUEUE", f"gimtest-{os.getpid()}")
# Short timeouts so the bounds can be checked in seconds, not minutes.
os.environ.setdefault("GIM_HEARTBEAT_INTERVAL", "0.3")
os.environ.setdefault("GIM_HEARTBEAT_TIMEOUT", "3")
os.environ.setdefault("GIM_STOP_GRACE", "3")
os.environ.setdefault("GIM_PICKUP_TIMEOUT", "30")
os.environ.setdefault("GIM_VAR_DIR", f"/tmp/gimtest-var-{os.getpid()}")
# Playwright's sync API runs an event loop in the main thread; the ORM then
# refuses to run in the test body without this (verified in ../shared/stack.md).
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

from gimmanager.settings import *  # noqa: E402,F403

STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns about a missing folder
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast logins in tests
