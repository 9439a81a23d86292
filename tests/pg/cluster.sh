#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests.
#
#   tests/pg/cluster.sh start     initdb in a temp directory, start on a free
#                                 127.0.0.1 port, load tests/pg/dataset.sql
#   tests/pg/cluster.sh stop      stop it and remove everything
#   tests/pg/cluster.sh restart   pg_ctl restart (fast), waits until it accepts connections
#   tests/pg/cluster.sh halt      stop the server but keep the cluster (for outage tests)
#   tests/pg/cluster.sh resume    start a halted cluster again
#   tests/pg/cluster.sh status    exit 0 when it runs
#   tests/pg/cluster.sh psql ARGS psql as the superuser on the test database
#   tests/pg/cluster.sh dsn       print the DSN snowflake-mcp connects with
#   tests/pg/cluster.sh pgbin     print the directory of the PostgreSQL programs
#
# State lives in $SMCP_PG_STATE (default /tmp/smcp-pg-state): the files dsn,
# port, data (the data directory's path), sock (the socket directory) and
# log. The server runs as the unprivileged `postgres` user when invoked as
# root (initdb refuses root), otherwise as the calling user. Every wait is
# bounded.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
state=${SMCP_PG_STATE:-/tmp/smcp-pg-state}
pgbin=${SMCP_PG_BIN:-}
if [ -z "$pgbin" ]; then
  for d in /usr/lib/postgresql/*/bin /usr/local/opt/postgresql*/bin /opt/homebrew/opt/postgresql*/bin; do
    [ -x "$d/pg_ctl" ] && pgbin=$d
  done
fi
if [ -z "$pgbin" ] && command -v pg_ctl >/dev/null 2>&1; then
  pgbin=$(dirname "$(command -v pg_ctl)")
fi
if [ -z "$pgbin" ] || [ ! -x "$pgbin/pg_ctl" ]; then
  echo "cluster.sh: PostgreSQL server binaries not found (install the postgresql package or set SMCP_PG_BIN)" >&2
  exit 1
fi

as_owner() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

read_state() {
  [ -f "$state/data" ] || { echo "cluster.sh: no cluster at $state (run start)" >&2; exit 1; }
  data=$(cat "$state/data")
  sock=$(cat "$state/sock")
  port=$(cat "$state/port")
}

# A port nothing listens on: connecting to it is refused.
free_port() {
  local p
  for _ in $(seq 1 50); do
    p=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return 0
    fi
  done
  return 1
}

pg_ctl_() {
  as_owner "$pgbin/pg_ctl" -D "$data" -l "$state/log" "$@"
}

superuser_psql() {
  as_owner "$pgbin/psql" -X -q -v ON_ERROR_STOP=1 -h "$sock" -p "$port" -U postgres "$@"
}

start() {
  if [ -f "$state/data" ]; then
    echo "cluster.sh: a cluster already exists at $state; stopping it first" >&2
    stop
  fi
  if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
    useradd --system --home-dir /nonexistent --shell /usr/sbin/nologin postgres
  fi
  mkdir -p "$state"
  chmod 755 "$state"
  local root
  root=$(mktemp -d /tmp/smcp-pg.XXXXXX)
  chmod 755 "$root"
  data=$root/data
  sock=$root/sock
  mkdir -p "$data" "$sock"
  : >"$state/log"
  if [ "$(id -u)" = 0 ]; then
    chown -R postgres "$root" "$state/log"
  fi
  echo "$data" >"$state/data"
  echo "$sock" >"$state/sock"
  echo "$root" >"$state/root"
  as_owner "$pgbin/initdb" -D "$data" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
    -E UTF8 --locale=C.UTF-8 --no-sync >"$state/initdb.log" 2>&1 ||
    { cat "$state/initdb.log" >&2; exit 1; }
  cat >>"$data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
unix_socket_directories = '$sock'
max_connections = 20
superuser_reserved_connections = 3
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 16MB
log_min_messages = warning
EOF
  local ok=0
  for _ in 1 2 3 4 5; do
    port=$(free_port)
    echo "$port" >"$state/port"
    if pg_ctl_ -w -t 30 -o "-p $port" start >/dev/null; then
      ok=1
      break
    fi
    echo "cluster.sh: start on port $port failed; trying another port" >&2
  done
  [ $ok = 1 ] || { cat "$state/log" >&2; exit 1; }
  # The port is in postgresql.conf from now on, so restart keeps it.
  echo "port = $port" >>"$data/postgresql.conf"
  superuser_psql -d postgres -c "CREATE DATABASE smcptest" -c "CREATE DATABASE other"
  superuser_psql -d smcptest -f "$here/dataset.sql" >/dev/null
  echo "postgres://smcp:smcp-secret@127.0.0.1:$port/smcptest" >"$state/dsn"
  chmod 644 "$state/dsn"
  echo "cluster.sh: PostgreSQL running on 127.0.0.1:$port (state in $state)" >&2
}

stop() {
  if [ ! -f "$state/data" ]; then
    return 0
  fi
  read_state
  pg_ctl_ -w -t 30 -m immediate stop >/dev/null 2>&1 || true
  local root
  root=$(cat "$state/root" 2>/dev/null || true)
  case "$root" in
    /tmp/smcp-pg.*) rm -rf "$root" ;;
  esac
  rm -rf "$state"
}

cmd=${1:-}
shift || true
case "$cmd" in
  start) start ;;
  stop) stop ;;
  restart) read_state; pg_ctl_ -w -t 30 -m fast restart >/dev/null ;;
  halt) read_state; pg_ctl_ -w -t 30 -m fast stop >/dev/null ;;
  resume) read_state; pg_ctl_ -w -t 30 start >/dev/null ;;
  status) read_state; as_owner "$pgbin/pg_ctl" -D "$data" status >/dev/null ;;
  psql) read_state; superuser_psql -d smcptest "$@" ;;
  dsn) cat "$state/dsn" ;;
  pgbin) echo "$pgbin" ;;
  *)
    echo "usage: $0 start|stop|restart|halt|resume|status|psql [ARGS]|dsn|pgbin" >&2
    exit 2
    ;;
esac
