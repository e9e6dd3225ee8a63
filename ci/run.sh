#!/usr/bin/env bash
# CI entry script: installs what the checks need and is not a Rust crate
# (Debian's redis-server and redis-tools: the differential suite compares
# against redis-server, the benchmark drives redis-benchmark), then runs
# `cargo xtask ci` (fmt check, clippy -D warnings, workspace tests, the
# feature matrix of ci/matrix.txt). Everything else lives in xtask.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v redis-server >/dev/null || ! command -v redis-benchmark >/dev/null; then
    if command -v apt-get >/dev/null; then
        sudo=""
        if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq redis-server redis-tools
    else
        echo "ci/run.sh: redis-server/redis-benchmark missing and no apt-get to install them" >&2
    fi
fi

exec cargo xtask ci
