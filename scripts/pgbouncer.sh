#!/usr/bin/env bash
# A PgBouncer in transaction mode in front of the local Postgres, for the test suite's pooled
# pass (npm run test:pooled) and for trying the service behind a pooler by hand.
#   scripts/pgbouncer.sh start   # listens on 127.0.0.1:${PGBOUNCER_PORT:-6432}
#   scripts/pgbouncer.sh stop
# Loopback only and auth_type = any: every client is let in, as the postgres user. Never expose it.
set -euo pipefail

PORT="${PGBOUNCER_PORT:-6432}"
TARGET_HOST="${PGBOUNCER_TARGET_HOST:-127.0.0.1}"
TARGET_PORT="${PGBOUNCER_TARGET_PORT:-5432}"
DIR="${PGBOUNCER_DIR:-${TMPDIR:-/tmp}/bulk-import-pgbouncer-$PORT}"
BIN="$(command -v pgbouncer || echo /usr/sbin/pgbouncer)"

# PgBouncer refuses to run as root; the postgres user that Debian's packages create will do.
as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start() {
  [ -x "$BIN" ] || { echo "pgbouncer is not installed (apt-get install -y pgbouncer)" >&2; exit 1; }
  if [ -f "$DIR/pgbouncer.pid" ] && kill -0 "$(cat "$DIR/pgbouncer.pid")" 2>/dev/null; then
    echo "pgbouncer already running on 127.0.0.1:$PORT (pid $(cat "$DIR/pgbouncer.pid"))"; return
  fi
  if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
    echo "127.0.0.1:$PORT is already taken by another process (Debian's own pgbouncer service?); set PGBOUNCER_PORT" >&2; exit 1
  fi
  mkdir -p "$DIR"
  cat > "$DIR/pgbouncer.ini" <<INI
[databases]
* = host=$TARGET_HOST port=$TARGET_PORT user=${PGBOUNCER_TARGET_USER:-postgres}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $PORT
unix_socket_dir =
pool_mode = transaction
auth_type = any
; Test files run in parallel, each with its servers' pools; clients wait for a server connection,
; so the client limit is what must be generous, the server pool only large enough to keep up.
max_client_conn = 2000
default_pool_size = 20
max_db_connections = 0
server_idle_timeout = 10
; The suite creates and drops a database per test file.
server_check_delay = 0
ignore_startup_parameters = extra_float_digits
logfile = $DIR/pgbouncer.log
pidfile = $DIR/pgbouncer.pid
INI
  if [ "$(id -u)" = 0 ]; then chown -R postgres "$DIR"; fi
  as_owner "$BIN" -d "$DIR/pgbouncer.ini"
  for _ in $(seq 1 50); do
    pg_isready -h 127.0.0.1 -p "$PORT" -q && { echo "pgbouncer on 127.0.0.1:$PORT (transaction mode), log $DIR/pgbouncer.log"; return; }
    sleep 0.1
  done
  echo "pgbouncer did not start; its log:" >&2; cat "$DIR/pgbouncer.log" >&2 || true; exit 1
}

stop() {
  [ -f "$DIR/pgbouncer.pid" ] || return 0
  local pid; pid="$(cat "$DIR/pgbouncer.pid")"
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  rm -f "$DIR/pgbouncer.pid"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
