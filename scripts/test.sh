#!/usr/bin/env bash
# Runs every test: installs dependencies, builds into build/ (RelWithDebInfo,
# Ninja), then runs CTest (unit suites, the pytest integration suites against a
# real PostgreSQL 15, and the regress-diff conformance check).
#
#   scripts/test.sh                      # everything
#   scripts/test.sh -L integration       # extra arguments go to ctest
#   scripts/test.sh -R integration.pooling
#
# BUILD_DIR=/path overrides the build directory; SKIP_DEPS=1 skips install-deps.sh.
# SANITIZE=address (or address,undefined) builds with those sanitizers into
# build-<sanitizers>/ and runs the same tests there: a memory error fails the
# test (pgmux aborts, and the harness reports the crash) instead of passing by luck.
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"
if [[ -n "${SANITIZE:-}" ]]; then
  build_dir="${BUILD_DIR:-$repo_root/build-${SANITIZE//,/-}}"
  export PGMUX_SANITIZE="$SANITIZE"  # tests that measure memory skip that bound
  export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=0}"
  export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:abort_on_error=1:print_stacktrace=1}"
else
  build_dir="${BUILD_DIR:-$repo_root/build}"
fi

if [[ "${SKIP_DEPS:-0}" != 1 ]]; then
  bash scripts/install-deps.sh
fi
BUILD_DIR="$build_dir" bash scripts/build.sh
ctest --test-dir "$build_dir" --output-on-failure -j "${TEST_JOBS:-2}" "$@"
