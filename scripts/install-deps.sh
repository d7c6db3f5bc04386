#!/usr/bin/env bash
# Installs everything pgmux needs to build, test and benchmark on Debian 12,
# from Debian's packages and (for the Node.js test drivers) npm.
#
# Idempotent and fast on a repeat run: apt is skipped entirely when every
# package is already installed, npm when node_modules matches the lock file.
# Works as root without sudo, with CI=true and no stdin.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export DEBIAN_FRONTEND=noninteractive

packages=(
  # build
  build-essential cmake ninja-build g++ pkg-config git clang-format
  libboost1.81-dev libpg-query-dev libssl-dev nlohmann-json3-dev
  libtomlplusplus-dev libgtest-dev libgmock-dev
  # servers and clients the tests and the benchmark drive
  postgresql-15 postgresql-client-15 pgbouncer
  python3 python3-pytest python3-pytest-timeout python3-psycopg python3-asyncpg
  libpostgresql-jdbc-java nodejs prometheus php-cli php-pgsql ruby ruby-pg
  # tools the scripts use
  curl openssl procps iproute2 util-linux ca-certificates
)
# A machine may already carry a Node.js or a JDK from elsewhere (nodesource's
# nodejs bundles npm and conflicts with Debian's npm package): install the
# Debian package only when the command is missing.
command -v npm >/dev/null 2>&1 || packages+=(npm)
command -v javac >/dev/null 2>&1 || packages+=(default-jdk-headless)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}" >&2
  sudo_cmd=()
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null 2>&1 || { echo "install-deps: need root or sudo" >&2; exit 1; }
    sudo_cmd=(sudo -E)
  fi
  "${sudo_cmd[@]}" apt-get update -q
  "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null
  # Debian starts a system PgBouncer on localhost:6432 right after installing
  # it, the port pgmux's dev setup uses; pgmux's scripts run their own
  # PgBouncer, so stop the one this install just started.
  if [[ " ${missing[*]} " == *" pgbouncer "* ]] && command -v service >/dev/null 2>&1; then
    "${sudo_cmd[@]}" service pgbouncer stop >/dev/null 2>&1 || true
  fi
else
  echo "install-deps: all Debian packages present" >&2
fi

# Node.js drivers for the integration tests (pg and postgres), pinned by the
# committed package-lock.json. Reinstall only when the lock file changed.
node_dir="$repo_root/tests/integration/node"
if [[ -f "$node_dir/package.json" ]]; then
  stamp="$node_dir/node_modules/.package-lock.json"
  if [[ ! -f "$stamp" || "$node_dir/package-lock.json" -nt "$stamp" ]]; then
    echo "install-deps: npm ci in tests/integration/node" >&2
    (cd "$node_dir" && npm ci --no-audit --no-fund --loglevel=error </dev/null)
  else
    echo "install-deps: node drivers present" >&2
  fi
fi
