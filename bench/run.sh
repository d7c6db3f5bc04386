#!/usr/bin/env bash
# Benchmark: pgmux vs PgBouncer 1.18 vs direct PostgreSQL 15, in one run.
# Not part of the test suite. See bench/README.md.
#
#   bench/run.sh                         # defaults: 10 s per run, 1/8/64 clients
#   bench/run.sh --duration 5 --clients 8,64 --modes simple,extended
#   DURATION=30 ROUNDS=3 bench/run.sh --json /tmp/bench.json
#
# SKIP_BUILD=1 uses the existing build (BUILD_DIR, default build/); PGMUX_BIN
# points at another binary.
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"
build_dir="${BUILD_DIR:-$repo_root/build}"

if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
  bash scripts/install-deps.sh
  BUILD_DIR="$build_dir" bash scripts/build.sh
fi
export PGMUX_BIN="${PGMUX_BIN:-$build_dir/pgmux}"

# 10,000 idle clients need 10,000 sockets in this process tree and in each
# pooler (which inherit the limit).
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
exec /usr/bin/python3 bench/bench.py "$@"
