#!/usr/bin/env bash
# Throwaway Postgres and Redis servers on free loopback ports, for tests, benchmarks and local runs.
#
#   scripts/services.sh postgres start DIR    prints the server's URL; data lives in DIR
#   scripts/services.sh postgres stop|restart|url DIR
#   scripts/services.sh redis start DIR       prints the server's URL
#   scripts/services.sh redis stop|restart|url DIR
#
# A DIR that already holds a server's data is reused (its port and password are kept), so `start`
# after `stop` brings the same data back. Postgres refuses to run as root, so as root it runs through
# `runuser -u postgres`.
set -euo pipefail

die() { echo "services.sh: $*" >&2; exit 1; }

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

pg_bin() {
  local dir
  dir=$(printf "%s\n" /usr/lib/postgresql/*/bin | grep -v "\*" | sort -V | tail -n 1)
  [ -n "$dir" ] || die "no PostgreSQL server binaries under /usr/lib/postgresql (apt-get install postgresql)"
  echo "$dir"
}

as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_url() {
  local dir=$1
  echo "postgres://storefleet:$(cat "$dir/password")@127.0.0.1:$(cat "$dir/port")/storefleet"
}

pg_start() {
  local dir=$1 bin
  bin=$(pg_bin)
  mkdir -p "$dir"
  chmod 755 "$dir"
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    free_port >"$dir/port"
    python3 -c 'import secrets; print(secrets.token_hex(16))' >"$dir/password"
    chmod 644 "$dir/password"
    [ "$(id -u)" = 0 ] && chown -R postgres "$dir"
    as_pg "$bin/initdb" -D "$dir/data" -U storefleet --pwfile="$dir/password" --auth=scram-sha-256 \
      -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
  fi
  # The server must not inherit the caller's stdout: a caller reading it to the end would wait forever.
  as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 start \
    -o "-c listen_addresses=127.0.0.1 -p $(cat "$dir/port") -c unix_socket_directories='$dir' -c max_connections=300 -c shared_buffers=128MB" \
    </dev/null >/dev/null 2>&1 || { tail -n 20 "$dir/postgres.log" >&2; die "postgres did not start"; }
  # The database is created on first start only; later starts find it.
  PGPASSWORD=$(cat "$dir/password") psql -h 127.0.0.1 -p "$(cat "$dir/port")" -U storefleet -d postgres -qAtc \
    "SELECT 1 FROM pg_database WHERE datname = 'storefleet'" | grep -q 1 ||
    PGPASSWORD=$(cat "$dir/password") psql -h 127.0.0.1 -p "$(cat "$dir/port")" -U storefleet -d postgres -qc \
      "CREATE DATABASE storefleet" >/dev/null
  pg_url "$dir"
}

pg_stop() {
  local dir=$1
  [ -f "$dir/data/postmaster.pid" ] || return 0
  as_pg "$(pg_bin)/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null 2>&1 || true
}

pg_restart() {
  local dir=$1
  as_pg "$(pg_bin)/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -m fast -w -t 60 restart \
    -o "-c listen_addresses=127.0.0.1 -p $(cat "$dir/port") -c unix_socket_directories='$dir' -c max_connections=300 -c shared_buffers=128MB" \
    </dev/null >/dev/null 2>&1
}

redis_url() { echo "redis://127.0.0.1:$(cat "$1/port")/0"; }

redis_start() {
  local dir=$1
  mkdir -p "$dir"
  [ -f "$dir/port" ] || free_port >"$dir/port"
  # noeviction: the dispatch lists must never be evicted silently (docs/architecture.md).
  redis-server --bind 127.0.0.1 --port "$(cat "$dir/port")" --dir "$dir" --daemonize yes \
    --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --save "" --appendonly "${REDIS_APPENDONLY:-no}" \
    --maxmemory-policy noeviction </dev/null >/dev/null 2>&1
  for _ in $(seq 1 100); do
    redis-cli -p "$(cat "$dir/port")" ping >/dev/null 2>&1 && { redis_url "$dir"; return 0; }
    sleep 0.05
  done
  die "redis did not start (see $dir/redis.log)"
}

redis_stop() {
  local dir=$1
  [ -f "$dir/port" ] || return 0
  redis-cli -p "$(cat "$dir/port")" shutdown nosave >/dev/null 2>&1 || true
  for _ in $(seq 1 100); do
    redis-cli -p "$(cat "$dir/port")" ping >/dev/null 2>&1 || return 0
    sleep 0.05
  done
}

[ $# -eq 3 ] || die "usage: services.sh postgres|redis start|stop|restart|url DIR"
service=$1 action=$2 dir=$3
case "$service:$action" in
  postgres:start) pg_start "$dir" ;;
  postgres:stop) pg_stop "$dir" ;;
  postgres:restart) pg_restart "$dir" ;;
  postgres:url) pg_url "$dir" ;;
  redis:start) redis_start "$dir" ;;
  redis:stop) redis_stop "$dir" ;;
  redis:restart) redis_stop "$dir"; redis_start "$dir" >/dev/null ;;
  redis:url) redis_url "$dir" ;;
  *) die "unknown command: $service $action" ;;
esac
