#!/usr/bin/env bash
# Configures (once) and builds pgmux with Ninja into $BUILD_DIR (default build/).
# BUILD_TARGETS="pgmux net_test" builds only those targets (default: all).
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="${BUILD_DIR:-$repo_root/build}"
build_type="${BUILD_TYPE:-RelWithDebInfo}"
jobs="${BUILD_JOBS:-2}"

if [[ ! -f "$build_dir/build.ninja" ]]; then
  cmake -S "$repo_root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE="$build_type" \
    -DPGMUX_SANITIZE="${SANITIZE:-}"
fi
# shellcheck disable=SC2086  # a list of target names
cmake --build "$build_dir" -j "$jobs" ${BUILD_TARGETS:+--target $BUILD_TARGETS}
