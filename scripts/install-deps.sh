#!/usr/bin/env bash
# Installs what snowflake-mcp needs on Debian/Ubuntu, or prints the exact
# command when it cannot (not root, or not a Debian system).
#   scripts/install-deps.sh build   # compiler, CMake and the libraries
#   scripts/install-deps.sh test    # + PostgreSQL, clang (fuzzing), Node.js
set -euo pipefail
what=${1:-build}

build_pkgs=(gcc make cmake pkg-config libsqlite3-dev libpq-dev libcurl4-openssl-dev libssl-dev
            libjansson-dev libmicrohttpd-dev zlib1g-dev)
test_pkgs=(postgresql clang clang-format libclang-rt-14-dev openssl sqlite3 curl jq git)

need=()
case "$what" in
  build) want=("${build_pkgs[@]}") ;;
  test) want=("${build_pkgs[@]}" "${test_pkgs[@]}") ;;
  *) echo "usage: $0 build|test" >&2; exit 2 ;;
esac

if [ "$(uname -s)" = Darwin ]; then
  missing=0
  for p in cmake pkg-config sqlite libpq curl openssl@3 jansson libmicrohttpd; do
    brew list --versions "$p" >/dev/null 2>&1 || missing=1
  done
  if [ $missing = 1 ]; then
    echo "Install the dependencies with:" >&2
    echo "  brew install cmake pkg-config sqlite libpq curl openssl@3 jansson libmicrohttpd" >&2
    exit 1
  fi
  exit 0
fi

if ! command -v dpkg-query >/dev/null 2>&1; then
  echo "This script knows Debian/Ubuntu packages only. Install: a C11 compiler, CMake, pkg-config," >&2
  echo "and the development files of sqlite3, libpq, libcurl, OpenSSL, jansson, libmicrohttpd." >&2
  exit 1
fi

for p in "${want[@]}"; do
  st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [ "$st" = "install ok installed" ] || need+=("$p")
done
# Node.js runs the end-to-end test clients; any Node >= 18 will do.
if [ "$what" = test ] && ! command -v node >/dev/null 2>&1; then
  need+=(nodejs npm)
fi

[ ${#need[@]} -eq 0 ] && exit 0

if [ "$(id -u)" = 0 ]; then
  echo "Installing: ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
else
  echo "Missing packages. Install them with:" >&2
  echo "  sudo apt-get update && sudo apt-get install -y ${need[*]}" >&2
  exit 1
fi
