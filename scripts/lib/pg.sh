# Shell helpers shared by scripts/run-dev.sh, scripts/build-pgo.sh and bench/run.sh: a throwaway
# PostgreSQL 15 cluster on loopback. Source it; it defines functions only.
#
# initdb, postgres and pgbouncer refuse to run as root, so when the caller is
# root they run as the `postgres` system user (created by postgresql-common)
# and the directories they write are handed to it.

PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"

# Runs a command as the user that owns server processes.
as_server_user() {
  if [[ $(id -u) -eq 0 ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

# Makes a directory the server user can write to.
make_server_dir() {
  mkdir -p "$1"
  if [[ $(id -u) -eq 0 ]]; then
    chown postgres:postgres "$1"
  fi
  chmod 700 "$1"
}

# Fails with a clear message when the server user cannot reach a path (a repo
# checked out under a private home directory, for example).
check_server_can_reach() {
  if [[ $(id -u) -eq 0 ]] && ! runuser -u postgres -- test -x "$1"; then
    echo "error: the postgres user cannot reach $1 (a parent directory is not world-executable)." >&2
    echo "       chmod o+x the parent directories, or move the checkout." >&2
    return 1
  fi
}

# pg_create DATADIR: initdb with trust on loopback, superuser `postgres`.
pg_create() {
  local datadir="$1"
  make_server_dir "$datadir"
  as_server_user "$PG_BIN/initdb" -D "$datadir" -U postgres --auth=trust \
    --encoding=UTF8 --locale=C.UTF-8 >/dev/null
}

# pg_start DATADIR PORT SOCKETDIR LOGFILE [extra postgres -c settings...]
pg_start() {
  local datadir="$1" port="$2" sockdir="$3" logfile="$4"
  shift 4
  local opts="-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$sockdir"
  local setting
  for setting in "$@"; do opts+=" -c $setting"; done
  make_server_dir "$sockdir"
  touch "$logfile"
  if [[ $(id -u) -eq 0 ]]; then chown postgres:postgres "$logfile"; fi
  as_server_user "$PG_BIN/pg_ctl" -D "$datadir" -l "$logfile" -w -t 60 -o "$opts" start >/dev/null
}

# pg_stop DATADIR: fast shutdown (rolls back open transactions), quiet when not running.
pg_stop() {
  as_server_user "$PG_BIN/pg_ctl" -D "$1" -m fast -w -t 60 stop >/dev/null 2>&1 || true
}

# wait_for_port HOST PORT SECONDS: until something accepts TCP connections.
wait_for_port() {
  local host="$1" port="$2" deadline=$((SECONDS + $3))
  until (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; do
    if ((SECONDS >= deadline)); then return 1; fi
    sleep 0.1
  done
}

# free_port: a TCP port on 127.0.0.1 that nothing listens on now.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# port_in_use PORT: true when something listens on 127.0.0.1:PORT.
port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}
