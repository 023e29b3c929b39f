"""Say clearly which server the test suite needs and is missing (exit 1)."""

from __future__ import annotations

import os
import sys
from urllib.parse import urlparse

PG = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/gimmanager")
REDIS = os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/14")


def main() -> int:
    import psycopg
    import redis

    missing = []
    url = urlparse(PG)
    try:
        psycopg.connect(host=url.hostname, port=url.port or 5432, user=url.username or "postgres",
                        dbname="postgres", connect_timeout=3).close()
    except Exception as exc:
        missing.append(f"PostgreSQL at {url.hostname}:{url.port or 5432} ({str(exc).strip().splitlines()[0]}).\n"
                       "  Start it: pg_ctlcluster --skip-systemctl-redirect 15 main start "
                       "(or set DATABASE_URL to a reachable server)")
    try:
        redis.Redis.from_url(REDIS, socket_connect_timeout=3).ping()
    except Exception as exc:
        missing.append(f"Redis at {REDIS} ({exc}).\n"
                       "  Start it: redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save '' "
                       "(or set CELERY_BROKER_URL)")
    for m in missing:
        print(f"MISSING: {m}", file=sys.stderr)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
