#!/usr/bin/env bash
# Installs dependencies, builds pgmux, and runs it in the foreground in front
# of an embedded PostgreSQL 15 that lives under ./.pgmux-data (git-ignored):
#
#   scripts/run-dev.sh                  # then: psql -h 127.0.0.1 -p 6432 -U postgres
#   scripts/run-dev.sh --pool-mode session --log-level debug   # extra pgmux flags
#
# PostgreSQL listens on 127.0.0.1:${PGMUX_DEV_PG_PORT:-55432} (superuser postgres,
# trust on loopback); pgmux on 127.0.0.1:6432 with the admin API on
# 127.0.0.1:9930. Ctrl-C stops pgmux and PostgreSQL. SKIP_BUILD=1 skips
# install and build.
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"
source scripts/lib/pg.sh

pg_port="${PGMUX_DEV_PG_PORT:-55432}"
listen="${PGMUX_DEV_LISTEN:-127.0.0.1:6432}"
admin_listen="${PGMUX_DEV_ADMIN:-127.0.0.1:9930}"
build_dir="${BUILD_DIR:-$repo_root/build}"
state_dir="$repo_root/.pgmux-data"
datadir="$state_dir/pg15"

if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
  bash scripts/install-deps.sh
  BUILD_DIR="$build_dir" bash scripts/build.sh
fi

for port in "${listen##*:}" "${admin_listen##*:}"; do
  if port_in_use "$port"; then
    echo "error: port $port is already in use: $(ss -ltnpH "sport = :$port" 2>/dev/null | grep -o 'users:.*' || echo 'by another process')" >&2
    echo "       (a system PgBouncer? stop it with: service pgbouncer stop)" >&2
    exit 1
  fi
done

mkdir -p "$state_dir"
chmod 755 "$state_dir"
check_server_can_reach "$state_dir"
if [[ ! -f "$datadir/PG_VERSION" ]]; then
  echo "run-dev: initdb $datadir" >&2
  pg_create "$datadir"
fi

started_pg=0
pgmux_pid=""
cleanup() {
  trap - EXIT INT TERM
  if [[ -n "$pgmux_pid" ]] && kill -0 "$pgmux_pid" 2>/dev/null; then
    kill -TERM "$pgmux_pid" 2>/dev/null || true
    wait "$pgmux_pid" 2>/dev/null || true
  fi
  if ((started_pg)); then
    echo "run-dev: stopping PostgreSQL" >&2
    pg_stop "$datadir"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if as_server_user "$PG_BIN/pg_ctl" -D "$datadir" status >/dev/null 2>&1; then
  echo "run-dev: PostgreSQL already running in $datadir; reusing it" >&2
else
  if port_in_use "$pg_port"; then
    echo "error: port $pg_port is in use; set PGMUX_DEV_PG_PORT" >&2
    exit 1
  fi
  echo "run-dev: starting PostgreSQL 15 on 127.0.0.1:$pg_port (log: $state_dir/postgres.log)" >&2
  pg_start "$datadir" "$pg_port" "$state_dir/run" "$state_dir/postgres.log" \
    max_connections=200 fsync=off
  started_pg=1
fi

echo "run-dev: pgmux on $listen (admin API on $admin_listen); Ctrl-C stops both" >&2
echo "run-dev: try  psql -h ${listen%:*} -p ${listen##*:} -U postgres" >&2
# Foreground child, so Ctrl-C reaches pgmux directly; the EXIT trap then stops
# PostgreSQL.
set +e
"$build_dir/pgmux" --listen "$listen" --upstream "127.0.0.1:$pg_port" \
  --admin-listen "$admin_listen" "$@" &
pgmux_pid=$!
wait "$pgmux_pid"
status=$?
pgmux_pid=""
exit "$status"
