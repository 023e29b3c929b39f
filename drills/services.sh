#!/usr/bin/env bash
# Throwaway PostgreSQL + Redis for the fault drills, on their own ports (copy of the verified
# script in ../shared/stack.md, section 3). The drills stop and restart THESE servers, never
# the machine's shared PostgreSQL (5432) or Redis (6379).
# usage: services.sh start|stop|status|pg-stop|pg-start|redis-stop|redis-start
#   (env: SVC_DIR, PGPORT, REDIS_PORT)
set -euo pipefail
SVC_DIR=${SVC_DIR:-/tmp/gim-drills/svc}; PGPORT=${PGPORT:-5441}; REDIS_PORT=${REDIS_PORT:-6391}
PGDATA=$SVC_DIR/pgdata
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
pgbin() { PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1); }
ensure_installed() {
  local need=()
  command -v redis-server >/dev/null || need+=(redis-server)
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
  if [ ${#need[@]} -gt 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  fi
  pgbin
}
pg_start() {
  pgbin
  as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -l "$SVC_DIR/pg.log" -w -t 30 start -o \
    "-p $PGPORT -k $SVC_DIR -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" >/dev/null
}
pg_stop() { pgbin; [ -f "$PGDATA/postmaster.pid" ] && as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -m "${PG_STOP_MODE:-fast}" -w stop >/dev/null || true; }
redis_start() {
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no --daemonize yes \
    --dir "$SVC_DIR" --pidfile "$SVC_DIR/redis.pid" --logfile "$SVC_DIR/redis.log"
  for _ in $(seq 1 100); do redis-cli -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG && break; sleep 0.1; done
}
redis_stop() { redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true; }
start() {
  ensure_installed
  mkdir -p "$SVC_DIR"; [ "$(id -u)" = 0 ] && chown postgres:postgres "$SVC_DIR"
  [ -s "$PGDATA/PG_VERSION" ] || as_pg "$PGBIN/initdb" -D "$PGDATA" -U postgres -A trust -E UTF8 --locale=C.UTF-8 --no-sync >/dev/null
  pg_isready -q -h 127.0.0.1 -p "$PGPORT" || pg_start
  redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 || redis_start
  echo "DATABASE_URL=postgres://postgres@127.0.0.1:$PGPORT/postgres"; echo "REDIS_URL=redis://127.0.0.1:$REDIS_PORT/0"
}
stop() { PG_STOP_MODE=immediate pg_stop; redis_stop; }
status() { redis-cli -p "$REDIS_PORT" ping || true; pg_isready -h 127.0.0.1 -p "$PGPORT" || true; }
case "${1:-start}" in
  start) start ;; stop) stop ;; status) status ;;
  pg-stop) pg_stop ;; pg-start) pg_start ;; redis-stop) redis_stop ;; redis-start) redis_start ;;
  *) echo "usage: $0 start|stop|status|pg-stop|pg-start|redis-stop|redis-start" >&2; exit 2 ;;
esac
