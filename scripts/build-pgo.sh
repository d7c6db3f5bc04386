#!/usr/bin/env bash
# Builds pgmux with GCC's profile-guided optimisation into $BUILD_DIR
# (default build-pgo/, so build-pgo/pgmux): an instrumented build, a training
# run of pgbench through it in front of a throwaway PostgreSQL 15, then the
# build that uses the profile. Takes about twice a normal build. Optional: the
# tests and the README's commands use the plain build/pgmux, and behaviour is
# the same; only the code layout differs. What it buys: docs/benchmarks.md
# (session 11): the hot path then fits the instruction cache far better.
#
#   scripts/build-pgo.sh            # after scripts/install-deps.sh
#   PGMUX_BIN=$PWD/build-pgo/pgmux SKIP_BUILD=1 bench/run.sh
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"
source scripts/lib/pg.sh

build_dir="${BUILD_DIR:-$repo_root/build-pgo}"
profile_dir="$build_dir/profile"
jobs="${BUILD_JOBS:-2}"

# The same build directory for both builds: GCC finds each object's profile
# by the object's path.
configure() {
  cmake -S "$repo_root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DPGMUX_BUILD_TESTS=OFF -DCMAKE_CXX_FLAGS="$1" >/dev/null
}

echo "build-pgo: instrumented build in $build_dir" >&2
rm -rf "$profile_dir"
configure "-fprofile-generate=$profile_dir -fprofile-update=atomic"
cmake --build "$build_dir" -j "$jobs" --target pgmux

work="$(mktemp -d)"
chmod 755 "$work"
check_server_can_reach "$work"
pgmux_pid=""
cleanup() {
  if [[ -n "$pgmux_pid" ]] && kill -0 "$pgmux_pid" 2>/dev/null; then kill -KILL "$pgmux_pid"; fi
  pg_stop "$work/pg"
  rm -rf "$work"
}
trap cleanup EXIT

pg_port="$(free_port)"
mux_port="$(free_port)"
echo "build-pgo: training run (PostgreSQL on $pg_port, pgmux on $mux_port)" >&2
pg_create "$work/pg"
pg_start "$work/pg" "$pg_port" "$work/run" "$work/pg.log" max_connections=100 fsync=off
"$build_dir/pgmux" --listen "127.0.0.1:$mux_port" --upstream "127.0.0.1:$pg_port" \
  --pool-size 8 --log-level warn >"$work/pgmux.log" 2>&1 &
pgmux_pid=$!
wait_for_port 127.0.0.1 "$mux_port" 30
bench() { pgbench -h 127.0.0.1 -p "$mux_port" -U postgres -n "$@" postgres >/dev/null; }
pgbench -h 127.0.0.1 -p "$pg_port" -U postgres -i -q -s 1 postgres >/dev/null
# What the profile should favour: short transactions over every protocol,
# the TPC-B mix, and logins.
for mode in simple extended prepared; do bench -S -M "$mode" -c 8 -j 2 -T 5; done
bench -M simple -c 8 -j 2 -T 3
bench -S -C -c 8 -j 2 -T 3
# SIGINT: pgmux exits through exit(), which writes the profile.
kill -INT "$pgmux_pid"
wait "$pgmux_pid" || true
pgmux_pid=""
if ! compgen -G "$profile_dir/*.gcda" >/dev/null; then
  echo "build-pgo: the training run wrote no profile; see $work/pgmux.log" >&2
  cat "$work/pgmux.log" >&2
  exit 1
fi

echo "build-pgo: optimised build" >&2
# Partial training: code the run never reached is optimised as usual, not
# as if it never ran. Objects without a profile (never loaded) are no error.
configure "-fprofile-use=$profile_dir -fprofile-partial-training -Wno-missing-profile"
cmake --build "$build_dir" -j "$jobs" --target pgmux
echo "build-pgo: $build_dir/pgmux" >&2
