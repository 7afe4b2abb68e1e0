#!/usr/bin/env bash
# Sets up a fresh Debian 12 host, builds vaultwall and runs every test with
# ctest. Unit tests need nothing; BPF and end-to-end tests need root (they
# are skipped, and say so, without it).
#   scripts/test.sh [ctest arguments...]   e.g. scripts/test.sh -L unit
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -eq 0 ]; then
	scripts/setup.sh
fi
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j "$(nproc)"
cd build
# Commands under test journal their changes here, not in the host's
# /var/lib/vaultwall (tests that check the journal set their own file).
export VAULTWALL_JOURNAL=$PWD/test-journal/journal.jsonl
# Script tests run alone (RUN_SERIAL), gtest cases side by side.
exec ctest --output-on-failure --timeout 600 -j "$(nproc)" "$@"
