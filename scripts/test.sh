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
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"
build_dir="${BUILD_DIR:-$repo_root/build}"

if [[ "${SKIP_DEPS:-0}" != 1 ]]; then
  bash scripts/install-deps.sh
fi
BUILD_DIR="$build_dir" bash scripts/build.sh
ctest --test-dir "$build_dir" --output-on-failure -j "${TEST_JOBS:-2}" "$@"
